"""From a finished detection run to cases: the one place that reads detection for ``cases``.

Detection names no other app and ``cases`` takes plain data, so the step between them lives
here: read what a succeeded ``DetectionRun`` flagged (its campaigns, then its lone accounts)
into ``FlaggedSubject`` values and hand them to ``cases_open_for_subjects``, which owns the
rules (one live case per subject, analysts' fields untouched, reopening, evidence requests).
"""

from __future__ import annotations

from collections import defaultdict
from statistics import median

from cases.models import Case
from cases.services.opening import FlaggedSubject, RunRef, SyncResult, cases_open_for_subjects
from detection.models import AccountScore, Campaign, DetectionRun
from detection.naming import campaign_title
from detection.scoring import representative_signal


def campaign_explanation(campaign: Campaign, scores: list[AccountScore]) -> dict:
    """Per signal across the members: median value, mean contribution, a representative reason."""
    by_name: dict[str, list[dict]] = defaultdict(list)
    for score in scores:
        for sig in score.signals or []:
            by_name[sig["name"]].append(sig)
    n = max(len(scores), 1)
    signals = []
    for name, sigs in by_name.items():
        mid = median(s["value"] for s in sigs)
        norm = median(s["norm"] for s in sigs)
        representative = representative_signal(sigs, value=mid, norm=norm)
        signals.append(
            {
                "name": name,
                "value": mid,
                "threshold": representative["threshold"],
                "norm": norm,
                "contribution": round(sum(s["contribution"] for s in sigs) / n, 4),
                "reason": f"{len(sigs) / n:.0%} of the {n} accounts: {representative['reason']}",
            }
        )
    signals.sort(key=lambda s: -s["contribution"])
    summary = (campaign.evidence or {}).get("summary") or f"{n} linked accounts"
    return {"summary": summary, "signals": signals[:8], "campaign": campaign.label}


def run_subjects(run: DetectionRun) -> list[FlaggedSubject]:
    """What ``run`` flagged: its campaigns, then its lone accounts."""
    flagged = AccountScore.objects.filter(run=run, flagged=True).select_related(
        "account", "campaign"
    )
    members: dict[int, list[AccountScore]] = defaultdict(list)
    lone = []
    for score in flagged:
        if score.campaign_id:
            members[score.campaign_id].append(score)
            continue
        lone.append(
            FlaggedSubject(
                key=f"account:{score.account.account_id}",
                kind=Case.Kind.ACCOUNT,
                title=f"Account {score.account.account_id}",
                risk=score.risk_score,
                accounts={score.account_id: score.risk_score},
                exchanges=score.exchange_count,
                explanation={
                    "summary": score.signals[0]["reason"] if score.signals else "",
                    "signals": score.signals,
                },
            )
        )
    campaigns = []
    for scores in members.values():
        campaign = scores[0].campaign
        campaigns.append(
            FlaggedSubject(
                key=f"campaign:{campaign.pk}",
                kind=Case.Kind.CAMPAIGN,
                title=campaign_title(campaign.label, len(scores)),
                risk=campaign.risk_score,
                accounts={s.account_id: s.risk_score for s in scores},
                exchanges=sum(s.exchange_count for s in scores),
                explanation=campaign_explanation(campaign, scores),
                campaign_id=campaign.pk,
            )
        )
    return campaigns + lone


def cases_sync(*, run: DetectionRun) -> SyncResult:
    """Open or update the cases for ``run``; nothing for a run that has not succeeded."""
    if run.status != DetectionRun.Status.SUCCEEDED:
        return SyncResult()
    return cases_open_for_subjects(
        subjects=run_subjects(run),
        run=RunRef(id=run.pk, exchanges=int((run.counts or {}).get("exchanges") or 0)),
    )
