"""What a detection run decided, in terms that do not depend on database keys.

Two runs over the same data, by different code or in different databases, decided the same
if these are equal: ``bench/detect_run.py --dump`` writes them to compare two runs, and
tests/detection/test_run_pinned.py holds a run on fixed cohorts to them.
"""

from __future__ import annotations

from detection.models import AccountScore, Campaign, DetectionRun, ValueReach


def run_outcome(run: DetectionRun) -> dict:
    """The run's counts and window; every account's ``[risk, flagged, known_good, exchanges,
    output_tokens, signals]``, followed by the first member of its campaign when it has one;
    each campaign's members (account ids, sorted) with its risk, counts and evidence, sorted
    by first member; the reach rows ``[kind, value, accounts, first use]``, sorted."""
    scores = AccountScore.objects.filter(run=run).values_list(
        "account__account_id",
        "risk_score",
        "flagged",
        "known_good",
        "exchange_count",
        "output_tokens",
        "signals",
        "campaign_id",
    )
    members: dict[int, list[str]] = {}
    accounts = {}
    for account, risk, flagged, held, n, tokens, signals, campaign in scores:
        accounts[account] = [risk, flagged, held, n, tokens, signals]
        if campaign is not None:
            members.setdefault(campaign, []).append(account)
    campaigns = []
    for campaign in Campaign.objects.filter(pk__in=list(members)):
        names = sorted(members[campaign.pk])
        campaigns.append(
            {
                "members": names,
                "risk": campaign.risk_score,
                "member_count": campaign.member_count,
                "exchange_count": campaign.exchange_count,
                "evidence": campaign.evidence,
            }
        )
        for name in names:
            accounts[name].append(names[0])
    reach = sorted(
        (kind, value, n, first.isoformat() if first else None)
        for kind, value, n, first in ValueReach.objects.filter(run=run).values_list(
            "kind", "value", "accounts", "first_ts"
        )
    )
    return {
        "counts": dict(run.counts or {}),
        "window": [
            run.window_start.isoformat() if run.window_start else None,
            run.window_end.isoformat() if run.window_end else None,
        ],
        "accounts": accounts,
        "campaigns": sorted(campaigns, key=lambda c: c["members"][0]),
        "reach": [list(r) for r in reach],
    }
