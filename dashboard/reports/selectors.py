"""The period report's figures, computed once here and read by the page, the PDF, the
workbook and the email alike, so a number is the same wherever it appears.

A period is whole days in ``settings.TIME_ZONE`` (``dashboard.selectors.Period``); the
previous period is as many days just before it, for the trends. Each figure counts a set of
cases the queue can show with its own parameters (``queue`` below), so every number on the
page links to exactly the cases behind it:

- *opened* / *campaigns found*: cases (campaign cases) opened in the period;
- *actioned* / *campaigns stopped*: cases (campaign cases) with an account action (ban,
  suspension, rate limit) that took effect in the period, reversed since or not;
- *accounts actioned*: distinct accounts of those actions;
- *exchanges* and *output tokens before action*: what the actioned cases' accounts took, as
  detection counted it on the case (exchanges) and in the case's last run (output tokens);
- *first activity to detection*: median over the cases opened, from the case's first
  activity (``Case.first_activity_at``: the first exchange of any of its accounts, or the
  first registration for a case with no traffic at all) to its opening;
- *detection to action*: median over the cases actioned, from opening to the first action
  that took effect in the period;
- *reversal requests* (the best proxy for wrongful bans and appeals) and how many were
  carried out, by when they were asked for;
- *workload*: per person, what they did in the period by the audit log, and their open
  cases now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum

from cases.exports.plain import case_plain_summary
from cases.models import AuditEvent, Case, CaseAccount, EnforcementAction
from dashboard.selectors import Period
from detection.models import AccountScore

A = EnforcementAction.Status
TOP_CAMPAIGNS = 5
WEEK, MONTH = "week", "month"


def last_full(kind: str, today: date) -> Period:
    """The last complete week (Monday to Sunday) or calendar month before ``today``."""
    if kind == WEEK:
        end = today - timedelta(days=today.weekday() + 1)
        return Period(end - timedelta(days=6), end)
    end = today.replace(day=1) - timedelta(days=1)
    return Period(end.replace(day=1), end)


def previous(period: Period) -> Period:
    return Period(period.start - timedelta(days=period.days), period.start - timedelta(days=1))


def _in(field_name: str, period: Period) -> Q:
    return Q(**{f"{field_name}__gte": period.start_at, f"{field_name}__lt": period.end_before})


@dataclass(frozen=True)
class Figures:
    cases_opened: int
    campaigns_found: int
    cases_closed: int
    cases_actioned: int
    campaigns_stopped: int
    accounts_actioned: int
    exchanges_before_action: int
    output_tokens_before_action: int
    to_detection: timedelta | None
    to_action: timedelta | None
    reversal_requests: int
    reversals_done: int

    @staticmethod
    def days(span: timedelta | None) -> float | None:
        return None if span is None else round(span / timedelta(days=1), 1)

    @property
    def to_detection_days(self) -> float | None:
        return self.days(self.to_detection)

    @property
    def to_action_days(self) -> float | None:
        return self.days(self.to_action)


# The figures in the order every output lists them: (key, label, what it counts).
FIGURES = [
    ("campaigns_found", "Campaigns found", "campaign cases opened"),
    ("campaigns_stopped", "Campaigns stopped", "campaign cases with an action that took effect"),
    ("cases_opened", "Cases opened", "all cases opened, campaigns and single accounts"),
    ("cases_closed", "Cases closed", "cases actioned or dismissed"),
    ("cases_actioned", "Cases actioned", "cases with an action that took effect"),
    ("accounts_actioned", "Accounts actioned", "accounts banned, suspended or rate-limited"),
    ("exchanges_before_action", "Requests the fleets made before action",
     "exchanges detection counted on the actioned cases"),
    ("output_tokens_before_action", "Output tokens the fleets took before action",
     "output tokens of the actioned cases' accounts in detection's last run"),
    ("to_detection_days", "Days from first activity to detection (median)",
     "first request of any of a case's accounts to the case's opening"),
    ("to_action_days", "Days from detection to action (median)",
     "case opened to its first action taking effect"),
    ("reversal_requests", "Reversals asked for", "requests to undo an action: appeals, mistakes"),
    ("reversals_done", "Reversals carried out", "of those, reversals that took effect"),
]  # fmt: skip


def _median(spans: QuerySet, n: int) -> timedelta | None:
    """The median of the ``span`` annotation over the ``n`` rows of ``spans``, found by the
    database: the middle row of them ordered by it, or the mean of the middle two. A negative
    span counts as zero (clamping keeps the order, so the middle rows stay the middle)."""
    if not n:
        return None
    middle = spans.order_by("span").values_list("span", flat=True)[(n - 1) // 2 : n // 2 + 1]
    middle = [max(span, timedelta(0)) for span in middle]
    return sum(middle, timedelta(0)) / len(middle)


def actioned_in(cases: QuerySet[Case], period: Period) -> QuerySet[Case]:
    effect = EnforcementAction.objects.took_effect().filter(
        _in("executed_at", period), case=OuterRef("pk")
    )
    return cases.filter(Exists(effect))


def figures(cases: QuerySet[Case], period: Period) -> Figures:
    """Every headline figure of ``period`` over ``cases``. Eight queries at most; those over
    the cases opened or closed read an index alone (``case_opened_report_idx``,
    ``case_decided_id_idx``), whatever the size of the case rows."""
    campaign = Q(kind=Case.Kind.CAMPAIGN)
    opened = cases.filter(_in("opened_at", period))
    row = opened.aggregate(
        n=Count("kind"),
        campaigns=Count("kind", filter=campaign),
        with_first_activity=Count("first_activity_at"),
    )
    closed = cases.filter(_in("decided_at", period)).count()
    actioned = actioned_in(cases, period)
    acted = actioned.aggregate(
        n=Count("id"), campaigns=Count("id", filter=campaign), exchanges=Sum("exchange_count")
    )
    effects = EnforcementAction.objects.took_effect().filter(
        _in("executed_at", period), case__in=cases
    )
    accounts = effects.aggregate(n=Count("accounts", distinct=True))["n"]
    tokens = AccountScore.objects.filter(
        account__case_links__case__in=actioned,
        account__case_links__removed_at__isnull=True,
        run_id=F("account__case_links__case__last_run_id"),
    ).aggregate(n=Sum("output_tokens"))["n"]
    first_effect = (
        effects.filter(case=OuterRef("pk")).order_by("executed_at").values("executed_at")[:1]
    )
    to_action = actioned.annotate(effect=Subquery(first_effect)).annotate(
        span=F("effect") - F("opened_at")
    )
    to_detection = opened.filter(first_activity_at__isnull=False).annotate(
        span=F("opened_at") - F("first_activity_at")
    )
    reversals = (
        EnforcementAction.objects.reversal_requests()
        .filter(_in("proposed_at", period), case__in=cases)
        .aggregate(n=Count("id"), done=Count("id", filter=Q(status=A.EXECUTED)))
    )
    return Figures(
        cases_opened=row["n"],
        campaigns_found=row["campaigns"],
        cases_closed=closed,
        cases_actioned=acted["n"],
        campaigns_stopped=acted["campaigns"],
        accounts_actioned=accounts,
        exchanges_before_action=acted["exchanges"] or 0,
        output_tokens_before_action=tokens or 0,
        to_detection=_median(to_detection, row["with_first_activity"]),
        to_action=_median(to_action, acted["n"]),
        reversal_requests=reversals["n"],
        reversals_done=reversals["done"],
    )


@dataclass(frozen=True)
class Workload:
    username: str
    open_now: int
    cases_worked: int
    notes: int
    status_changes: int
    proposals: int
    decisions: int


DECISIONS = ["action.approved", "action.rejected", "action.reversal_approved",
             "action.reversal_rejected"]  # fmt: skip
PROPOSALS = ["action.proposed", "action.reversal_requested"]


def workload(cases: QuerySet[Case], period: Period) -> list[Workload]:
    """Per person: what the audit log says they did in the period, and their open cases
    now. Two queries."""
    done = {
        r["actor__username"]: r
        for r in AuditEvent.objects.filter(_in("at", period), actor__isnull=False, case__in=cases)
        .values("actor__username")
        .annotate(
            cases=Count("case", distinct=True),
            notes=Count("id", filter=Q(verb="note.added")),
            statuses=Count("id", filter=Q(verb__in=["case.status_changed", "case.reopened"])),
            proposals=Count("id", filter=Q(verb__in=PROPOSALS)),
            decisions=Count("id", filter=Q(verb__in=DECISIONS)),
        )
    }
    open_now = dict(
        cases.open()
        .filter(assignee__isnull=False)
        .values("assignee__username")
        .annotate(n=Count("id"))
        .values_list("assignee__username", "n")
    )
    people = sorted(set(done) | set(open_now))
    return [
        Workload(
            username=name,
            open_now=open_now.get(name, 0),
            cases_worked=done.get(name, {}).get("cases", 0),
            notes=done.get(name, {}).get("notes", 0),
            status_changes=done.get(name, {}).get("statuses", 0),
            proposals=done.get(name, {}).get("proposals", 0),
            decisions=done.get(name, {}).get("decisions", 0),
        )
        for name in people
    ]


@dataclass(frozen=True)
class CampaignStory:
    case: Case
    paragraphs: list[str]
    organisations: int

    @property
    def name(self) -> str:
        label = self.case.campaign.label if self.case.campaign_id and self.case.campaign else ""
        return f"#{self.case.pk} {label or self.case.title}"


def largest_campaigns(cases: QuerySet[Case], period: Period) -> list[CampaignStory]:
    """The campaign cases found or actioned in the period with the most traffic, each told in
    plain language (the case exports' own words, ``cases.exports.plain``). Four queries."""
    touched = cases.filter(kind=Case.Kind.CAMPAIGN, merged_into__isnull=True).filter(
        _in("opened_at", period) | Q(pk__in=actioned_in(cases, period).values("pk"))
    )
    top = list(
        touched.select_related("campaign").order_by("-exchange_count", "-account_count", "id")[
            :TOP_CAMPAIGNS
        ]
    )
    orgs = dict(
        CaseAccount.objects.filter(case__in=top, removed_at__isnull=True)
        .exclude(account__org_id="")
        .values("case_id")
        .annotate(n=Count("account__org_id", distinct=True))
        .values_list("case_id", "n")
    )
    actions: dict[int, list] = {c.pk: [] for c in top}
    for action in (
        EnforcementAction.objects.filter(case__in=top)
        .select_related("proposed_by", "decided_by")
        .annotate(account_total=Count("accounts"))
        .order_by("proposed_at", "id")
    ):
        actions[action.case_id].append(action)
    stories = []
    for case in top:
        explanation = case.explanation if isinstance(case.explanation, dict) else {}
        signals = [s for s in explanation.get("signals") or [] if isinstance(s, dict)]
        paragraphs = case_plain_summary(
            case, signals=signals, organisations=orgs.get(case.pk, 0), actions=actions[case.pk]
        )
        stories.append(CampaignStory(case, paragraphs, orgs.get(case.pk, 0)))
    return stories


@dataclass(frozen=True)
class Trend:
    key: str
    label: str
    meaning: str
    now: float | int | None
    before: float | int | None

    @property
    def change(self) -> float | None:
        if self.now is None or self.before is None:
            return None
        return round(self.now - self.before, 1)

    @property
    def change_share(self) -> float | None:
        """The change as a share of the previous period's figure (``None`` from zero)."""
        if self.change is None or not self.before:
            return None
        return self.change / self.before


@dataclass(frozen=True)
class PeriodReport:
    period: Period
    previous_period: Period
    figures: Figures
    previous: Figures
    trends: list[Trend] = field(default_factory=list)
    workload: list[Workload] = field(default_factory=list)
    campaigns: list[CampaignStory] = field(default_factory=list)
    generated_at: datetime | None = None


def period_report(cases: QuerySet[Case], period: Period, *, now: datetime) -> PeriodReport:
    """The whole report: this period's figures, the previous period's for the trends, the
    team's workload and the largest campaigns. About twenty queries, whatever the data."""
    before = previous(period)
    this, last = figures(cases, period), figures(cases, before)
    trends = [
        Trend(key, label, meaning, getattr(this, key), getattr(last, key))
        for key, label, meaning in FIGURES
    ]
    return PeriodReport(
        period=period,
        previous_period=before,
        figures=this,
        previous=last,
        trends=trends,
        workload=workload(cases, period),
        campaigns=largest_campaigns(cases, period),
        generated_at=now,
    )
