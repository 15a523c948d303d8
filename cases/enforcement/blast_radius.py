"""The blast radius of a proposal: pure computation over plain data, frozen on the proposal.

What it tells an approver: how many accounts and how much traffic the action touches, which
accounts also sit in another open case, and which look like a legitimate customer (a
"look-alike") so deserve a second look before a ban. The rules, all warnings and never
blocks (the approver decides):

* ``shared_org``: the account declares an organisation (``org_id``) that at least
  ``SHARED_ORG_MIN_ACCOUNTS`` accounts share across the whole platform. Real companies
  register many keys under one organisation; so do some fleets, which is why it only warns.
  The warning says how many of the organisation's accounts are *outside* the proposal.
* ``old_paying``: the account registered more than ``OLD_ACCOUNT_DAYS`` days before the
  proposal and is on a paid plan (anything but ``free``, ``trial`` or no plan). Fleets are
  young and rarely pay for long; an old paying account is more likely a customer.
* ``other_open_case`` (listed apart, not as a warning): the account is on another open case,
  whose own investigation the action would pre-empt.

Traffic is the exchange count of the account's latest detection score, and the share is
against all exchanges that run saw (``DetectionRun.counts["exchanges"]``).
"""

from dataclasses import dataclass, field
from datetime import datetime

SHARED_ORG_MIN_ACCOUNTS = 3
OLD_ACCOUNT_DAYS = 180
FREE_PLANS = frozenset({"", "free", "trial"})
TOP_ACCOUNTS = 50
MAX_WARNINGS = 500
VERSION = 1


@dataclass(frozen=True)
class AccountFacts:
    account_id: str
    created_at: datetime | None
    plan: str
    org_id: str
    exchanges: int
    other_open_cases: list[int] = field(default_factory=list)


def rules() -> dict:
    return {
        "shared_org_min_accounts": SHARED_ORG_MIN_ACCOUNTS,
        "old_account_days": OLD_ACCOUNT_DAYS,
        "free_plans": sorted(FREE_PLANS),
    }


def lookalike_warnings(
    facts: AccountFacts, *, org_sizes: dict[str, int], org_in_proposal: dict[str, int] | None, now
) -> list[dict]:
    """The rules above for one account; ``org_in_proposal`` None for an account on its own
    (its page), where there is no proposal to count against."""
    warnings = []
    org_total = org_sizes.get(facts.org_id, 0) if facts.org_id else 0
    if facts.org_id and org_total >= SHARED_ORG_MIN_ACCOUNTS:
        text = f"organisation {facts.org_id} has {org_total} accounts"
        if org_in_proposal is not None:
            outside = org_total - org_in_proposal.get(facts.org_id, 0)
            text += (
                f", {outside} of them not in this proposal" if outside else ", all in this proposal"
            )
        warnings.append({"code": "shared_org", "text": text})
    if facts.created_at is not None and (facts.plan or "").lower() not in FREE_PLANS:
        days = (now - facts.created_at).days
        if days > OLD_ACCOUNT_DAYS:
            warnings.append(
                {
                    "code": "old_paying",
                    "text": f"registered {days} days ago, on the paid plan {facts.plan}",
                }
            )
    return warnings


def compute(
    accounts: list[AccountFacts],
    *,
    org_sizes: dict[str, int],
    total_exchanges: int | None,
    now: datetime,
) -> dict:
    """The blast radius as JSON-ready data (see ``EnforcementAction.blast_radius``)."""
    exchange_count = sum(a.exchanges for a in accounts)
    org_in_proposal: dict[str, int] = {}
    for a in accounts:
        if a.org_id:
            org_in_proposal[a.org_id] = org_in_proposal.get(a.org_id, 0) + 1

    def share(n: int) -> float | None:
        return round(n / total_exchanges, 6) if total_exchanges else None

    warnings, lookalikes, other_cases, in_other = [], 0, {}, 0
    flagged: dict[str, list[str]] = {}
    for a in accounts:
        found = lookalike_warnings(a, org_sizes=org_sizes, org_in_proposal=org_in_proposal, now=now)
        if found:
            lookalikes += 1
            flagged[a.account_id] = [w["code"] for w in found]
            warnings.extend({"account_id": a.account_id, **w} for w in found)
        if a.other_open_cases:
            in_other += 1
            for case_id in a.other_open_cases:
                other_cases[case_id] = other_cases.get(case_id, 0) + 1
    top = sorted(accounts, key=lambda a: (-a.exchanges, a.account_id))[:TOP_ACCOUNTS]
    return {
        "version": VERSION,
        "computed_at": now.isoformat(),
        "rules": rules(),
        "account_count": len(accounts),
        "exchange_count": exchange_count,
        "total_exchanges": total_exchanges,
        "traffic_share": share(exchange_count),
        "accounts": [
            {
                "account_id": a.account_id,
                "exchanges": a.exchanges,
                "share": share(a.exchanges),
                "plan": a.plan,
                "org_id": a.org_id,
                "created_at": a.created_at.isoformat() if a.created_at else None,
                "other_open_cases": a.other_open_cases,
                "warnings": flagged.get(a.account_id, []),
            }
            for a in top
        ],
        "lookalike_count": lookalikes,
        "warnings": warnings[:MAX_WARNINGS],
        "warning_count": len(warnings),
        "accounts_in_other_cases": in_other,
        "other_open_cases": [
            {"case_id": case_id, "accounts": n}
            for case_id, n in sorted(other_cases.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }
