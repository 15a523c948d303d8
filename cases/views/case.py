"""The case page and its sections. Each section is a URL of its own that the page loads with
htmx; requested without htmx it is a page of its own, so everything works without JS."""

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cases.models import Case
from cases.selectors import (
    case_accounts_table_rows,
    case_for_accounts,
    case_for_page,
    case_timeline,
)
from cases.services.workflow import allowed_transitions
from cases.summary import case_signals, case_summary
from cases.tables import CaseAccountTable, paginate
from cases.views.common import get_case_for_user
from common.htmx import is_fragment, vary_on_fragment

SECTION_PAGE = "cases/case_section.html"
ACTION_LABELS = {
    Case.Status.TRIAGE: "Move to Triage",
    Case.Status.INVESTIGATING: "Move to Investigating",
    Case.Status.DISMISSED: "Dismiss",
}
TIMELINE_PAGE_SIZE = 50


def _section(request: HttpRequest, case: Case, name: str, title: str, context: dict):
    """The section's fragment for htmx, or the section on a page of its own."""
    context = {"case": case, "section_title": title, **context}
    template = f"cases/_partials/case_{name}.html"
    if is_fragment(request):
        return render(request, template, context)
    return render(request, SECTION_PAGE, {**context, "section_template": template})


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The case page; for htmx, its header (refreshed after each change)."""
    try:
        case = case_for_page(request.user, pk)
    except Case.DoesNotExist:
        raise Http404("No such case") from None
    can_work = request.user.has_perm("cases.work_case")
    context = {
        "case": case,
        "can_work": can_work,
        "transitions": [
            (s, ACTION_LABELS.get(s, Case.Status(s).label))
            for s in allowed_transitions(case, request.user)
        ]
        if can_work
        else [],
        "can_merge": can_work and case.merged_into_id is None and case.has_mergeable,
        "tags": case.tag_names,
    }
    template = "cases/case_detail.html"
    if is_fragment(request):
        template += "#header"
    else:
        context["summary"] = case_summary(case)
    return render(request, template, context)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_summary_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The summary card: the case in plain language, from the figures the sections show."""
    case = get_case_for_user(request, pk, related=("campaign",))
    return _section(request, case, "summary", "Summary", {"summary": case_summary(case)})


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_why(request: HttpRequest, pk: int) -> HttpResponse:
    """Why flagged: the detection explanation, signal by signal, against norms."""
    case = get_case_for_user(request, pk, related=())
    explanation = case.explanation if isinstance(case.explanation, dict) else {}
    signals = case_signals(case)
    top = max((abs(s.contribution) for s in signals), default=1.0) or 1.0
    return _section(
        request,
        case,
        "why",
        "Why flagged",
        {"summary": explanation.get("summary") or "", "signals": signals, "top": top},
    )


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_accounts(request: HttpRequest, pk: int) -> HttpResponse:
    """The accounts on the case (or, with ``?removed=1``, those taken off it)."""
    try:
        case = case_for_accounts(request.user, pk)
    except Case.DoesNotExist:
        raise Http404("No such case") from None
    removed = request.GET.get("removed") == "1"
    can_work = request.user.has_perm("cases.work_case")
    table = CaseAccountTable(
        case_accounts_table_rows(case, removed=removed),
        exclude=() if can_work and not removed else ("actions",),
    )
    paginate(request, table, per_page=25)
    table.hx_target = "#case-accounts"
    table.push_url = False
    table.base_url = reverse("cases:case_accounts", args=[case.pk])
    return _section(
        request,
        case,
        "accounts",
        "Accounts",
        {
            "table": table,
            "removed": removed,
            "removed_count": case.removed_account_count,
            "lookalike_count": case.lookalike_count,
            "can_work": can_work,
        },
    )


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_timeline_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Every audit event of the case (and of cases merged into it), newest first."""
    case = get_case_for_user(request, pk, related=())
    try:
        limit = max(TIMELINE_PAGE_SIZE, min(int(request.GET.get("limit", 0)), 2000))
    except ValueError:
        limit = TIMELINE_PAGE_SIZE
    events = list(case_timeline(case)[: limit + 1])
    return _section(
        request,
        case,
        "timeline",
        "Timeline",
        {
            "events": events[:limit],
            "more": len(events) > limit,
            "next_limit": limit + TIMELINE_PAGE_SIZE * 4,
        },
    )
