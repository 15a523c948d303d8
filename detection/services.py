"""Detection runs: load telemetry, call the pure detector, persist scores and campaigns.

A run is three steps, each safe to repeat:

1. ``detection_run_prepare``: pick the configuration and window, split accounts into chunks.
2. ``detection_chunk_compute`` (once per chunk, on any worker): read the chunk's exchanges,
   compute features, store them on the chunk. The chunk that completes the set says so.
3. ``detection_run_finalise``: combine the chunks, score, cluster, match campaigns to earlier
   ones and write ``AccountScore`` rows, all in one transaction.

``detection_run_start`` is how a run starts in the background (the admin's button, the beat
schedule): the tasks in ``detection.tasks`` do the steps fanned out across workers, and the
finalise task sends ``detection.hooks.run_succeeded`` when the run has succeeded.
``detection_run_execute`` does all three steps in the caller's process and returns the
finished run to it (the ``detect`` command, whose contract is one synchronous run).
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from django.db import connection, transaction
from django.db.models import Count, F, Max, Sum
from django.utils import timezone

from common.tasks import enqueue_on_commit
from detection import coaction, contract, naming
from detection import features as feat
from detection.allowlist import known_good_mask
from detection.analysis import ACCOUNT_SCHEMA, Analysis, analyse, campaign_evidence, hold_back
from detection.clustering import match_campaigns
from detection.config import DetectionParams, current_config
from detection.indicators.matching import (
    external_flag_counts,
    indicator_matches_refresh,
    watch_list_counts,
)
from detection.models import Account, AccountScore, Campaign, DetectionChunk, DetectionRun, Exchange
from detection.reach import ReachParts, chunk_reach, value_reach_write
from detection.scoring import explain
from detection.selectors import fleet_moves
from detection.signals import EXTERNAL_FLAGS, FLEET_MOVES, WATCH_LIST_MATCHES
from detection.templating import Bands, template_rows

log = logging.getLogger(__name__)
R = DetectionRun.Status
# Chunk payloads older than this many runs are dropped: a run's finalise step, redelivered
# or not, reads only its own.
KEEP_CHUNK_PAYLOADS = 3
# A run still queued or running after this long is presumed dead (its worker was lost) and
# no longer holds the beat schedule back.
STALE_AFTER = timedelta(hours=6)
# Account scores written per INSERT, each batch's rows made just before it (``_persist``).
SCORE_BATCH = 2000


def detection_run_create(*, triggered_by=None, config=None) -> DetectionRun:
    """A queued run with the current configuration (or ``config``)."""
    user = triggered_by if triggered_by is not None and triggered_by.is_authenticated else None
    return DetectionRun.objects.create(config=config or current_config(), triggered_by=user)


def _progress(run_id: int, **fields) -> None:
    DetectionRun.objects.filter(pk=run_id).update(**fields)


@transaction.atomic
def detection_run_prepare(*, run_id: int) -> list[int]:
    """Claim a queued run, fix its window and create its chunks; returns chunk indexes.

    A run that is already past this step returns its pending chunks again (a redelivered
    start task re-enqueues only what is not done).
    """
    run = DetectionRun.objects.select_for_update().get(pk=run_id)
    if run.status != R.QUEUED:
        if run.status != R.RUNNING:
            return []
        return list(
            run.chunks.filter(status=DetectionChunk.Status.PENDING).values_list("index", flat=True)
        )
    params = DetectionParams.from_stored(run.config.params)
    # The window ends at the newest plausible exchange: one dated in 2099 would otherwise
    # move it into the future, empty of everything else (detection.models.plausible_horizon).
    now = timezone.now()
    newest = Exchange.objects.plausible(now).aggregate(newest=Max("ts"))["newest"]
    quarantined = Exchange.objects.quarantined(now).count()
    start, end = feat.window_bounds(newest, params.window_days)
    _refresh_statistics()
    accounts, bounds = account_chunks(params, start, end)
    chunks = [
        DetectionChunk(run=run, index=i, account_from=first, account_to=last)
        for i, (first, last) in enumerate(bounds)
    ]
    DetectionChunk.objects.bulk_create(chunks)
    run.status = R.RUNNING
    run.stage = "features"
    run.progress = 5
    run.started_at = timezone.now()
    run.window_start, run.window_end = start, end
    run.chunks_total, run.chunks_done = len(chunks), 0
    run.counts = {"accounts": accounts, "quarantined": quarantined}
    run.save()
    return [c.index for c in chunks]


def account_chunks(
    params: DetectionParams, start: datetime | None, end: datetime | None
) -> tuple[int, list[tuple[int, int]]]:
    """The number of accounts, and their split into chunks as (first pk, last pk): at most
    ``chunk_size`` accounts and ``chunk_exchanges`` exchanges in the window a chunk."""
    pks = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    counts = window_exchange_counts(start, end) if start is not None else {}
    return len(pks), feat.chunk_bounds(pks, counts, params.chunk_size, params.chunk_exchanges)


def window_exchange_counts(start: datetime, end: datetime) -> dict[int, int]:
    """account pk -> its exchanges in the window (accounts with none left out): one grouped
    pass over the window's rows, on PostgreSQL over their months' partitions alone."""
    rows = (
        Exchange.objects.filter(ts__gte=start, ts__lt=end)
        .order_by()
        .values_list("account_id")
        .annotate(n=Count("*"))
    )
    return dict(rows)


def _refresh_statistics() -> None:
    """PostgreSQL: fresh planner statistics for the exchanges before the run reads them.

    A bulk load leaves the table's statistics as they were before it (ingest does not
    analyse, and autovacuum never analyses a partitioned parent and may not yet have reached
    the partitions): the planner then takes a partition of millions of rows for a few
    thousand, reads the whole window for the reach pass through the account index, row by
    row, and sizes its aggregates too small, so they spill to disk. ANALYZE reads a fixed
    sample of each partition (not the whole table), so its cost does not grow with the data.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Exchange._meta.db_table}")


# The stored exchange columns detection reads (those the contract gives a polars dtype).
_READ = tuple(f for f in contract.EXCHANGE_COLUMNS if f.polars is not None)


def load_exchanges(lo: int, hi: int, start: datetime, end: datetime) -> pl.DataFrame:
    """The chunk's exchanges in the window as a polars frame (``features.EXCHANGE_SCHEMA``),
    in one order whatever plan the database picks: some features keep the first text seen
    for a prompt hash, and a run must give the same results every time."""
    table = Exchange._meta.db_table
    where = (
        "WHERE account_id BETWEEN %s AND %s AND ts >= %s AND ts < %s ORDER BY account_id, ts, id"
    )
    if connection.vendor == "postgresql":
        return _copy_exchanges(table, where, [lo, hi, start, end])
    columns = ", ".join(f.name for f in _READ)
    sql = f"SELECT {columns} FROM {table} {where}"  # noqa: S608 (constants)
    # Times as the backend stores them (SQLite compares text: an aware time's "+00:00" would
    # leave out the rows at the window's first second).
    bounds = [connection.ops.adapt_datetimefield_value(t) for t in (start, end)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [lo, hi, *bounds])
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=list(feat.EXCHANGE_SCHEMA), orient="row").cast(
        feat.EXCHANGE_SCHEMA
    )


# How COPY's CSV carries a stored type polars cannot read from its text form: times as
# microseconds since the epoch, addresses without a prefix length, booleans as 0 and 1.
_AS_CSV = {
    "timestamptz": "(extract(epoch FROM {0}) * 1000000)::bigint",
    "inet": "host({0})",
    "bool": "{0}::int",
}


def _copy_exchanges(table: str, where: str, params: list) -> pl.DataFrame:
    """PostgreSQL: ``COPY ... TO STDOUT`` as CSV, parsed by polars.

    A chunk is hundreds of thousands of rows; fetching them as Python tuples cost more than
    computing the features, and its garbage grew with the chunk. CSV text goes from the
    socket to polars without a Python object per value.
    """
    columns = ", ".join(_AS_CSV.get(f.postgres, "{0}").format(f.name) for f in _READ)
    sql = f"COPY (SELECT {columns} FROM {table} {where}) TO STDOUT WITH (FORMAT csv)"  # noqa: S608
    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.cursor.copy(sql, params) as copy:
        for block in copy:
            buffer.write(block)
    schema = feat.EXCHANGE_SCHEMA
    if not buffer.tell():
        return pl.DataFrame(schema=schema)
    frame = pl.read_csv(
        buffer.getvalue(),
        has_header=False,
        new_columns=list(schema),
        schema={n: pl.Utf8 if t == pl.Utf8 else pl.Int64 for n, t in schema.items()},
    )
    return frame.with_columns(
        *(
            pl.col(n).cast(pl.Datetime(t.time_unit)).dt.replace_time_zone(t.time_zone)
            for n, t in schema.items()
            if isinstance(t, pl.Datetime)
        ),
        *(pl.col(n).cast(pl.Boolean) for n, t in schema.items() if t == pl.Boolean),
    ).cast(schema)


def _pack(chunk: feat.ChunkFeatures) -> bytes:
    buf = io.BytesIO()
    frames = {"features": chunk.features, "links": chunk.links, "models": chunk.models}
    if chunk.reach is not None:
        frames["reach"] = chunk.reach
    for name, frame in frames.items():
        part = io.BytesIO()
        frame.write_ipc(part, compression="zstd")
        data = part.getvalue()
        buf.write(name.encode().ljust(16, b" ") + len(data).to_bytes(8, "big") + data)
    return buf.getvalue()


def _unpack(payload: bytes) -> feat.ChunkFeatures:
    frames, view, pos = {}, memoryview(payload), 0
    while pos < len(view):
        name = bytes(view[pos : pos + 16]).decode().strip()
        size = int.from_bytes(view[pos + 16 : pos + 24], "big")
        frames[name] = pl.read_ipc(io.BytesIO(view[pos + 24 : pos + 24 + size]))
        pos += 24 + size
    return feat.ChunkFeatures(**frames)


def detection_chunk_compute(*, run_id: int, index: int) -> bool:
    """Compute one chunk. True when this call completed the run's last outstanding chunk."""
    chunk = DetectionChunk.objects.select_related("run__config").get(run_id=run_id, index=index)
    run = chunk.run
    if run.status != R.RUNNING:
        return False
    if chunk.status == DetectionChunk.Status.DONE:
        # A redelivery of a chunk already stored: the worker that stored it may have been
        # lost before it enqueued the finalise step, so a complete set enqueues it again
        # (finalise leaves a finished run as it is).
        return run.chunks_done >= run.chunks_total
    started = time.monotonic()
    params = DetectionParams.from_stored(run.config.params)
    if run.window_start is None:
        result = feat.ChunkFeatures.empty()
        exchanges = 0
    else:
        ex = load_exchanges(chunk.account_from, chunk.account_to, run.window_start, run.window_end)
        exchanges = ex.height
        result = feat.chunk_features(ex, params)
        result.reach = chunk_reach(ex)
    payload = _pack(result)
    with transaction.atomic():
        claimed = DetectionChunk.objects.filter(
            pk=chunk.pk, status=DetectionChunk.Status.PENDING
        ).update(
            status=DetectionChunk.Status.DONE,
            payload=payload,
            exchange_count=exchanges,
            seconds=time.monotonic() - started,
            finished_at=timezone.now(),
        )
        if not claimed:
            return False
        run = DetectionRun.objects.select_for_update().get(pk=run_id)
        run.chunks_done = F("chunks_done") + 1
        run.save(update_fields=["chunks_done"])
        run.refresh_from_db(fields=["chunks_done", "chunks_total"])
        run.progress = 5 + int(75 * run.chunks_done / max(run.chunks_total, 1))
        run.save(update_fields=["progress"])
        return run.chunks_done >= run.chunks_total


def detection_run_fail(*, run_id: int, error: str) -> None:
    DetectionRun.objects.filter(pk=run_id).exclude(status=R.SUCCEEDED).update(
        status=R.FAILED, error=error[:4000], finished_at=timezone.now()
    )


def run_analysis(run: DetectionRun, *, reach: ReachParts | None = None) -> Analysis | None:
    """Analyse ``run``'s stored chunk features under the run's own config; with ``reach``,
    hand it each chunk's partial reach on the way.

    The chunks are read one at a time, and their co-action cells and template bands (the
    largest of what they hold) are spilled to a temporary directory, the cells in parts of
    whole days and the bands in buckets of their keys, which the analysis reads back a part
    at a time: the step's memory does not grow with those rows."""
    payloads = (
        run.chunks.exclude(payload=None)
        .order_by("index")
        .values_list("payload", flat=True)
        .iterator(chunk_size=1)
    )
    with tempfile.TemporaryDirectory(prefix="detection-cells-") as spill:
        return analyse_chunks(
            (_unpack(bytes(p)) for p in payloads),
            window_start=run.window_start,
            window_end=run.window_end,
            params=DetectionParams.from_stored(run.config.params),
            before=run,
            spill=Path(spill),
            reach=reach,
        )


def analyse_chunks(
    chunks: Iterable[feat.ChunkFeatures],
    *,
    window_start: datetime,
    window_end: datetime,
    params: DetectionParams,
    before: DetectionRun | None,
    now: datetime | None = None,
    spill: Path | None = None,
    reach: ReachParts | None = None,
) -> Analysis | None:
    """Score, cluster and decide over the chunks' features; accounts on the known-good list
    at ``now`` are scored and held back from a flag (``detection.allowlist``). The chunks are
    read once, in turn; with ``spill`` (a directory), their co-action cells and template bands
    are written there rather than held in memory (``detection.coaction.Cells``,
    ``detection.templating.Bands``); with ``reach``, each chunk's partial reach goes to it."""
    cells = coaction.Cells(bucket_minutes=params.coaction_minutes, directory=spill)
    templates = Bands(directory=spill)
    parts: dict[str, list[pl.DataFrame]] = {"features": [], "links": [], "models": []}
    apart = pl.col("kind").is_in(["coaction", "template"])
    for chunk in chunks:
        if reach is not None:
            reach.add(chunk.reach)
        cells.add(chunk.links.filter(pl.col("kind") == "coaction").select("account", "key", "item"))
        templates.add(template_rows(chunk.links))
        parts["features"].append(chunk.features)
        parts["links"].append(_own_text(chunk.links.filter(~apart)))
        parts["models"].append(chunk.models)
        del chunk
    if not parts["features"]:
        return None
    features = pl.concat(parts.pop("features"))
    if features.is_empty():
        return None
    accounts = pl.DataFrame(
        list(
            Account.objects.filter(pk__in=features["account"].to_list()).values_list(
                "pk",
                "account_id",
                "plan",
                "org_id",
                "email_domain",
                "payment_fingerprint",
                "created_at",
            )
        ),
        schema=list(ACCOUNT_SCHEMA),
        orient="row",
    )
    pks = accounts["account"].to_list()
    columns = {
        FLEET_MOVES: fleet_moves(pks, before=before),
        WATCH_LIST_MATCHES: watch_list_counts(pks, now=window_end),
        EXTERNAL_FLAGS: external_flag_counts(pks),
    }
    accounts = accounts.with_columns(
        [
            pl.col("account").replace_strict(counts, default=0, return_dtype=pl.Int64).alias(name)
            for name, counts in columns.items()
        ]
    )
    analysis = analyse(
        features=features,
        links=pl.concat(parts.pop("links")),
        models=pl.concat(parts.pop("models")),
        templates=templates,
        accounts=accounts,
        window_start=window_start,
        window_end=window_end,
        params=params,
        cells=cells,
    )
    return hold_back(analysis, known_good_mask(analysis.frame, now))


def _own_text(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its text columns copied into buffers of their own. Text a frame was
    filtered down to still points into the buffers of the frame it came from (polars' string
    views): a chunk's few address and client links would keep its millions of co-action and
    template keys in memory until the analysis ends."""
    return frame.with_columns(pl.col(pl.String) + "")


def detection_run_finalise(*, run_id: int) -> DetectionRun:
    """Combine the chunks, score and cluster, persist. A finished run is left as it is."""
    run = DetectionRun.objects.select_related("config").get(pk=run_id)
    if run.status != R.RUNNING:
        return run
    _progress(run_id, stage="scoring", progress=82)
    started = time.monotonic()
    # Traffic of the window may show indicators imported before it arrived.
    indicator_matches_refresh(since=run.window_start)
    with tempfile.TemporaryDirectory(prefix="detection-reach-") as spill:
        exchanges = run.chunks.aggregate(n=Sum("exchange_count"))["n"] or 0
        parts = ReachParts(Path(spill), rows=exchanges)
        analysis = run_analysis(run, reach=parts)
        seconds = time.monotonic() - started
        # Before the run succeeds: the evidence its cases ask for next reads it.
        _progress(run_id, stage="reach of shared values", progress=90)
        reach = value_reach_write(run, parts)
    with transaction.atomic():
        run = DetectionRun.objects.select_for_update().get(pk=run_id)
        if run.status != R.RUNNING:
            return run
        counts = _persist(run, analysis)
        run.status = R.SUCCEEDED
        run.stage = "done"
        run.progress = 100
        run.finished_at = timezone.now()
        run.counts = {**run.counts, **counts, "reach_rows": reach["rows"]}
        chunk_seconds = sum(run.chunks.values_list("seconds", flat=True))
        run.timings = {
            "features_seconds": round(chunk_seconds, 2),
            "finalise_seconds": round(seconds, 2),
            "reach_seconds": reach["seconds"],
            "wall_seconds": round((run.finished_at - run.started_at).total_seconds(), 2),
        }
        run.save()
        old = DetectionRun.objects.filter(pk__lt=run.pk).order_by("-pk")[KEEP_CHUNK_PAYLOADS - 1 :]
        DetectionChunk.objects.filter(run__in=list(old.values_list("pk", flat=True))).exclude(
            payload=None
        ).update(payload=None)
    return run


def _previous_members() -> dict[int, set[int]]:
    members: dict[int, set[int]] = {}
    for campaign in Campaign.objects.filter(is_active=True, last_run__isnull=False):
        members[campaign.pk] = set(
            AccountScore.objects.filter(run=campaign.last_run_id, campaign=campaign).values_list(
                "account_id", flat=True
            )
        )
    return members


def _unique_name(campaign: Campaign) -> str:
    """The campaign's name by what it does; a second active campaign doing the same thing
    gets its number too, so no two live campaigns read alike."""
    name = naming.campaign_name(campaign.evidence)
    taken = Campaign.objects.filter(label=name, is_active=True).exclude(pk=campaign.pk).exists()
    return f"{name} (campaign {campaign.pk})" if taken else name


def _persist(run: DetectionRun, analysis: Analysis | None) -> dict:
    """Write scores and campaigns for ``run`` (replacing any from an interrupted attempt)."""
    AccountScore.objects.filter(run=run).delete()
    if analysis is None:
        Campaign.objects.filter(is_active=True).update(is_active=False)
        return {"scored": 0, "flagged": 0, "campaigns": 0, "exchanges": 0}
    decision, frame = analysis.decision, analysis.frame
    ids = frame["account"].to_list()
    exchanges = frame["exchanges"].to_list()
    tokens = frame["output_tokens"].to_list()
    total_exchanges = int(sum(exchanges))
    new = {c: {ids[i] for i in info["members"]} for c, info in decision.campaigns.items()}
    params = DetectionParams.from_stored(run.config.params)
    matched = match_campaigns(new, _previous_members(), min_overlap=params.campaign_min_overlap)
    campaign_for: dict[int, Campaign] = {}
    for community, info in decision.campaigns.items():
        rows = info["members"]
        fields = {
            "last_run": run,
            "member_count": len(rows),
            "exchange_count": int(sum(exchanges[i] for i in rows)),
            "risk_score": round(info["risk"], 4),
            "is_active": True,
            "evidence": {
                **campaign_evidence(analysis, rows),
                "signature": info.get("signature", []),
            },
        }
        if community in matched:
            campaign = Campaign.objects.get(pk=matched[community])
            for name, value in fields.items():
                setattr(campaign, name, value)
            if naming.is_numbered(campaign.label):
                campaign.label = _unique_name(campaign)
            campaign.save()
        else:
            campaign = Campaign.objects.create(label="", first_run=run, **fields)
            campaign.label = _unique_name(campaign)
            campaign.save(update_fields=["label"])
        campaign_for[community] = campaign
    Campaign.objects.filter(is_active=True).exclude(
        pk__in=[c.pk for c in campaign_for.values()]
    ).update(is_active=False)
    held = analysis.known_good if analysis.known_good is not None else np.zeros(len(ids), bool)
    # A batch of rows at a time: every account's row and explanation at once is hundreds of
    # MB of Python objects on a large run.
    for start in range(0, len(ids), SCORE_BATCH):
        AccountScore.objects.bulk_create(
            AccountScore(
                run=run,
                account_id=ids[i],
                risk_score=round(float(analysis.scores.risk[i]), 4),
                flagged=bool(decision.flagged[i]),
                campaign=campaign_for.get(int(decision.campaign_of[i])),
                signals=explain(analysis.scores, i),
                exchange_count=exchanges[i],
                output_tokens=tokens[i],
                known_good=bool(held[i]),
            )
            for i in range(start, min(start + SCORE_BATCH, len(ids)))
        )
    return {
        "scored": len(ids),
        "flagged": int(decision.flagged.sum()),
        "campaigns": len(campaign_for),
        "lone": int((decision.flagged & (decision.campaign_of < 0)).sum()),
        "exchanges": total_exchanges,
        "known_good": int(held.sum()),
    }


def detection_run_execute(*, run: DetectionRun) -> DetectionRun:
    """The whole run in this process: prepare, every chunk, finalise (the ``detect`` command)."""
    try:
        for index in detection_run_prepare(run_id=run.pk):
            detection_chunk_compute(run_id=run.pk, index=index)
        return detection_run_finalise(run_id=run.pk)
    except Exception as exc:
        log.exception("detection run %s failed", run.pk)
        detection_run_fail(run_id=run.pk, error=f"{type(exc).__name__}: {exc}")
        raise


def detection_run_start(*, triggered_by=None) -> DetectionRun:
    """Start a run on the workers: create it and enqueue its first task after commit.

    The one way a run starts in the background; ``run_succeeded`` follows its success.
    """
    run = detection_run_create(triggered_by=triggered_by)
    enqueue_on_commit("detection.tasks.detection_run_task", run.pk)
    return run


def detection_run_start_scheduled() -> DetectionRun | None:
    """The beat schedule's run, started only when no other run is in flight: runs never pile
    up behind a slow one."""
    busy = DetectionRun.objects.filter(
        status__in=[R.QUEUED, R.RUNNING], created_at__gte=timezone.now() - STALE_AFTER
    ).exists()
    return None if busy else detection_run_start()
