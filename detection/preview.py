"""Backtest: what a parameter set would flag on the latest run, without saving anything."""

from __future__ import annotations

from detection.config import DetectionParams
from detection.models import AccountScore, DetectionRun
from detection.services import run_analysis

SHOW = 50


def preview_params(params: DetectionParams) -> dict | None:
    """Compare the latest run's flags with those ``params`` would raise on its features."""
    run = (
        DetectionRun.objects.filter(
            status=DetectionRun.Status.SUCCEEDED, chunks__payload__isnull=False
        )
        .select_related("config")
        .order_by("-pk")
        .first()
    )
    if run is None:
        return None
    analysis = run_analysis(run, params)
    if analysis is None:
        return None
    before = dict(
        AccountScore.objects.filter(run=run).values_list("account__account_id", "flagged")
    )
    ids = analysis.frame["account_id"].to_list()
    decision = analysis.decision
    after = {a: bool(f) for a, f in zip(ids, decision.flagged.tolist(), strict=True)}
    risk = dict(zip(ids, analysis.scores.risk.tolist(), strict=True))
    reasons = {}
    newly = [a for a in ids if after[a] and not before.get(a)]
    gone = [a for a in ids if before.get(a) and not after[a]]
    position = {a: i for i, a in enumerate(ids)}
    for a in newly[:SHOW]:
        i = position[a]
        top = analysis.scores.contributions[i].argmax()
        reasons[a] = analysis.scores.signals[top].explain(i)
    run_counts = run.counts or {}
    return {
        "run_id": run.pk,
        "run_version": run.config.version,
        "scored": len(ids),
        "before": {
            "flagged": run_counts.get("flagged", 0),
            "campaigns": run_counts.get("campaigns", 0),
            "lone": run_counts.get("lone", 0),
        },
        "after": {
            "flagged": int(decision.flagged.sum()),
            "campaigns": len(decision.campaigns),
            "lone": int((decision.flagged & (decision.campaign_of < 0)).sum()),
        },
        "newly_flagged_count": len(newly),
        "newly_flagged": [
            {"account_id": a, "risk": risk[a], "reason": reasons.get(a, "")} for a in newly[:SHOW]
        ],
        "unflagged_count": len(gone),
        "unflagged": [{"account_id": a, "risk": risk[a]} for a in gone[:SHOW]],
    }
