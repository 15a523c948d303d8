"""Search across the console: accounts by id prefix or by any attribute they share, and
cases as the queue's search finds them.

Every lookup is bounded: at most ``SHOWN`` accounts per way the term matched, read through
an index (the account id's pattern index for a prefix, the account table's attribute
indexes) or, for an address, range, ASN or template, through the latest run's window as a
pivot is (``cases.accounts.selectors``). A term is tried only as what it can be: an address
is never looked up as an organisation's name, nor text as an ASN.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cases.accounts.attributes import (
    ATTRIBUTES,
    BadValue,
    display,
    normalise,
    parse_asn,
    parse_template,
)
from cases.accounts.selectors import Window, accounts_sharing
from cases.selectors import case_text_match, cases_visible_to
from detection.models import Account

SHOWN = 20
CASES_SHOWN = 20
MAX_TERM = 255
TEMPLATE_DIGITS = 6


@dataclass
class Match:
    """Accounts found one way: ``kind`` is an attribute, or ``"prefix"`` for the id."""

    kind: str
    label: str
    value: object
    accounts: list[Account]
    more: bool

    @property
    def kind_label(self) -> str:
        return "Account id starts with" if self.kind == "prefix" else ATTRIBUTES[self.kind].label


def kinds_for(term: str) -> list[str]:
    """The attributes ``term`` could be a value of, in the order they are shown."""
    try:
        ipaddress.ip_address(term)
    except ValueError:
        pass
    else:
        return ["ip", "range"]
    if "/" in term:
        try:
            normalise("range", term)
        except BadValue:
            return ["card", "org", "domain"]
        return ["range"]
    kinds = []
    if parse_asn(term) is not None:
        kinds.append("asn")
    # A template id is a 64-bit hash: one of fewer digits is far likelier a case number or
    # an ASN, and each try reads the window's exchanges.
    if parse_template(term) is not None and len(term.lstrip("-")) >= TEMPLATE_DIGITS:
        kinds.append("template")
    return kinds + ["card", "org", "domain"]


def _first(accounts, n: int) -> tuple[list[Account], bool]:
    """The first ``n`` accounts found (by whatever index finds them, unordered so the scan
    stops there), then sorted by id for the page."""
    found = list(accounts.order_by().only("account_id", "created_at", "plan", "country")[: n + 1])
    return sorted(found[:n], key=lambda a: a.account_id), len(found) > n


def search_accounts(term: str, window: Window | None) -> list[Match]:
    term = term.strip()[:MAX_TERM]
    if not term:
        return []
    matches = []
    accounts, more = _first(Account.objects.filter(account_id__startswith=term), SHOWN)
    if accounts:
        matches.append(Match("prefix", term, term, accounts, more))
    for kind in kinds_for(term):
        value = normalise(kind, term)
        sharing = accounts_sharing(kind, value, window)
        if kind == "domain" and term.lower() != term:
            sharing = sharing | accounts_sharing(kind, term.lower(), window)
        accounts, more = _first(sharing, SHOWN)
        if accounts:
            matches.append(Match(kind, display(kind, value), value, accounts, more))
    return matches


def search_cases(user, term: str) -> list:
    term = term.strip()[:MAX_TERM]
    if not term:
        return []
    return list(
        cases_visible_to(user)
        .filter(case_text_match(term))
        .only("title", "status", "risk_score", "account_count")
        .order_by("-risk_score", "-id")[:CASES_SHOWN]
    )
