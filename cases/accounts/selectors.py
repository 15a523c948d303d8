"""Reads for the account pages: one account and its history with us, the accounts sharing an
attribute, and search.

Attributes on the account row are looked up through the account table's indexes. Attributes
on exchanges (address, range, ASN, template, client) have no index of their own: the
exchange table carries only what ingest can afford (``detection.models``), so a pivot on one
reads the exchanges of the latest detection run's window (the BRIN index on ``ts`` bounds the
read to that window) and never the whole history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from cases.accounts.attributes import ACCOUNT_KINDS, ATTRIBUTES, display, exit_range, range_bounds
from cases.enforcement.models import EnforcementAction
from cases.labels.models import AccountLabelRevision
from cases.lookalikes import lookalike_flag
from cases.models import Case, CaseAccount
from cases.selectors import cases_visible_to
from detection.models import Account, AccountChange, AccountScore, DetectionRun, Exchange

TOP_VALUES = 5  # per exchange attribute on the account page
ADDRESSES_FOR_RANGES = 50  # the account's busiest addresses, grouped into its exit ranges
SCORE_ROWS = 20
CHANGE_ROWS = 50
ACTION_ROWS = 50


@dataclass(frozen=True)
class Window:
    """The exchanges a pivot on an exchange attribute reads: ``start <= ts <= end`` (a run's
    window ends with, and includes, its newest exchange)."""

    start: datetime
    end: datetime


def pivot_window() -> Window | None:
    """The latest successful detection run's window; None before there is one (then every
    exchange is read, which is only ever a small install's whole history)."""
    run = (
        DetectionRun.objects.filter(
            status=DetectionRun.Status.SUCCEEDED,
            window_start__isnull=False,
            window_end__isnull=False,
        )
        .order_by("-created_at")
        .values_list("window_start", "window_end")
        .first()
    )
    return Window(*run) if run else None


def exchanges_in(window: Window | None) -> QuerySet[Exchange]:
    rows = Exchange.objects.all()
    if window is not None:
        rows = rows.filter(ts__gte=window.start, ts__lte=window.end)
    return rows


def exchange_match(kind: str, value) -> Q:
    """Exchanges carrying ``value`` of the exchange attribute ``kind`` (a normalised value)."""
    if kind == "range":
        first, last = range_bounds(value)
        return Q(ip__gte=first, ip__lte=last)
    return Q(**{ATTRIBUTES[kind].column: value})


def accounts_sharing(kind: str, value, window: Window | None) -> QuerySet[Account]:
    """Every account with ``value`` of attribute ``kind`` (on its row, or on an exchange of
    ``window``)."""
    attribute = ATTRIBUTES[kind]
    if attribute.on_account:
        return Account.objects.filter(**{attribute.column: value})
    users = exchanges_in(window).filter(exchange_match(kind, value)).values("account_id")
    return Account.objects.filter(pk__in=users)


def _on_case(case_pk) -> QuerySet[CaseAccount]:
    return CaseAccount.objects.filter(account=OuterRef("pk"), case_id=case_pk, removed_at=None)


def _on_open_case() -> QuerySet[CaseAccount]:
    return CaseAccount.objects.filter(
        account=OuterRef("pk"), removed_at=None, case__merged_into__isnull=True
    ).exclude(case__status__in=Case.CLOSED_STATUSES)


def account_rows(accounts: QuerySet[Account], *, case: Case | None) -> QuerySet[Account]:
    """What an account listing shows: the account's columns, its latest risk, how many open
    cases hold it, whether it looks like a customer (``lookalike``, ``cases.lookalikes``) and
    (``in_case``) whether ``case`` does. Correlated subqueries, answered
    per row by the account indexes of the score and case tables; the listing pages."""
    latest = AccountScore.objects.filter(account=OuterRef("pk")).order_by("-run_id")
    open_cases = _on_open_case().order_by().values("account").annotate(n=Count("pk")).values("n")
    rows = accounts.only(
        "account_id",
        "created_at",
        "email_domain",
        "org_id",
        "country",
        "plan",
        "platform_status",
    ).annotate(
        risk=Subquery(latest.values("risk_score")[:1]),
        open_cases=Coalesce(Subquery(open_cases), 0),
        lookalike=lookalike_flag(),
    )
    if case is not None:
        rows = rows.annotate(in_case=Exists(_on_case(case.pk)))
    return rows


def pivot_counts(accounts: QuerySet[Account], *, case: Case | None) -> dict:
    """How many accounts share the value, how many are on ``case`` and on any open case, in
    one query."""
    counts = {
        "total": Count("pk"),
        "on_open_cases": Count("pk", filter=Q(Exists(_on_open_case()))),
    }
    if case is not None:
        counts["in_case"] = Count("pk", filter=Q(Exists(_on_case(case.pk))))
    result = accounts.order_by().aggregate(**counts)
    if case is not None:
        result["outside_case"] = result["total"] - result["in_case"]
    return result


def pivot_scope(accounts: QuerySet[Account], scope: str, *, case: Case | None):
    """``outside``: not on ``case`` (or, with no case, on no open case); ``inside``: on it."""
    if scope == "outside":
        if case is not None:
            return accounts.exclude(Exists(_on_case(case.pk)))
        return accounts.exclude(Exists(_on_open_case()))
    if scope == "inside":
        if case is not None:
            return accounts.filter(Exists(_on_case(case.pk)))
        return accounts.filter(Exists(_on_open_case()))
    return accounts


def account_memberships(account: Account) -> QuerySet[CaseAccount]:
    """Every case the account was ever on, with the case's outcome, newest first."""
    return (
        CaseAccount.objects.filter(account=account)
        .select_related("case", "added_by", "removed_by")
        .only(
            "added_at",
            "added_reason",
            "removed_at",
            "removed_reason",
            "risk_score",
            "detection_dropped_at",
            "case__title",
            "case__status",
            "case__resolution",
            "case__resolution_reason",
            "case__decided_at",
            "case__merged_into",
            "added_by__username",
            "removed_by__username",
        )
        .order_by("-added_at", "-id")
    )


def account_actions(account: Account) -> list[EnforcementAction]:
    """Enforcement proposals and actions naming the account, with who decided, newest first."""
    return list(
        EnforcementAction.objects.filter(accounts=account)
        .select_related("case", "proposed_by", "decided_by")
        .only(
            "kind",
            "status",
            "reason",
            "proposed_at",
            "decided_at",
            "executed_at",
            "decision_comment",
            "case__title",
            "proposed_by__username",
            "decided_by__username",
        )
        .order_by("-proposed_at", "-id")[:ACTION_ROWS]
    )


def account_changes(account: Account) -> list[AccountChange]:
    """The values later accounts rows replaced (ingest keeps them), latest first."""
    return list(
        AccountChange.objects.filter(account=account).order_by("-changed_at", "-pk")[:CHANGE_ROWS]
    )


def account_scores(account: Account) -> list[AccountScore]:
    """The account's risk and signals per detection run, latest run first."""
    return list(
        AccountScore.objects.filter(account=account)
        .select_related("run", "campaign")
        .only(
            "risk_score",
            "flagged",
            "known_good",
            "signals",
            "exchange_count",
            "run__created_at",
            "run__window_end",
            "campaign__label",
        )
        .order_by("-run_id")[:SCORE_ROWS]
    )


def account_shared_counts(account: Account) -> dict[str, int]:
    """For each attribute on the account row that it has: how many accounts have it (itself
    included), in one query through the account indexes."""
    counts = {}
    for kind in ACCOUNT_KINDS:
        column = ATTRIBUTES[kind].column
        value = getattr(account, column)
        if value:
            sharing = Account.objects.filter(**{column: value}).order_by().values(column)
            counts[kind] = Subquery(sharing.annotate(n=Count("pk")).values("n")[:1])
    if not counts:
        return {}
    return Account.objects.filter(pk=account.pk).values(**counts).get()


def account_exchange_values(account: Account, window: Window | None) -> dict[str, list[dict]]:
    """The account's busiest values of each exchange attribute in ``window``: ``[{"value",
    "label", "exchanges"}]`` per kind, read through the (account, ts) index. Exit ranges are
    those of its busiest addresses."""
    mine = exchanges_in(window).filter(account=account)
    out: dict[str, list[dict]] = {}
    for kind, column, limit in (
        ("ip", "ip", ADDRESSES_FOR_RANGES),
        ("asn", "asn", TOP_VALUES),
        ("template", "prompt_hash", TOP_VALUES),
        ("agent", "user_agent", TOP_VALUES),
    ):
        rows = list(
            mine.exclude(**{f"{column}__isnull": True})
            .exclude(**({column: ""} if column == "user_agent" else {}))
            .values_list(column)
            .annotate(n=Count("pk"))
            .order_by("-n", column)[:limit]
        )
        out[kind] = [{"value": v, "label": display(kind, v), "exchanges": n} for v, n in rows]
    ranges: dict[str, int] = {}
    for item in out["ip"]:
        network = str(exit_range(str(item["value"])))
        ranges[network] = ranges.get(network, 0) + item["exchanges"]
    out["range"] = [
        {"value": v, "label": v, "exchanges": n}
        for v, n in sorted(ranges.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_VALUES]
    ]
    out["ip"] = out["ip"][:TOP_VALUES]
    return out


def open_cases_for_adding(user) -> QuerySet[Case]:
    """The open, live cases a user may add accounts to, most urgent first, for a choice."""
    return (
        cases_visible_to(user)
        .open()
        .filter(merged_into__isnull=True)
        .only("title", "risk_score")
        .order_by("-risk_score", "-id")
    )


# The most decisions an account page lists, newest first.
DECISION_ROWS = 20


def account_decisions(account: Account) -> list[AccountLabelRevision]:
    """Every conclusion recorded about the account (``cases.labels``), newest first."""
    return list(
        AccountLabelRevision.objects.filter(account=account)
        .select_related("reason", "decided_by")
        .order_by("-decided_at", "-pk")[:DECISION_ROWS]
    )
