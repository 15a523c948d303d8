"""Reads: the marks on a case's or an account's accounts, and a campaign's indicators."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import Lower, RowNumber
from django.utils import timezone

from cases.models import Case, CaseAccount
from detection.config import DetectionParams, current_config
from detection.models import Account, Exchange, ExternalFlag, Indicator, IndicatorMatch

K = Indicator.Kind
# A value goes into a campaign's export only when at least this share of the accounts that
# use it are on the case: an exit or a domain the fleet shares with ordinary customers would
# make a partner's console flag those customers.
OWN_SHARE = 0.8
# At most this many values of each kind of traffic are exported (the most shared first).
MAX_PER_KIND = 500
# How many of a case's accounts each indicator lists by name.
SHOWN_ACCOUNTS = 5
# The case's section lists at most this many indicators and outside flags, and says how many
# there are in all: a fleet of thousands can match a partner's list thousands of times.
MAX_CASE_INDICATORS = 50
MAX_CASE_FLAGS = 200


@dataclass
class IndicatorHit:
    """An indicator and the accounts that match it: ``account_ids`` are the first
    ``SHOWN_ACCOUNTS`` by id of the ``count`` that do."""

    indicator: Indicator
    account_ids: list[str] = field(default_factory=list)
    count: int = 0

    @property
    def more(self) -> int:
        return max(self.count - len(self.account_ids), 0)


def case_member_ids(case: Case) -> list[int]:
    return list(_live_members(case).values_list("account_id", flat=True))


def _live_members(case: Case) -> QuerySet[CaseAccount]:
    """The pks of the case's live accounts, as a subquery."""
    return CaseAccount.objects.filter(case=case, removed_at__isnull=True).values("account_id")


def _by_relevance(indicators: QuerySet[Indicator]) -> QuerySet[Indicator]:
    """Indicators detection still reads first, then those more accounts match."""
    now = timezone.now()
    active = ExpressionWrapper(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now), output_field=BooleanField()
    )
    return indicators.annotate(active=active).order_by("-active", "-n", "pk")


def indicator_hits(account: Account) -> list[IndicatorHit]:
    """Indicators ``account`` matches, active ones first."""
    matched = Indicator.objects.filter(matches__account=account).annotate(n=Count("matches"))
    return [
        IndicatorHit(indicator, [account.account_id], 1)
        for indicator in _by_relevance(matched.select_related("imported_from"))
    ]


def case_indicator_hits(case: Case) -> tuple[list[IndicatorHit], int]:
    """The first ``MAX_CASE_INDICATORS`` indicators the case's live accounts match (active
    ones first, then by how many accounts match), each with its count and the first
    ``SHOWN_ACCOUNTS`` account ids, and how many indicators they match in all: two
    queries, whatever the case's size."""
    matched = Indicator.objects.filter(matches__account_id__in=_live_members(case)).annotate(
        n=Count("matches"), total=Window(Count("pk"))
    )
    indicators = list(_by_relevance(matched.select_related("imported_from"))[:MAX_CASE_INDICATORS])
    first = (
        IndicatorMatch.objects.filter(
            indicator__in=[i.pk for i in indicators], account_id__in=_live_members(case)
        )
        .annotate(
            rank=Window(RowNumber(), partition_by=F("indicator_id"), order_by="account__account_id")
        )
        .filter(rank__lte=SHOWN_ACCOUNTS)
        .order_by("indicator_id", "rank")
        .values_list("indicator_id", "account__account_id")
    )
    shown: dict[int, list[str]] = defaultdict(list)
    for indicator_id, account_id in first:
        shown[indicator_id].append(account_id)
    total = indicators[0].total if indicators else 0
    return [IndicatorHit(i, shown[i.pk], i.n) for i in indicators], total


def external_flags(accounts) -> QuerySet[ExternalFlag]:
    """Flags on ``accounts`` (pks, or a subquery of them), newest first."""
    return ExternalFlag.objects.filter(account_id__in=accounts).select_related("account")


def account_intel(account: Account) -> dict:
    return {"hits": indicator_hits(account), "flags": list(external_flags([account.pk]))}


def case_intel(case: Case) -> dict:
    """The case's section: capped lists of indicator hits and outside flags, with totals."""
    hits, hits_total = case_indicator_hits(case)
    flags = external_flags(_live_members(case)).annotate(total=Window(Count("pk")))
    shown_flags = list(flags[:MAX_CASE_FLAGS])
    flags_total = shown_flags[0].total if shown_flags else 0
    return {
        "hits": hits,
        "hits_total": hits_total,
        "flags": shown_flags,
        "flags_total": flags_total,
    }


def _own(rows, totals: dict, members_of: dict, kind: str, label: str) -> list:
    out = []
    for value, ours in members_of.items():
        total = totals.get(value, ours)
        if value in (None, "") or ours < 2 or ours / max(total, 1) < OWN_SHARE:
            continue
        out.append((ours, kind, str(value), f"{label}: {ours} of the campaign's accounts"))
    out.sort(key=lambda r: (-r[0], r[2]))
    rows.extend(r[1:] for r in out[:MAX_PER_KIND])


def campaign_indicators(case: Case) -> list[tuple[str, str, str]]:
    """``(kind, value, description)`` of what marks this case's accounts as one fleet: the
    accounts themselves, and each card, sign-up domain, address, network and prompt template
    that at least two of them use and that is the fleet's own (``OWN_SHARE``). Free-mail
    domains (the configuration's list) are never exported."""
    members = case_member_ids(case)
    rows: list[tuple[str, str, str]] = []
    accounts = Account.objects.filter(pk__in=members)
    rows += [
        (K.ACCOUNT, account_id, "account of the campaign")
        for account_id in accounts.order_by("account_id").values_list("account_id", flat=True)
    ]
    params = DetectionParams.from_stored(current_config().params)
    free = {d.lower() for d in params.free_mail_domains}
    for kind, column, label in (
        (K.PAYMENT, "payment_fingerprint", "card"),
        (K.EMAIL_DOMAIN, "email_domain", "sign-up domain"),
    ):
        ours = dict(accounts.exclude(**{column: ""}).values_list(column).annotate(n=Count("pk")))
        if kind == K.EMAIL_DOMAIN:
            ours = {v.lower(): n for v, n in ours.items() if v.lower() not in free}
            users = Account.objects.annotate(v=Lower(column)).filter(v__in=list(ours))
            totals = dict(users.values_list("v").annotate(n=Count("pk")))
        else:
            users = Account.objects.filter(**{f"{column}__in": list(ours)})
            totals = dict(users.values_list(column).annotate(n=Count("pk")))
        _own(rows, totals, ours, kind, label)
    traffic = Exchange.objects.filter(account_id__in=members)
    for kind, column, label in ((K.IP, "ip", "address"), (K.ASN, "asn", "network")):
        ours = dict(
            traffic.exclude(**{f"{column}__isnull": True})
            .values_list(column)
            .annotate(n=Count("account_id", distinct=True))
            .filter(n__gte=2)
            .order_by("-n")[: MAX_PER_KIND * 2]
        )
        totals = dict(
            Exchange.objects.filter(**{f"{column}__in": list(ours)})
            .values_list(column)
            .annotate(n=Count("account_id", distinct=True))
        )
        _own(rows, totals, ours, kind, label)
    templates = (
        traffic.exclude(prompt_hash__isnull=True)
        .values("prompt_hash")
        .annotate(n=Count("account_id", distinct=True), example=Min("prompt"))
        .filter(n__gte=2)
        .order_by("-n")[:MAX_PER_KIND]
    )
    examples = {t["prompt_hash"]: t["example"] for t in templates}
    ours = {t["prompt_hash"]: t["n"] for t in templates}
    totals = dict(
        Exchange.objects.filter(prompt_hash__in=list(ours))
        .values_list("prompt_hash")
        .annotate(n=Count("account_id", distinct=True))
    )
    kept: list[tuple[str, str, str]] = []
    _own(kept, totals, ours, K.PROMPT, "prompt template")
    rows += [
        (kind, examples[int(digest)][:2048], text)
        for kind, digest, text in kept
        if examples.get(int(digest))
    ]
    return rows


def indicator_counts(rows: list[tuple[str, str, str]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for kind, _, _ in rows:
        counts[Indicator.Kind(kind).label] += 1
    return dict(counts)
