from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from cases.selectors import cases_visible_to


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(
        cases_visible_to(request.user).select_related("assignee", "campaign"), pk=pk
    )
    return render(request, "cases/case_detail.html", {"case": case})
