"""The overview's figures: aggregates over cases, actions, campaigns and detection runs.

Every figure is one grouped or conditional aggregate in SQL, so the page costs the same
dozen queries at 100 cases or 100,000. Nothing here counts ``Exchange`` (tens of millions of
rows): volumes come from the denormalised counts on cases and campaigns, and the telemetry
totals from PostgreSQL's planner statistics (``pg_class.reltuples``), shown as estimates.

"Now" figures (the open backlog, overdue, active campaigns, the latest run) ignore the date
range; flow figures (opened and closed per week, time to decision, enforcement) count what
happened inside it. Dates are whole days in ``settings.TIME_ZONE``, inclusive at both ends,
which is how the queue's ``opened_after``/``opened_before`` filters read them too, so every
number's link shows exactly the cases it counts.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from cases.models import Case, EnforcementAction
from detection.models import Account, Campaign, DetectionRun, Exchange, say_duration

A = EnforcementAction.Status
K = EnforcementAction.Kind
DEFAULT_WEEKS = 12
MAX_CAMPAIGNS = 10


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)``: the median of an interval or number."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


@dataclass(frozen=True)
class Period:
    """Whole days ``start`` to ``end``, both included, in the site's time zone."""

    start: date
    end: date

    @classmethod
    def default(cls, today: date) -> Period:
        return cls(start=today - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1), end=today)

    @property
    def start_at(self) -> datetime:
        return day_start(self.start)

    @property
    def end_before(self) -> datetime:
        """The first instant after the period."""
        return day_start(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# --------------------------------------------------------------------------- open backlog

# Age bands of the open backlog, by the day a case was opened: (label, newest, oldest) in
# days ago, inclusive; ``None`` leaves that end open.
AGE_BANDS = [
    ("under 1 week", 0, 6),
    ("1 to 2 weeks", 7, 13),
    ("2 to 4 weeks", 14, 27),
    ("over 4 weeks", 28, None),
]


@dataclass(frozen=True)
class AgeBand:
    label: str
    count: int
    opened_after: date | None
    opened_before: date | None


@dataclass(frozen=True)
class Backlog:
    open: int
    unassigned: int
    overdue: int
    accounts: int
    exchanges: int
    oldest: datetime | None
    bands: list[AgeBand]
    # (status, priority) -> open cases
    matrix: dict[tuple[str, int], int]


def backlog(cases: QuerySet[Case], *, now: datetime) -> Backlog:
    """The open cases now: totals, age bands, overdue, and status x priority. Two queries."""
    today = timezone.localdate(now)
    aggregates = {
        "open": Count("id"),
        "unassigned": Count("id", filter=Q(assignee__isnull=True)),
        "overdue": Count("id", filter=Q(due_at__lt=now)),
        "accounts": Sum("account_count"),
        "exchanges": Sum("exchange_count"),
        "oldest": Min("opened_at"),
    }
    limits = []
    for i, (_label, newest, oldest) in enumerate(AGE_BANDS):
        after = today - timedelta(days=oldest) if oldest is not None else None
        before = today - timedelta(days=newest)
        condition = Q(opened_at__lt=day_start(before + timedelta(days=1)))
        if after is not None:
            condition &= Q(opened_at__gte=day_start(after))
        aggregates[f"band{i}"] = Count("id", filter=condition)
        limits.append((after, before if newest else None))
    open_cases = cases.open()
    row = open_cases.aggregate(**aggregates)
    matrix = {
        (r["status"], r["priority"]): r["n"]
        for r in open_cases.order_by().values("status", "priority").annotate(n=Count("id"))
    }
    return Backlog(
        open=row["open"],
        unassigned=row["unassigned"],
        overdue=row["overdue"],
        accounts=row["accounts"] or 0,
        exchanges=row["exchanges"] or 0,
        oldest=row["oldest"],
        bands=[
            AgeBand(label, row[f"band{i}"], after, before)
            for i, ((label, _, _), (after, before)) in enumerate(
                zip(AGE_BANDS, limits, strict=True)
            )
        ],
        matrix=matrix,
    )


# ---------------------------------------------------------------------------------- flow


@dataclass(frozen=True)
class Week:
    start: date  # the Monday
    first_day: date  # clipped to the period
    last_day: date
    opened: int
    closed: int


@dataclass(frozen=True)
class Flow:
    weeks: list[Week]
    opened: int
    closed: int
    decisions: int
    median_to_decision: timedelta | None


def flow(cases: QuerySet[Case], period: Period) -> Flow:
    """Cases opened and decided per week of ``period``, and the median time to a decision.

    "Decided" is ``decided_at``: set when a case is actioned or dismissed, cleared when it is
    reopened, so a reopened case stops counting. Three queries.
    """
    tz = timezone.get_current_timezone()
    opened_in = Q(opened_at__gte=period.start_at, opened_at__lt=period.end_before)
    decided_in = Q(decided_at__gte=period.start_at, decided_at__lt=period.end_before)
    opened = {
        timezone.localdate(r["week"]) if isinstance(r["week"], datetime) else r["week"]: r["n"]
        for r in cases.filter(opened_in)
        .annotate(week=TruncWeek("opened_at", tzinfo=tz))
        .order_by()
        .values("week")
        .annotate(n=Count("id"))
    }
    closed = {
        timezone.localdate(r["week"]) if isinstance(r["week"], datetime) else r["week"]: r["n"]
        for r in cases.filter(decided_in)
        .annotate(week=TruncWeek("decided_at", tzinfo=tz))
        .order_by()
        .values("week")
        .annotate(n=Count("id"))
    }
    weeks = []
    monday = period.start - timedelta(days=period.start.weekday())
    while monday <= period.end:
        weeks.append(
            Week(
                start=monday,
                first_day=max(monday, period.start),
                last_day=min(monday + timedelta(days=6), period.end),
                opened=opened.get(monday, 0),
                closed=closed.get(monday, 0),
            )
        )
        monday += timedelta(days=7)
    decided = cases.filter(decided_in, decided_at__gte=F("opened_at"))
    duration = ExpressionWrapper(F("decided_at") - F("opened_at"), output_field=DurationField())
    if connection.vendor == "postgresql":
        row = decided.aggregate(
            n=Count("id"), median=Median(duration, output_field=DurationField())
        )
        decisions, median = row["n"], row["median"]
    else:  # the embedded SQLite default: small enough to take the median in Python
        spans = [d - o for o, d in decided.values_list("opened_at", "decided_at")]
        decisions, median = len(spans), (statistics.median(spans) if spans else None)
    return Flow(
        weeks=weeks,
        opened=sum(opened.values()),
        closed=sum(closed.values()),
        decisions=decisions,
        median_to_decision=median,
    )


@dataclass(frozen=True)
class Enforcement:
    """Actions executed in the period (by when they went out), and how many were reversed."""

    bans: int
    bans_reversed: int
    other: int
    other_reversed: int
    accounts: int
    cases: int
    pending_approval: int


def enforcement(period: Period) -> Enforcement:
    """One query. Reversals themselves (kind ``reverse``) are not counted as actions."""
    went_out = Q(status__in=[A.EXECUTED, A.REVERSED])
    ban = Q(kind=K.BAN)
    row = (
        EnforcementAction.objects.exclude(kind=K.REVERSE)
        .filter(
            Q(executed_at__gte=period.start_at, executed_at__lt=period.end_before) & went_out
            | Q(status=A.PROPOSED)
        )
        .aggregate(
            bans=Count("id", distinct=True, filter=ban & went_out),
            bans_reversed=Count("id", distinct=True, filter=ban & Q(status=A.REVERSED)),
            other=Count("id", distinct=True, filter=~ban & went_out),
            other_reversed=Count("id", distinct=True, filter=~ban & Q(status=A.REVERSED)),
            accounts=Count("accounts", distinct=True, filter=Q(status=A.EXECUTED)),
            cases=Count("case", distinct=True, filter=went_out),
            pending=Count("id", distinct=True, filter=Q(status=A.PROPOSED)),
        )
    )
    return Enforcement(
        bans=row["bans"],
        bans_reversed=row["bans_reversed"],
        other=row["other"],
        other_reversed=row["other_reversed"],
        accounts=row["accounts"],
        cases=row["cases"],
        pending_approval=row["pending"],
    )


# ------------------------------------------------------------------ campaigns and detection


@dataclass(frozen=True)
class Campaigns:
    active: int
    accounts: int
    traffic_share: float
    top: list = field(default_factory=list)  # Campaign rows annotated below


def campaigns() -> Campaigns:
    """Active campaigns: totals, and the largest by share of traffic. Two queries.

    A campaign's share of traffic is the sum over its live (not merged-away) cases of
    ``Case.traffic_share``, which detection writes as the share of all exchanges in its window.
    """
    live = Q(cases__merged_into__isnull=True)
    active = Campaign.objects.filter(is_active=True)
    totals = active.aggregate(n=Count("id"), accounts=Sum("member_count"))
    share = (
        Case.objects.filter(campaign__is_active=True, merged_into__isnull=True).aggregate(
            s=Sum("traffic_share")
        )["s"]
        or 0.0
    )
    top = list(
        active.annotate(
            share=Sum("cases__traffic_share", filter=live),
            open_cases=Count("cases", filter=live & ~Q(cases__status__in=Case.CLOSED_STATUSES)),
            all_cases=Count("cases", filter=live),
        ).order_by(F("share").desc(nulls_last=True), "-exchange_count", "id")[:MAX_CAMPAIGNS]
    )
    return Campaigns(
        active=totals["n"], accounts=totals["accounts"] or 0, traffic_share=share, top=top
    )


@dataclass(frozen=True)
class RunHealth:
    latest: DetectionRun | None
    last_success: DetectionRun | None
    state: str  # ok, running, stuck, failed, stale, none
    message: str
    duration: timedelta | None

    @property
    def took(self) -> str:
        return say_duration(self.duration)


def detection_health(*, now: datetime) -> RunHealth:
    """The latest detection run and whether detection is keeping up. One or two queries.

    A run is due every ``DETECTION_SCHEDULE_MINUTES``; missing two in a row is "stale", and
    a run still going after two intervals is "stuck".
    """
    interval = timedelta(minutes=settings.DETECTION_SCHEDULE_MINUTES)
    runs = DetectionRun.objects.select_related("config").order_by("-created_at", "-id")
    latest = runs.first()
    if latest is None:
        return RunHealth(None, None, "none", "No detection run yet.", None)
    S = DetectionRun.Status
    last_success = (
        latest if latest.status == S.SUCCEEDED else runs.filter(status=S.SUCCEEDED).first()
    )
    duration = None
    if latest.started_at and latest.finished_at:
        duration = latest.finished_at - latest.started_at
    if latest.status == S.FAILED:
        state, message = "failed", "The latest run failed."
    elif latest.status in (S.QUEUED, S.RUNNING):
        began = latest.started_at or latest.created_at
        if now - began > 2 * interval:
            state, message = "stuck", "The latest run has not finished after two intervals."
        else:
            state, message = "running", f"Running: {latest.stage or latest.status}."
    else:
        finished = latest.finished_at or latest.created_at
        if now - finished > 2 * interval:
            state, message = "stale", "No run has finished in the last two scheduled intervals."
        else:
            state, message = "ok", "Detection is running on schedule."
    return RunHealth(latest, last_success, state, message, duration)


@dataclass(frozen=True)
class Telemetry:
    accounts: int | None
    exchanges: int | None
    estimated: bool


def telemetry_size() -> Telemetry:
    """Row counts of the telemetry tables: planner estimates on PostgreSQL (a count of tens of
    millions of exchanges takes seconds), exact counts on the small embedded SQLite."""
    if connection.vendor != "postgresql":
        return Telemetry(Account.objects.count(), Exchange.objects.count(), estimated=False)
    tables = [Account._meta.db_table, Exchange._meta.db_table]
    with connection.cursor() as cursor:
        # reltuples is -1 until the table is first analysed; the statistics collector's
        # live-row count covers that gap (it follows inserts, COPY included). A partitioned
        # table (exchanges on PostgreSQL) is the sum of its partitions: autovacuum never
        # analyses the parent itself, so its own figures stay where the last manual ANALYZE
        # left them.
        cursor.execute(
            "SELECT c.relname, sum(CASE WHEN leaf.reltuples >= 0 THEN leaf.reltuples::bigint "
            "ELSE s.n_live_tup END) "
            "FROM pg_class c JOIN pg_class leaf ON leaf.relkind = 'r' AND (leaf.oid = c.oid "
            "OR leaf.oid IN (SELECT relid FROM pg_partition_tree(c.oid) WHERE isleaf)) "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = leaf.oid "
            "WHERE c.relname = ANY(%s) AND c.relkind IN ('r', 'p') "
            "AND pg_catalog.pg_table_is_visible(c.oid) GROUP BY c.relname",
            [tables],
        )
        found = dict(cursor.fetchall())

    def estimate(table: str) -> int | None:
        value = found.get(table)
        return None if value is None or value < 0 else int(value)

    return Telemetry(estimate(tables[0]), estimate(tables[1]), estimated=True)
