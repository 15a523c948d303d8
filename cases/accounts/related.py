"""Related accounts of a case: accounts outside it that share its strongest ties.

A tie is one value of a shared attribute (a card, an address, a template...) among the
case's top ``TOP_TIES`` values of that attribute, by how many of the case's accounts use it.
An outside account scores the sum of the weights of the ties it shares, a tie weighing
``1 / ln(1 + n)`` where ``n`` is how many accounts use it at all: a card three accounts share
says much more than a cloud ASN a hundred thousand share. A tie used by more than
``HUB_ACCOUNTS`` accounts is named but not followed: its weight is small and it would list
most accounts.

Cost: two queries per attribute whatever the size of the case or the data, its top values
and then the accounts using them. On an exchange attribute each reads the latest run's window
of exchanges, which have no index on these columns (``cases.accounts.selectors``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, QuerySet

from cases.accounts.attributes import ATTRIBUTES, display
from cases.accounts.selectors import Window, exchanges_in
from cases.models import Case, CaseAccount
from detection.models import Account

TOP_TIES = 10
HUB_ACCOUNTS = 2000
RELATED_ROWS = 50
# Which attributes are followed: the exit range is left out, since the addresses in it are
# followed one by one and a range would count the same evidence twice.
RELATED_KINDS = ("card", "org", "domain", "ip", "asn", "template", "agent")
# Text columns hold "" for "not given", which is no tie.
TEXT_COLUMNS = ("payment_fingerprint", "org_id", "email_domain", "user_agent")


@dataclass(frozen=True)
class Tie:
    kind: str
    value: object
    accounts: int  # how many accounts use it at all, the case's included

    @property
    def label(self) -> str:
        return display(self.kind, self.value)

    @property
    def kind_label(self) -> str:
        return ATTRIBUTES[self.kind].label

    @property
    def weight(self) -> float:
        return 1 / math.log(1 + max(self.accounts, 1))


@dataclass
class Related:
    account_pk: int
    ties: list[Tie] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(t.weight for t in self.ties)


@dataclass
class RelatedResult:
    rows: list[Related]
    ties: list[Tie]  # every tie considered
    hubs: list[Tie]  # ties too common to follow


def rank(users: dict[Tie, set[int]], *, exclude: set[int], limit: int) -> list[Related]:
    """Outside accounts by score (then by number of ties, then by pk), best first. Pure."""
    found: dict[int, Related] = {}
    for tie, pks in users.items():
        for pk in pks - exclude:
            found.setdefault(pk, Related(pk)).ties.append(tie)
    for related in found.values():
        related.ties.sort(key=lambda t: (-t.weight, t.kind, str(t.value)))
    ordered = sorted(found.values(), key=lambda r: (-r.score, -len(r.ties), r.account_pk))
    return ordered[:limit]


def _values_and_users(kind: str, members: QuerySet, window: Window | None):
    """The case's top values of ``kind`` as ties (with how many accounts use each at all),
    and the users of each tie used by at most ``HUB_ACCOUNTS`` accounts. Two queries: the
    top values, then every (value, account) pair of them, from which both the totals and
    the users come (on exchanges, each query is one read of the window)."""
    attribute = ATTRIBUTES[kind]
    column = attribute.column
    if attribute.on_account:
        rows, account = Account.objects.all(), "pk"
        mine = rows.filter(pk__in=members)
    else:
        rows, account = exchanges_in(window), "account_id"
        mine = rows.filter(account_id__in=members)
    blank = {column: ""} if column in TEXT_COLUMNS else {}
    top = list(
        mine.exclude(**{f"{column}__isnull": True})
        .exclude(**blank)
        .values_list(column, flat=True)
        .annotate(n=Count(account, distinct=True))
        .order_by("-n", column)[:TOP_TIES]
    )
    if not top:
        return [], {}
    found: dict = defaultdict(set)
    pairs = rows.filter(**{f"{column}__in": top}).values_list(column, account).distinct()
    for value, pk in pairs.order_by():
        found[value].add(pk)
    ties = {value: Tie(kind, value, len(found[value])) for value in top}
    users = {ties[v]: found[v] for v in top if len(found[v]) <= HUB_ACCOUNTS}
    return list(ties.values()), users


def related_accounts(case: Case, window: Window | None) -> RelatedResult:
    """The case's related accounts (``RELATED_ROWS`` at most), best first."""
    members = CaseAccount.objects.filter(case=case, removed_at__isnull=True).values("account_id")
    all_ties: list[Tie] = []
    users: dict[Tie, set[int]] = {}
    for kind in RELATED_KINDS:
        ties, found = _values_and_users(kind, members, window)
        all_ties += ties
        users.update(found)
    on_case = set(members.values_list("account_id", flat=True))
    rows = rank(users, exclude=on_case, limit=RELATED_ROWS)
    hubs = [t for t in all_ties if t.accounts > HUB_ACCOUNTS]
    return RelatedResult(rows=rows, ties=all_ties, hubs=hubs)
