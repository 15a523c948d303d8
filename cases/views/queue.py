from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.selectors import cases_visible_to


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_queue(request: HttpRequest) -> HttpResponse:
    cases = cases_visible_to(request.user).select_related("assignee", "campaign")[:50]
    return render(request, "cases/case_queue.html", {"cases": cases})
