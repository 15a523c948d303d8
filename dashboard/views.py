from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.models import Case
from cases.selectors import cases_visible_to
from detection.models import Account, DetectionRun, Exchange


@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    cases = cases_visible_to(request.user)
    context = {
        "can_view": request.user.has_perm("cases.view_case"),
        "open_cases": cases.open().count(),
        "unassigned": cases.open().unassigned().count(),
        "overdue": cases.overdue().count(),
        "pending_approval": cases.filter(status=Case.Status.PENDING_APPROVAL).count(),
        "accounts": Account.objects.count(),
        "exchanges": Exchange.objects.count(),
        "latest_run": DetectionRun.objects.select_related("config").first(),
    }
    return render(request, "dashboard/overview.html", context)
