"""Evidence snapshots: request one, collect it in a task, retry a failed one.

A snapshot's life: ``evidence_snapshot_request`` adds a pending row and, after commit,
enqueues ``evidence_snapshot_task`` (``cases.evidence.tasks``) by its registered name; the
task calls ``evidence_snapshot_collect``, which claims the row with a compare-and-set
``UPDATE`` (pending → running, or a running row whose worker died long ago), runs every
configured source, draws the charts, and writes the items and ``done`` in one transaction,
again guarded by the row still being ours. Two tasks for one snapshot therefore never both
collect, and a crash at any point leaves a row that is either untouched, retryable or done.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from cases import audit
from cases.evidence.figures import (
    build_figures,
    cached_of,
    figures_current,
    figures_size,
    figures_stored,
)
from cases.evidence.models import Evidence, EvidenceSnapshot
from cases.evidence.sources import CaseAccounts, TransientSourceError, Window, load_sources
from cases.models import Case, CaseAccount
from common.tasks import enqueue_on_commit
from detection.models import Exchange

log = logging.getLogger(__name__)
S = EvidenceSnapshot.Status

# Errors worth another try: the database went away or timed out, or a source said so.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, TransientSourceError)
ERROR_CHARS = 2000
# The task that adapts ``evidence_snapshot_collect``, by its registered name (``common.tasks``).
COLLECT_TASK = "cases.tasks.evidence_snapshot_task"


class TransientEvidenceError(Exception):
    """Collection hit a transient error and released the snapshot for another try."""


def stale_after() -> timedelta:
    """A running snapshot untouched this long is taken to have lost its worker."""
    return timedelta(minutes=int(getattr(settings, "EVIDENCE_STALE_MINUTES", 30)))


@transaction.atomic
def evidence_snapshot_request(*, case: Case, requested_by=None, reason: str) -> EvidenceSnapshot:
    """Ask for a fresh snapshot of ``case``; the task runs after this transaction commits.

    A snapshot still waiting to start already covers whatever changed since it was asked
    for (collection reads the case when it starts), so a second request returns that one
    instead of queueing a duplicate.
    """
    actor = requested_by if requested_by is not None and requested_by.is_authenticated else None
    waiting = (
        EvidenceSnapshot.objects.select_for_update()
        .filter(case=case, status=S.PENDING, attempts=0)
        .order_by("-created_at")
        .first()
    )
    if waiting is not None:
        return waiting
    snapshot = EvidenceSnapshot.objects.create(
        case=case,
        requested_by=actor,
        reason=(reason or "")[:64],
        detection_run_id=case.last_run_id,
    )
    if actor is not None:
        audit.record(
            "evidence.requested", actor=actor, case=case, target=snapshot, data={"reason": reason}
        )
    enqueue_on_commit(COLLECT_TASK, snapshot.pk)
    return snapshot


@transaction.atomic
def evidence_snapshot_retry(*, snapshot: EvidenceSnapshot, by) -> EvidenceSnapshot:
    """Put a failed (or long-stalled) snapshot back in the queue."""
    if not by.has_perm("cases.work_case"):
        raise PermissionDenied("your role cannot refresh evidence")
    stale = timezone.now() - stale_after()
    reset = EvidenceSnapshot.objects.filter(
        Q(status=S.FAILED) | Q(status=S.RUNNING, started_at__lt=stale), pk=snapshot.pk
    ).update(status=S.PENDING, progress=0, stage="queued for retry", error="")
    if not reset:
        raise ValidationError("only a failed or stalled snapshot can be retried")
    audit.record("evidence.retried", actor=by, case=snapshot.case, target=snapshot)
    enqueue_on_commit(COLLECT_TASK, snapshot.pk)
    snapshot.refresh_from_db()
    return snapshot


def _claim(snapshot_id: int) -> str | None:
    """Take the snapshot for this task: a token every later write must present."""
    now = timezone.now()
    token = str(uuid.uuid4())
    claimed = EvidenceSnapshot.objects.filter(
        Q(status=S.PENDING) | Q(status=S.RUNNING, started_at__lt=now - stale_after()),
        pk=snapshot_id,
    ).update(
        status=S.RUNNING,
        claim=token,
        started_at=now,
        progress=2,
        stage="starting",
        error="",
        attempts=F("attempts") + 1,
    )
    return token if claimed else None


def _ours(snapshot_id: int, token: str):
    return EvidenceSnapshot.objects.filter(pk=snapshot_id, status=S.RUNNING, claim=token)


def _report(snapshot_id: int, token: str, progress: int, stage: str, **fields) -> None:
    # Outside any transaction so the polling page sees it; started_at doubles as a heartbeat.
    _ours(snapshot_id, token).update(
        progress=progress, stage=stage[:64], started_at=timezone.now(), **fields
    )


def case_accounts_for(case: Case) -> CaseAccounts:
    rows = list(
        CaseAccount.objects.filter(case=case, removed_at__isnull=True)
        .order_by("account_id")
        .values_list("account_id", "account__account_id")
    )
    return CaseAccounts(
        case_id=case.pk,
        pks=[pk for pk, _ in rows],
        account_ids=[aid for _, aid in rows],
        campaign_label=case.campaign.label if case.campaign_id else "",
        detection_run_id=case.last_run_id,
    )


def window_for(case: Case, accounts: CaseAccounts) -> Window:
    """The detection run's window when it has one, else the last days of the accounts' traffic."""
    run = case.last_run
    if run is not None and run.window_start and run.window_end:
        return Window(run.window_start, run.window_end)
    days = int(getattr(settings, "EVIDENCE_WINDOW_DAYS", 30))
    # Quarantined (future-dated) exchanges would move the window past all real traffic.
    last = (
        Exchange.objects.plausible().filter(account_id__in=accounts.pks).aggregate(t=Max("ts"))["t"]
    )
    end = (last + timedelta(seconds=1)) if last else timezone.now()
    return Window(end - timedelta(days=days), end)


def _check_sections(name: str, sections) -> dict[str, dict]:
    if not isinstance(sections, dict):
        raise TypeError(f"evidence source {name!r} returned {type(sections).__name__}, not a dict")
    for kind, data in sections.items():
        if not isinstance(kind, str) or not kind or len(kind) > 32:
            raise TypeError(f"evidence source {name!r}: kind {kind!r} must be 1-32 characters")
        try:
            orjson.dumps(data)
        except TypeError as exc:
            raise TypeError(f"evidence source {name!r}, {kind!r}: not JSON: {exc}") from exc
    return sections


def evidence_snapshot_collect(snapshot_id: int, *, final_attempt: bool = True) -> str:
    """Collect one snapshot. Returns its final status, or "skipped" if it was not ours.

    A transient error releases the snapshot back to pending and raises
    ``TransientEvidenceError`` for the task to retry, unless this is the final attempt, in
    which case (as for any other error) the snapshot is marked failed with the error.
    """
    token = _claim(snapshot_id)
    if token is None:
        return "skipped"
    try:
        snapshot = EvidenceSnapshot.objects.select_related("case__campaign", "case__last_run").get(
            pk=snapshot_id
        )
        return _collect(snapshot, token)
    except TRANSIENT_ERRORS as exc:
        message = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
        if not final_attempt:
            log.warning("evidence snapshot %s: transient error, will retry: %s", snapshot_id, exc)
            _ours(snapshot_id, token).update(
                status=S.PENDING, stage="retrying after a temporary error", error=message
            )
            raise TransientEvidenceError(message) from exc
        _fail(snapshot_id, token, message)
        return S.FAILED
    except Exception as exc:
        log.exception("evidence snapshot %s failed", snapshot_id)
        _fail(snapshot_id, token, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
        return S.FAILED


def _fail(snapshot_id: int, token: str, message: str) -> None:
    _ours(snapshot_id, token).update(
        status=S.FAILED, error=message, stage="failed", finished_at=timezone.now()
    )


def _collect(snapshot: EvidenceSnapshot, token: str) -> str:
    case = snapshot.case
    accounts = case_accounts_for(case)
    window = window_for(case, accounts)
    sources = load_sources()
    _report(
        snapshot.pk,
        token,
        5,
        "reading the case",
        window_start=window.start,
        window_end=window.end,
        account_count=len(accounts),
        detection_run_id=snapshot.detection_run_id or case.last_run_id,
    )
    collected: list[tuple[str, str, dict]] = []
    for i, source in enumerate(sources):
        _report(
            snapshot.pk, token, 5 + int(70 * i / len(sources)), f"collecting from {source.name}"
        )
        sections = _check_sections(source.name, source.collect(accounts, window))
        collected += [(source.name, kind, data) for kind, data in sections.items()]
    _report(snapshot.pk, token, 80, "drawing charts")
    first_by_kind: dict[str, dict] = {}
    for _, kind, data in collected:
        first_by_kind.setdefault(kind, data)
    figures = build_figures(first_by_kind)
    _report(snapshot.pk, token, 95, "saving")
    drawn: set[str] = set()
    items = []
    for name, kind, data in collected:
        item_figures = figures_stored(figures.get(kind, {}) if kind not in drawn else {})
        drawn.add(kind)
        items.append(
            Evidence(snapshot=snapshot, source=name, kind=kind, data=data, figures=item_figures)
        )
    with transaction.atomic():
        finished = _ours(snapshot.pk, token).update(
            status=S.DONE,
            progress=100,
            stage="done",
            error="",
            sources=[s.name for s in sources],
            figures_bytes=figures_size(figures),
            finished_at=timezone.now(),
        )
        if not finished:  # taken over (we stalled past the stale limit): theirs now
            transaction.set_rollback(True)
            return "skipped"
        Evidence.objects.bulk_create(items)
    return S.DONE


# The source whose sections the Charts section draws (cases.evidence.sources).
CHART_SOURCE = "telemetry"


def evidence_figures(snapshot: EvidenceSnapshot) -> dict[str, tuple[str, dict]]:
    """A finished snapshot's charts, ``{chart name: (evidence kind, figure JSON)}``, and
    the network's table under ``NETWORK_TABLE`` (``cases.evidence.figures``).

    Figures cached in the current format are read as they are. If any row's are older
    (drawn before a change in how figures are built), every chart of the snapshot is drawn
    again from its frozen data and the cache replaced: the rows' ``data``, the record an
    approver relies on, is never touched; only ``figures``, which this code derives from it,
    is written, with a queryset update because ``Evidence.save`` refuses any change. Drawing
    is deterministic, so two pages rebuilding at once write the same thing.
    """
    rows = list(
        Evidence.objects.filter(snapshot=snapshot, source=CHART_SOURCE).values_list(
            "pk", "kind", "figures"
        )
    )
    if all(figures_current(stored) for _, _, stored in rows):
        return {
            name: (kind, fig) for _, kind, stored in rows for name, fig in cached_of(stored).items()
        }
    sections = dict(
        Evidence.objects.filter(snapshot=snapshot, source=CHART_SOURCE).values_list("kind", "data")
    )
    fresh = build_figures(sections)
    with transaction.atomic():
        for pk, kind, _ in rows:
            Evidence.objects.filter(pk=pk).update(figures=figures_stored(fresh.get(kind, {})))
        EvidenceSnapshot.objects.filter(pk=snapshot.pk).update(figures_bytes=figures_size(fresh))
    log.info("evidence snapshot %s: charts drawn again in the current format", snapshot.pk)
    return {name: (kind, fig) for kind, charts in fresh.items() for name, fig in charts.items()}
