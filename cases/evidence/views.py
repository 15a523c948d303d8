"""The Evidence and Charts sections of the case page, snapshot progress, refresh and retry,
and the audited full-prompt view.

Each fragment URL authorises exactly as the case page does (``cases_visible_to``); without
htmx each GET is a page of its own, so older snapshots have shareable links.
"""

from __future__ import annotations

import contextlib
import json

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from cases import audit
from cases.evidence.figures import CHARTS, NETWORK_TABLE, NetworkTable
from cases.evidence.models import Evidence, EvidenceSnapshot
from cases.evidence.services import (
    evidence_figures,
    evidence_snapshot_request,
    evidence_snapshot_retry,
    stale_after,
)
from cases.models import Case, CaseAccount
from cases.selectors import cases_visible_to
from common.htmx import is_fragment, vary_on_fragment
from detection.models import Exchange

EVIDENCE_PAGE = "cases/evidence/page.html"
BODY = "cases/evidence/_partials/body.html"
CHARTS_BODY = "cases/evidence/_partials/charts.html"
PROGRESS = "cases/evidence/_partials/progress.html"
BUILTIN_KINDS = ("signals", "templates", "traffic", "infrastructure", "registrations", "accounts")
HISTORY = 20
CUSTOM_CHARS = 5000
# Keys of evidence data that hold ISO timestamps, shown as dates on the page.
TIME_KEYS = {
    "first",
    "last",
    "ts",
    "start",
    "end",
    "first_use",
    "first_seen_anywhere",
    "changed_at",
}


def _get_case_for_user(request: HttpRequest, pk: int) -> Case:
    """The case if this user may see it, else 404: what ``cases.views.common`` does for the
    case views, here on the selector itself so evidence needs nothing from the views above
    it (the accounts service, below them, asks evidence for snapshots)."""
    return get_object_or_404(
        cases_visible_to(request.user).select_related("assignee", "campaign"), pk=pk
    )


def _with_times(value):
    """A copy of section data with its ISO timestamps parsed, for the date filter."""
    if isinstance(value, dict):
        return {
            k: (parse_datetime(v) or v) if k in TIME_KEYS and isinstance(v, str) else _with_times(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_with_times(v) for v in value]
    return value


def _snapshot_or_latest(request: HttpRequest, case: Case, *, done_only: bool):
    """The snapshot named by ``?snapshot=`` (404 if not this case's), else the latest."""
    snapshots = EvidenceSnapshot.objects.filter(case=case).select_related("requested_by")
    wanted = request.GET.get("snapshot", "")
    if wanted:
        if not wanted.isdigit():
            raise Http404("No such snapshot")
        return get_object_or_404(snapshots, pk=int(wanted)), True
    if done_only:
        return snapshots.done().first(), False
    return snapshots.first(), False


def _progress_context(case: Case, snapshot: EvidenceSnapshot) -> dict:
    stalled = (
        snapshot.status == EvidenceSnapshot.Status.RUNNING
        and snapshot.started_at is not None
        and snapshot.started_at < timezone.now() - stale_after()
    )
    return {"case": case, "snapshot": snapshot, "stalled": stalled}


def _body_context(request: HttpRequest, case: Case) -> dict:
    latest, pinned = _snapshot_or_latest(request, case, done_only=False)
    shown = latest
    if latest is not None and latest.status != EvidenceSnapshot.Status.DONE and not pinned:
        # While a new snapshot runs (or after it failed) keep showing the last good one.
        shown = EvidenceSnapshot.objects.filter(case=case).done().first()
    sections, custom = {}, []
    if shown is not None and shown.status == EvidenceSnapshot.Status.DONE:
        items = Evidence.objects.filter(snapshot=shown).exclude(kind="network").defer("figures")
        for item in items:
            if item.source == "telemetry" and item.kind in BUILTIN_KINDS:
                sections[item.kind] = _with_times(item.data)
            else:
                item.pretty = json.dumps(item.data, indent=2, ensure_ascii=False)[:CUSTOM_CHARS]
                custom.append(item)
    history = list(
        EvidenceSnapshot.objects.filter(case=case).select_related("requested_by")[:HISTORY]
    )
    return {
        "case": case,
        "latest": latest,
        "shown": shown,
        "pinned": pinned,
        "sections": sections,
        "custom": custom,
        "history": history,
        "can_work": request.user.has_perm("cases.work_case"),
        "can_view_prompts": request.user.has_perm("cases.view_prompt_text"),
        **(_progress_context(case, latest) if latest is not None else {}),
        "snapshot": latest,
    }


def _charts_context(request: HttpRequest, case: Case) -> dict:
    snapshot, pinned = _snapshot_or_latest(request, case, done_only=True)
    charts = []
    if snapshot is not None and snapshot.status == EvidenceSnapshot.Status.DONE:
        figures = evidence_figures(snapshot)
        for chart in CHARTS:
            if chart.name in figures:
                fig = figures[chart.name][1]
                charts.append(
                    {
                        "name": chart.name,
                        "title": chart.title,
                        "figure": fig,
                        "caption": ((fig.get("layout") or {}).get("meta") or {}).get("caption", ""),
                        "dom_id": f"fig-{snapshot.pk}-{chart.name}",
                    }
                )
    network = None
    if any(chart["name"] == "network" for chart in charts):
        table = figures.get(NETWORK_TABLE, ("network", {}))[1]
        network = NetworkTable(table.get("rows") or [], int(table.get("total") or 0))
    return {
        "case": case,
        "chart_snapshot": snapshot,
        "charts": charts,
        "pinned": pinned,
        "network_table": network,
    }


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """The evidence of the latest (or a chosen) snapshot; for htmx the section's body."""
    case = _get_case_for_user(request, pk)
    context = _body_context(request, case)
    if is_fragment(request):
        return render(request, BODY, context)
    return render(request, EVIDENCE_PAGE, {**context, **_charts_context(request, case)})


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_charts(request: HttpRequest, pk: int) -> HttpResponse:
    """The cached charts of the latest finished (or a chosen) snapshot."""
    case = _get_case_for_user(request, pk)
    context = _charts_context(request, case)
    if is_fragment(request):
        return render(request, CHARTS_BODY, context)
    return render(request, EVIDENCE_PAGE, {**_body_context(request, case), **context})


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def snapshot_status(request: HttpRequest, pk: int, snapshot_pk: int) -> HttpResponse:
    """Polled every 2 s while a snapshot runs; once it finishes, tells the page to reload."""
    case = _get_case_for_user(request, pk)
    snapshot = get_object_or_404(EvidenceSnapshot.objects.filter(case=case), pk=snapshot_pk)
    response = render(request, PROGRESS, _progress_context(case, snapshot))
    if snapshot.is_finished:
        trigger_client_event(response, "evidenceChanged")
    return response


def _after_action(request: HttpRequest, case: Case) -> HttpResponse:
    """htmx: 204 and "evidenceChanged" (both sections reload); otherwise back to the case."""
    if not is_fragment(request):
        return redirect(reverse("cases:case_detail", args=[case.pk]) + "#case-evidence")
    return trigger_client_event(HttpResponse(status=204), "evidenceChanged")


@require_POST
@permission_required("cases.work_case", raise_exception=True)
def evidence_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """Pull a new snapshot; the old ones stay."""
    case = _get_case_for_user(request, pk)
    evidence_snapshot_request(case=case, requested_by=request.user, reason="refresh")
    return _after_action(request, case)


@require_POST
@permission_required("cases.work_case", raise_exception=True)
def evidence_retry(request: HttpRequest, pk: int, snapshot_pk: int) -> HttpResponse:
    case = _get_case_for_user(request, pk)
    snapshot = get_object_or_404(EvidenceSnapshot.objects.filter(case=case), pk=snapshot_pk)
    # Already retried or running: the reloaded section shows where it is.
    with contextlib.suppress(ValidationError):
        evidence_snapshot_retry(snapshot=snapshot, by=request.user)
    return _after_action(request, case)


@require_http_methods(["GET", "POST"])
@permission_required("cases.view_prompt_text", raise_exception=True)
def prompt_text(request: HttpRequest, pk: int, exchange_pk: int) -> HttpResponse:
    """One exchange's full prompt, for an account on this case; each view is audited.

    Reading is a write (the audit event), so the text is shown in answer to a POST with its
    CSRF token: a link, an image or a prefetch from another site can neither record a view
    in someone's name nor make the console serve the text. A GET shows the button that
    does (the "Full text" link posts directly with htmx, and is that page without it)."""
    case = _get_case_for_user(request, pk)
    on_case = CaseAccount.objects.filter(case=case).values("account_id")
    exchange = get_object_or_404(
        Exchange.objects.filter(account_id__in=on_case).select_related("account"), pk=exchange_pk
    )
    context = {"case": case, "exchange": exchange, "revealed": request.method == "POST"}
    if request.method == "POST":
        with transaction.atomic():
            audit.record(
                "prompt.viewed",
                actor=request.user,
                case=case,
                target=exchange,
                data={
                    "exchange_id": exchange.exchange_id,
                    "account_id": exchange.account.account_id,
                },
            )
    if is_fragment(request):
        return render(request, "cases/evidence/_partials/prompt.html", context)
    return render(request, "cases/evidence/prompt_page.html", context)
