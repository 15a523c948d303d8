"""Backtests: a draft configuration beside the version in force, over a window of stored
telemetry, with nothing written but the comparison.

A backtest reads the window's exchanges once per chunk of accounts, as a run does, computes
the features once, and for the draft again only the parts of them whose parameters it
changes (``features.PARTS``, ``features.chunk_features_beside``), then
scores, clusters and decides under each version as the next run would (the known-good list
as it holds now, fleet moves against the last successful run). It stores each account's risk
and flag under both, and each flagged community matched to the other version's and to the
persisted campaigns; it never writes an ``AccountScore`` or ``Campaign`` and never opens a
case. Comparing the flags with analysts' labels is for the rooms above (``cases.labels``).

A draft in shadow gets such a comparison after every scheduled run that succeeds, over that
run's window and beside that run's version, until its shadow period ends: the same
comparison, accumulated over time (``config_shadow``, ``shadow_start``).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from common.tasks import enqueue_on_commit
from detection import features as feat
from detection.analysis import Analysis
from detection.clustering import match_campaigns
from detection.config import DetectionParams, current_config
from detection.models import (
    Backtest,
    BacktestAccount,
    BacktestCampaign,
    Campaign,
    DetectionConfig,
    Exchange,
)
from detection.services import (
    _previous_members,
    account_chunks,
    analyse_chunks,
    load_exchanges,
)

log = logging.getLogger(__name__)
B = Backtest.Status
TASK = "detection.tasks.backtest_task"


class Cancelled(Exception):
    """The backtest was cancelled between two chunks."""


def backtest_default_window(config: DetectionConfig | None = None) -> tuple[datetime, datetime]:
    """The window the next run would read: ``window_days`` up to the newest plausible exchange
    (up to now when there is none)."""
    params = DetectionParams.from_stored((config or current_config()).params)
    newest = Exchange.objects.plausible().aggregate(newest=Max("ts"))["newest"]
    start, end = feat.window_bounds(newest or timezone.now(), params.window_days)
    return start, end


@transaction.atomic
def backtest_start(
    *, config: DetectionConfig, window_start: datetime, window_end: datetime, by=None
) -> Backtest:
    """Queue a backtest of ``config`` against the version in force; it runs in a task."""
    if window_end <= window_start:
        raise ValidationError("the window must end after it starts")
    baseline = current_config()
    backtest = Backtest.objects.create(
        config=config,
        baseline=baseline,
        window_start=window_start,
        window_end=window_end,
        created_by=by if by is not None and by.is_authenticated else None,
    )
    enqueue_on_commit(TASK, backtest.pk)
    return backtest


# The longest a draft runs in shadow before someone decides about it.
MAX_SHADOW_DAYS = 90


@transaction.atomic
def config_shadow(*, config: DetectionConfig, days: int) -> DetectionConfig:
    """Run a draft in shadow for ``days`` (0 stops it): each scheduled run that succeeds
    until then gets a backtest of the draft over its own window, beside its own version."""
    if not config.is_draft and days:
        raise ValidationError("only a draft runs in shadow; the version in force runs for real")
    if not 0 <= days <= MAX_SHADOW_DAYS:
        raise ValidationError(f"a draft runs in shadow for 1 to {MAX_SHADOW_DAYS} days")
    until = timezone.now() + timedelta(days=days) if days else None
    DetectionConfig.objects.filter(pk=config.pk).update(shadow_until=until)
    config.refresh_from_db(fields=["shadow_until"])
    return config


def shadow_start(*, run) -> list[Backtest]:
    """After ``run`` succeeded: queue a shadow comparison for each draft in shadow. At most
    one per run and draft, so a redelivered hook adds nothing."""
    started = []
    if run.window_start is None:
        return started
    drafts = DetectionConfig.objects.filter(is_draft=True, shadow_until__gt=timezone.now()).exclude(
        backtests__run=run
    )
    for config in drafts:
        with transaction.atomic():
            backtest, created = Backtest.objects.get_or_create(
                run=run,
                config=config,
                defaults={
                    "baseline": run.config,
                    "window_start": run.window_start,
                    "window_end": run.window_end,
                },
            )
            if created:
                enqueue_on_commit(TASK, backtest.pk)
                started.append(backtest)
    return started


def backtest_cancel(*, backtest: Backtest) -> Backtest:
    """Ask a backtest to stop: a queued one stops now, a running one after its chunk."""
    Backtest.objects.filter(pk=backtest.pk, status=B.QUEUED).update(
        status=B.CANCELLED, cancel_requested=True, finished_at=timezone.now(), stage="cancelled"
    )
    Backtest.objects.filter(pk=backtest.pk, status=B.RUNNING).update(cancel_requested=True)
    backtest.refresh_from_db()
    return backtest


def _progress(backtest_id: int, **fields) -> None:
    """Record progress, and stop here if someone asked to cancel."""
    Backtest.objects.filter(pk=backtest_id).update(**fields)
    if Backtest.objects.filter(pk=backtest_id, cancel_requested=True).exists():
        raise Cancelled


def backtest_execute(*, backtest_id: int) -> Backtest:
    """Run a queued backtest to the end in this process (its task calls this)."""
    claimed = Backtest.objects.filter(pk=backtest_id, status=B.QUEUED).update(
        status=B.RUNNING, started_at=timezone.now(), stage="features", progress=1
    )
    backtest = Backtest.objects.select_related("config", "baseline").get(pk=backtest_id)
    if not claimed:
        return backtest
    try:
        counts, timings = _compare(backtest)
    except Cancelled:
        Backtest.objects.filter(pk=backtest_id).update(
            status=B.CANCELLED, stage="cancelled", finished_at=timezone.now()
        )
    except Exception as exc:
        log.exception("backtest %s failed", backtest_id)
        Backtest.objects.filter(pk=backtest_id).update(
            status=B.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000], finished_at=timezone.now()
        )
    else:
        Backtest.objects.filter(pk=backtest_id).update(
            status=B.SUCCEEDED,
            stage="done",
            progress=100,
            counts=counts,
            timings=timings,
            finished_at=timezone.now(),
        )
    backtest.refresh_from_db()
    return backtest


def _compare(backtest: Backtest) -> tuple[dict, dict]:
    base = DetectionParams.from_stored(backtest.baseline.params)
    draft = DetectionParams.from_stored(backtest.config.params)
    # The parts of the features the draft computes differently; the rest is shared.
    redo = feat.changed_parts(base, draft)
    _, parts = account_chunks(base, backtest.window_start, backtest.window_end)
    base_chunks, draft_chunks = [], []
    started = time.monotonic()
    exchanges = 0
    for i, part in enumerate(parts):
        ex = load_exchanges(*part, backtest.window_start, backtest.window_end)
        exchanges += ex.height
        chunk = feat.chunk_features(ex, base)
        base_chunks.append(chunk)
        draft_chunks.append(feat.chunk_features_beside(ex, draft, chunk, base) if redo else chunk)
        _progress(backtest.pk, progress=1 + int(79 * (i + 1) / len(parts)))
    features_seconds = time.monotonic() - started
    _progress(backtest.pk, stage="scoring", progress=82)
    started = time.monotonic()
    now = timezone.now()
    window = {"window_start": backtest.window_start, "window_end": backtest.window_end}
    before = analyse_chunks(base_chunks, params=base, before=None, now=now, **window)
    _progress(backtest.pk, progress=90)
    after = analyse_chunks(draft_chunks, params=draft, before=None, now=now, **window)
    scoring_seconds = time.monotonic() - started
    _progress(backtest.pk, stage="saving", progress=95)
    with transaction.atomic():
        counts = _save(backtest, before, after)
    counts["exchanges"] = exchanges
    counts["shared_features"] = not redo
    counts["recomputed_features"] = sorted(redo)
    return counts, {
        "features_seconds": round(features_seconds, 2),
        "scoring_seconds": round(scoring_seconds, 2),
    }


def _flags(analysis: Analysis | None) -> dict[int, tuple[float, bool, int, dict]]:
    """account pk -> (risk, flagged, community, {signal: contribution} of those that fired)."""
    if analysis is None:
        return {}
    ids = analysis.frame["account"].to_list()
    scores, decision = analysis.scores, analysis.decision
    names = [s.name for s in scores.signals]
    out = {}
    for i, pk in enumerate(ids):
        row = scores.contributions[i]
        fired = {names[j]: round(float(row[j]), 4) for j in np.flatnonzero(row > 0)}
        out[pk] = (
            round(float(scores.risk[i]), 4),
            bool(decision.flagged[i]),
            int(decision.campaign_of[i]),
            fired,
        )
    return out


def _communities(analysis: Analysis | None) -> dict[int, set[int]]:
    if analysis is None:
        return {}
    ids = analysis.frame["account"].to_list()
    return {
        int(c): {ids[i] for i in info["members"]} for c, info in analysis.decision.campaigns.items()
    }


def _save(backtest: Backtest, before: Analysis | None, after: Analysis | None) -> dict:
    BacktestAccount.objects.filter(backtest=backtest).delete()
    BacktestCampaign.objects.filter(backtest=backtest).delete()
    old, new = _flags(before), _flags(after)
    rows = []
    for pk in sorted(set(old) | set(new)):
        b = old.get(pk, (0.0, False, -1, {}))
        d = new.get(pk, (0.0, False, -1, {}))
        rows.append(
            BacktestAccount(
                backtest=backtest,
                account_id=pk,
                base_risk=b[0],
                draft_risk=d[0],
                base_flagged=b[1],
                draft_flagged=d[1],
                base_community=b[2],
                draft_community=d[2],
                draft_signals=d[3],
            )
        )
    BacktestAccount.objects.bulk_create(rows, batch_size=2000)
    base_groups, draft_groups = _communities(before), _communities(after)
    persisted = _previous_members()
    risk = {
        "base": {c: i["risk"] for c, i in (before.decision.campaigns.items() if before else [])},
        "draft": {c: i["risk"] for c, i in (after.decision.campaigns.items() if after else [])},
    }
    # A draft community is the same campaign as a base one when enough members overlap,
    # by the rule runs use to keep a campaign's identity.
    params = DetectionParams.from_stored(backtest.config.params)
    kept = match_campaigns(draft_groups, base_groups, min_overlap=params.campaign_min_overlap)
    known = {
        "base": match_campaigns(base_groups, persisted, min_overlap=params.campaign_min_overlap),
        "draft": match_campaigns(draft_groups, persisted, min_overlap=params.campaign_min_overlap),
    }
    existing = set(Campaign.objects.filter(pk__in=persisted).values_list("pk", flat=True))
    campaigns = []
    for side, groups in (("base", base_groups), ("draft", draft_groups)):
        matched = set(kept.values()) if side == "base" else set(kept)
        for community, members in groups.items():
            if community in matched:
                change = BacktestCampaign.Change.KEPT
            else:
                change = (
                    BacktestCampaign.Change.GONE if side == "base" else BacktestCampaign.Change.NEW
                )
            campaign = known[side].get(community)
            campaigns.append(
                BacktestCampaign(
                    backtest=backtest,
                    side=side,
                    community=community,
                    change=change,
                    member_count=len(members),
                    risk=round(float(risk[side].get(community, 0)), 4),
                    campaign_id=campaign if campaign in existing else None,
                )
            )
    BacktestCampaign.objects.bulk_create(campaigns)
    return {
        "scored": len(rows),
        "base_flagged": sum(r.base_flagged for r in rows),
        "draft_flagged": sum(r.draft_flagged for r in rows),
        "newly_flagged": sum(r.draft_flagged and not r.base_flagged for r in rows),
        "no_longer_flagged": sum(r.base_flagged and not r.draft_flagged for r in rows),
        "base_campaigns": len(base_groups),
        "draft_campaigns": len(draft_groups),
        "new_campaigns": sum(c.change == BacktestCampaign.Change.NEW for c in campaigns),
        "gone_campaigns": sum(c.change == BacktestCampaign.Change.GONE for c in campaigns),
    }
