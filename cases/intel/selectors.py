"""Reads: the marks on a case's or an account's accounts, and a campaign's indicators."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Min, QuerySet
from django.db.models.functions import Lower

from cases.models import Case, CaseAccount
from detection.config import DetectionParams, current_config
from detection.indicators.matching import matches_for_accounts
from detection.models import Account, Exchange, ExternalFlag, Indicator

K = Indicator.Kind
# A value goes into a campaign's export only when at least this share of the accounts that
# use it are on the case: an exit or a domain the fleet shares with ordinary customers would
# make a partner's console flag those customers.
OWN_SHARE = 0.8
# At most this many values of each kind of traffic are exported (the most shared first).
MAX_PER_KIND = 500
# How many of a case's accounts each indicator lists by name.
SHOWN_ACCOUNTS = 5


@dataclass
class IndicatorHit:
    indicator: Indicator
    accounts: list[Account] = field(default_factory=list)

    @property
    def more(self) -> int:
        return max(len(self.accounts) - SHOWN_ACCOUNTS, 0)

    @property
    def shown(self) -> list[Account]:
        return self.accounts[:SHOWN_ACCOUNTS]


def case_member_ids(case: Case) -> list[int]:
    return list(
        CaseAccount.objects.filter(case=case, removed_at__isnull=True).values_list(
            "account_id", flat=True
        )
    )


def indicator_hits(accounts: list[int]) -> list[IndicatorHit]:
    """Indicators any of ``accounts`` match, each with those accounts; active ones first,
    then by how many accounts match."""
    hits: dict[int, IndicatorHit] = {}
    for match in matches_for_accounts(accounts).order_by("indicator_id", "account__account_id"):
        hit = hits.setdefault(match.indicator_id, IndicatorHit(match.indicator))
        hit.accounts.append(match.account)
    return sorted(hits.values(), key=lambda h: (not h.indicator.is_active, -len(h.accounts)))


def external_flags(accounts: list[int]) -> QuerySet[ExternalFlag]:
    return ExternalFlag.objects.filter(account_id__in=accounts).select_related("account")


def account_intel(account: Account) -> dict:
    return {"hits": indicator_hits([account.pk]), "flags": list(external_flags([account.pk]))}


def case_intel(case: Case) -> dict:
    members = case_member_ids(case)
    return {
        "hits": indicator_hits(members),
        "flags": list(external_flags(members)[:200]),
        "members": len(members),
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
