"""Exports for managers: the queue's current filter as CSV or XLSX, one case as a PDF report.

Every export writes an ``export.created`` audit event (who, what format, which filter or
case, how many rows). A CSV streams whatever its size; a spreadsheet of more than
``EXPORT_SYNC_MAX_ROWS`` rows is built by ``cases.tasks.export_build_task`` into a file the
owner downloads from the export's page when it is ready (the row carries its progress).
The task claims its row with a compare-and-set ``UPDATE``, so a redelivered task does
nothing, and a failed build leaves the row ``failed`` with the reason. Built files are
deleted ``EXPORT_RETENTION_DAYS`` after they were written (daily, ``prune_exports_task``);
the row and its audit event stay, and the page says the file expired.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import QueryDict
from django.utils import timezone
from django.utils.text import capfirst

from cases import audit
from cases.exports import CaseSummary, report, summaries
from cases.exports.spreadsheets import write_xlsx
from cases.filters import CaseFilter
from cases.models import Case, CaseAccount, EnforcementAction, Export, Note
from cases.selectors import cases_for_queue
from cases.templatetags.cases_extras import (
    describe_event,
    event_reason,
    in_words,
    note_plain_text,
    signal_meaning,
)
from common import spreadsheets as sheets
from common.tasks import enqueue_on_commit
from detection.config import signal_label
from detection.retention import old_files_prune

log = logging.getLogger(__name__)
# The task that adapts ``export_build``, by its registered name (see ``common.tasks``).
BUILD_TASK = "cases.tasks.export_build_task"
A = EnforcementAction.Status
# Actions whose decider approved them (later delivery or reversal does not change that).
APPROVED_STATUSES = [A.APPROVED, A.EXECUTED, A.FAILED, A.REVERSED]
# Query-string keys that never change what is exported.
IGNORED_KEYS = {"page", "per_page", "after", "before"}  # after, before: cases/paging.py
# An identical request within this time reuses the export already queued or built.
REUSE_WITHIN = timedelta(minutes=5)
STALE_AFTER = timedelta(hours=1)
# The names export_build gives its files (``<token>.<format>``, ``<token>.part`` meanwhile).
EXPORT_NAMES = "????????-????-????-????-????????????.*"


def sync_max_rows() -> int:
    """Spreadsheets up to this many rows are sent straight back; longer ones run as a task."""
    return int(getattr(settings, "EXPORT_SYNC_MAX_ROWS", 5000))


class ExportFilterError(ValueError):
    """The queue filter in the request is invalid; nothing was exported."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def with_export_fields(cases: QuerySet[Case]) -> QuerySet[Case]:
    """Join and annotate what a summary row shows, in the one query that lists the cases."""
    live = EnforcementAction.objects.filter(case=OuterRef("pk")).exclude(status=A.SUPERSEDED)
    latest = live.order_by("-proposed_at", "-id")
    approved = live.filter(status__in=APPROVED_STATUSES, decided_by__isnull=False).order_by(
        "-decided_at", "-id"
    )
    return cases.select_related("assignee", "campaign").annotate(
        action_kind=Subquery(latest.values("kind")[:1]),
        action_status=Subquery(latest.values("status")[:1]),
        action_policy=Subquery(latest.values("policy__name")[:1]),
        approver_name=Subquery(approved.values("decided_by__username")[:1]),
    )


def clean_query(query: QueryDict) -> QueryDict:
    cleaned = query.copy()
    for key in IGNORED_KEYS:
        cleaned.pop(key, None)
    return cleaned


def queue_cases(user, query: QueryDict) -> QuerySet[Case]:
    """The queue's cases for ``query`` (its filters and ``sort``), in the queue's order.

    Raises :class:`ExportFilterError` for a filter the queue would reject too.
    """
    from cases.tables import CaseTable

    filterset = CaseFilter(query, queryset=cases_for_queue(user), user=user)
    if filterset.errors:
        raise ExportFilterError(filterset.errors)
    table = CaseTable(filterset.qs)
    # The table resolves a column name (``risk``, ``-age``) to its ordering, and ignores
    # names it does not know, exactly as the queue does; its default is highest risk first.
    table.order_by = query.get("sort") or table._meta.order_by
    return with_export_fields(table.data.data)


def summary_rows(cases: QuerySet[Case]):
    """The summaries, fetched in chunks so a long export never holds every case at once."""
    return summaries(cases.iterator(chunk_size=2000), site_url=settings.SITE_URL)


def one_case_summary(case: Case) -> CaseSummary:
    row = with_export_fields(Case.objects.filter(pk=case.pk)).get()
    return next(summaries([row], site_url=settings.SITE_URL))


ACCOUNT_COLUMNS = [
    sheets.Column("account", 28),
    sheets.Column("risk", 8, sheets.SCORE),
    sheets.Column("organisation", 24),
    sheets.Column("email domain", 24),
    sheets.Column("country", 9),
    sheets.Column("plan", 12),
    sheets.Column("created (UTC)", 18, sheets.DATETIME),
    sheets.Column("platform status", 16),
]
SIGNAL_COLUMNS = [
    sheets.Column("signal", 26),
    sheets.Column("what it measures", 60),
    sheets.Column("value", 10, "0.00"),
    sheets.Column("threshold", 10, "0.00"),
    sheets.Column("typical account", 14, "0.00"),
    sheets.Column("contribution", 12, "0.000"),
    sheets.Column("why it counts", 70),
]
NOTE_COLUMNS = [
    sheets.Column("written (UTC)", 18, sheets.DATETIME),
    sheets.Column("author", 14),
    sheets.Column("note", 90),
    sheets.Column("edited (UTC)", 18, sheets.DATETIME),
]
TIMELINE_COLUMNS = [
    sheets.Column("when (UTC)", 18, sheets.DATETIME),
    sheets.Column("who", 14),
    sheets.Column("what happened", 70),
    sheets.Column("reason", 50),
]


def _number(value: object) -> object:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def case_workbook(case: Case, target) -> None:
    """A case as a workbook that needs no clean-up: the summary in plain language first,
    then its summary row, signals in words, accounts, notes as rendered text (no Markdown
    marks) and the audit trail in words."""
    data = report.case_report_data(case)
    facts = [
        (f"Case #{case.pk}: {case.title}", None),
        *(("", paragraph) for paragraph in data["plain_summary"]),
        ("Figures", None),
        ("Status", case.get_status_display()),
        ("Priority", case.get_priority_display()),
        ("Risk score (0 to 1)", round(case.risk_score, 4), sheets.SCORE),
        ("Accounts", case.account_count, sheets.INTEGER),
        ("Requests (exchanges)", case.exchange_count, sheets.INTEGER),
        ("Share of traffic", case.traffic_share, sheets.SHARE),
        ("Opened (UTC)", case.opened_at),
        ("Decided (UTC)", case.decided_at or "not yet"),
        ("Link", one_case_summary(case).link),
    ]
    accounts = (
        CaseAccount.objects.filter(case=case, removed_at__isnull=True)
        .select_related("account")
        .order_by("-risk_score", "id")
    )
    notes = Note.objects.filter(case=case).select_related("author").order_by("created_at", "id")
    extra = [
        (
            "Signals",
            SIGNAL_COLUMNS,
            (
                [signal_label(s.get("name")), signal_meaning(s.get("name")),
                 _number(s.get("value")), _number(s.get("threshold")), _number(s.get("norm")),
                 _number(s.get("contribution")), in_words(s.get("reason"))]
                for s in data["signals"]
            ),
        ),
        (
            "Accounts",
            ACCOUNT_COLUMNS,
            (
                [link.account.account_id, round(link.risk_score, 4), link.account.org_id,
                 link.account.email_domain, link.account.country, link.account.plan,
                 link.account.created_at, link.account.get_platform_status_display()]
                for link in accounts.iterator(chunk_size=2000)
            ),
        ),
        (
            "Notes",
            NOTE_COLUMNS,
            (
                [n.created_at, n.author.get_username(), note_plain_text(n.body), n.edited_at]
                for n in notes.iterator(chunk_size=500)
            ),
        ),
        (
            "Audit trail",
            TIMELINE_COLUMNS,
            (
                [e.at, e.actor.get_username() if e.actor else "system",
                 capfirst(describe_event(e)), event_reason(e)]
                for e in data["events"]
            ),
        ),
    ]  # fmt: skip
    write_xlsx(
        [one_case_summary(case)],
        target,
        title=f"Case {case.pk}",
        lead_sheets=[("Summary", facts)],
        extra_sheets=extra,
        totals=False,
    )


def export_record(
    *,
    user,
    fmt: str,
    scope: str,
    rows: int,
    query: QueryDict | None = None,
    case: Case | None = None,
    export: Export | None = None,
) -> None:
    """The ``export.created`` audit event: who exported what, from which filter or case."""
    data = {"format": fmt, "scope": scope, "rows": rows}
    if query is not None:
        data["filters"] = {key: query.getlist(key) for key in sorted(query)}
    if export is not None:
        data["export"] = export.pk
    audit.record("export.created", actor=user, case=case, target=export or case, data=data)


@transaction.atomic
def export_queue_start(*, user, query: QueryDict, fmt: str, total: int) -> Export:
    """Queue a long spreadsheet of the queue for ``query``; the task runs after commit.

    The same person asking for the same export again while it is queued, or within a few
    minutes of it finishing, gets that export back instead of a second build.
    """
    query = clean_query(query)
    encoded = query.urlencode()
    recent = (
        Export.objects.select_for_update()
        .filter(
            created_by=user,
            format=fmt,
            query=encoded,
            case__isnull=True,
            created_at__gte=timezone.now() - REUSE_WITHIN,
        )
        .exclude(status=Export.Status.FAILED)
        .first()
    )
    if recent is not None and not recent.is_expired:
        return recent
    export = Export.objects.create(created_by=user, format=fmt, query=encoded, total=total)
    export_record(user=user, fmt=fmt, scope="queue", rows=total, query=query, export=export)
    enqueue_on_commit(BUILD_TASK, export.pk)
    return export


def export_build(export_id: int) -> str:
    """Build a queued export's file (the task's body). Idempotent: claims the row first."""
    now = timezone.now()
    # A running row untouched for an hour lost its worker (the broker redelivers the task).
    claimable = Q(status=Export.Status.PENDING) | Q(
        status=Export.Status.RUNNING, started_at__lt=now - STALE_AFTER
    )
    claimed = Export.objects.filter(claimable, pk=export_id).update(
        status=Export.Status.RUNNING, started_at=now, rows=0
    )
    if not claimed:
        return "not pending"
    export = Export.objects.select_related("created_by").get(pk=export_id)
    User = get_user_model()
    try:
        user = User.objects.get(pk=export.created_by_id)
        # The exporter may have lost the role since asking: the file follows today's rights.
        if not user.is_active or not user.has_perm("cases.export_cases"):
            raise PermissionError("the requester may no longer export cases")
        cases = queue_cases(user, QueryDict(export.query))
        export.path.parent.mkdir(parents=True, exist_ok=True)
        partial = export.path.with_suffix(".part")

        def progress(n: int) -> None:
            Export.objects.filter(pk=export_id).update(rows=n)

        rows = write_xlsx(summary_rows(cases), str(partial), progress=progress)
        partial.replace(export.path)
    except Exception as exc:
        log.exception("export %s failed", export_id)
        Export.objects.filter(pk=export_id).update(
            status=Export.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        return "failed"
    stamp = timezone.now()
    Export.objects.filter(pk=export_id).update(
        status=Export.Status.DONE,
        rows=rows,
        file_name=f"cases-{stamp:%Y%m%d-%H%M}.{export.format}",
        finished_at=stamp,
    )
    return "done"


def exports_of(user) -> QuerySet[Export]:
    """A person's own recent exports; nobody downloads another person's file."""
    return Export.objects.filter(created_by=user).select_related("case")


def export_files_prune(
    *, older_than_days: int | None = None, dry_run: bool = False, now: datetime | None = None
) -> int:
    """Delete (or, with ``dry_run``, count) export files written before the cutoff
    (``EXPORT_RETENTION_DAYS`` by default); files of exports still queued or building stay."""
    days = settings.EXPORT_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError("the retention period cannot be negative")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    keep = []
    for export in Export.objects.filter(
        status__in=[Export.Status.PENDING, Export.Status.RUNNING]
    ).only("token", "format"):
        keep += [str(export.path), str(export.path.with_suffix(".part"))]
    directory = Path(settings.DATA_DIR) / "exports"
    pruned = old_files_prune(directory, EXPORT_NAMES, cutoff, keep=keep, dry_run=dry_run)
    if not dry_run:
        log.info("pruned %d export files older than %s", len(pruned), cutoff.isoformat())
    return len(pruned)
