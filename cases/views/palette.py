"""The command palette's results: a fragment for the Ctrl-K dialog, a page without JS."""

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.palette import palette_items
from cases.selectors import cases_visible_to
from common.htmx import is_fragment, vary_on_fragment


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def palette(request: HttpRequest) -> HttpResponse:
    term = request.GET.get("q", "")
    # The page the palette was opened on, when it is a case the user may see: its actions.
    case_id = request.GET.get("case", "")
    case = None
    if case_id.isdigit() and len(case_id) < 18:
        case = cases_visible_to(request.user).filter(pk=int(case_id)).first()
    # The list names the text it answers, normalised as app.js compares it.
    term = " ".join(term.split())[:255]
    context = {"term": term, "items": palette_items(request.user, term, case)}
    template = "cases/palette.html" + ("#results" if is_fragment(request) else "")
    return render(request, template, context)
