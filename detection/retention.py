"""Telemetry retention: delete exchanges older than ``TELEMETRY_RETENTION_DAYS``.

Only exchanges go. Accounts (and placeholders), scores, campaigns, cases, evidence snapshots
and the audit log are kept: evidence is a frozen copy made when it was collected, so a case
still explains itself after the raw telemetry behind it has aged out.

Deletes walk forward through time in windows of ``ts``, each window its own short
transaction, so a prune of millions of rows never holds one huge transaction, never builds a
giant WAL burst, and can be interrupted and re-run (it is idempotent: the next run starts from
the oldest exchange that is left). A time window is what the BRIN index on ``ts`` answers
cheaply; a ``LIMIT``ed ``DELETE`` would have to scan from the start of the table every time.
The window widens while windows are sparse and narrows when one holds more than a batch, so
each transaction deletes roughly ``batch_size`` rows whatever the traffic density.

On PostgreSQL, where exchanges are partitioned by month (:mod:`detection.partitions`), a
month whose every row is older than the cutoff goes first and whole: detached and dropped, no
row deleted one by one, no dead rows left for vacuum, its space back at once. The windowed
deletes then only meet the partition that straddles the cutoff (pruned daily, that is one
day's rows a day, as before) and old rows the DEFAULT partition holds. A prune after a pause,
or after the retention period was shortened, drops months instead of deleting millions of
rows.

The files that hold the same telemetry go on the same schedule: staff uploads under
``DATA_DIR/uploads`` and reject files (raw lines, so raw prompts) under ``DATA_DIR/rejects``,
by modification time. Their ``IngestReport`` rows stay, as the exchanges' accounts do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min

from detection.models import Exchange, IngestReport
from detection.partitions import partition_drop, partitions_before, retention_cutoff

logger = logging.getLogger(__name__)

BATCH_SIZE = 50_000
FIRST_WINDOW = timedelta(hours=1)
MIN_WINDOW = timedelta(seconds=1)
MAX_WINDOW = timedelta(days=30)
# The names the app gives the files it writes (detection.ingest.uploads.upload_create and
# detection.ingest.service._write_entries): anything else in the folder is not ours to delete.
UPLOAD_NAMES = "????????T??????Z-????????-*"
REJECT_NAMES = "????????T??????Z-*.rejects.jsonl"


@dataclass
class PruneResult:
    cutoff: datetime
    deleted: int = 0
    batches: int = 0
    partitions: int = 0  # whole monthly partitions dropped (their rows are in ``deleted``)
    dry_run: bool = False


@dataclass
class FilesPruneResult:
    cutoff: datetime
    uploads: int = 0
    rejects: int = 0
    dry_run: bool = False


def _delete_window(start: datetime, end: datetime) -> int:
    table = connection.ops.quote_name(Exchange._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE ts >= %s AND ts < %s",  # noqa: S608 (model's table)
            # Adapted as the ORM would (SQLite stores datetimes as text in its own format).
            [connection.ops.adapt_datetimefield_value(v) for v in (start, end)],
        )
        return cursor.rowcount


def telemetry_prune(
    *,
    older_than_days: int | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> PruneResult:
    """Delete (or, with ``dry_run``, count) exchanges whose ``ts`` is before the cutoff."""
    cutoff = retention_cutoff(older_than_days, now=now)
    old = Exchange.objects.filter(ts__lt=cutoff)
    result = PruneResult(cutoff=cutoff, dry_run=dry_run)
    if dry_run:
        result.deleted = old.count()
        return result
    for partition in partitions_before(cutoff):
        result.deleted += partition_drop(partition)
        result.partitions += 1
        logger.info("dropped exchange partition %s", partition.name)
    start = old.aggregate(oldest=Min("ts"))["oldest"]
    window = FIRST_WINDOW
    while start is not None and start < cutoff:
        end = min(start + window, cutoff)
        deleted = _delete_window(start, end)
        result.deleted += deleted
        result.batches += 1
        start = end
        if deleted > batch_size and window > MIN_WINDOW:
            window = max(window / 2, MIN_WINDOW)
        elif deleted < batch_size // 2:
            if deleted == 0:
                # A gap in the traffic: jump to the next exchange instead of crawling to it.
                start = Exchange.objects.filter(ts__gte=end, ts__lt=cutoff).aggregate(
                    oldest=Min("ts")
                )["oldest"]
            window = min(window * 2, MAX_WINDOW)
    logger.info(
        "pruned %d exchanges older than %s: %d partitions dropped, %d batches deleted",
        result.deleted,
        cutoff.isoformat(),
        result.partitions,
        result.batches,
    )
    return result


def old_files_prune(
    directory: Path,
    pattern: str,
    cutoff: datetime,
    *,
    keep: Collection[str] = (),
    dry_run: bool = False,
) -> list[Path]:
    """Delete (or, with ``dry_run``, list) the files in ``directory`` named like ``pattern``
    whose modification time is before ``cutoff``, except the real paths in ``keep``.

    Only regular files directly in the folder: symlinks and subfolders are never followed,
    so nothing outside it is touched. A missing folder has nothing to prune.
    """
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    kept = {os.path.realpath(p) for p in keep}
    limit = cutoff.timestamp()
    pruned = []
    for entry in entries:
        if not entry.is_file(follow_symlinks=False) or not fnmatch(entry.name, pattern):
            continue
        if entry.stat(follow_symlinks=False).st_mtime >= limit:
            continue
        if os.path.realpath(entry.path) in kept:
            continue
        if not dry_run:
            Path(entry.path).unlink(missing_ok=True)
        pruned.append(Path(entry.path))
    return pruned


def telemetry_files_prune(
    *, older_than_days: int | None = None, dry_run: bool = False, now: datetime | None = None
) -> FilesPruneResult:
    """Delete (or count) uploads and reject files written before the telemetry cutoff.

    An upload whose ingest is still queued or running is kept, and so is its reject file:
    the worker (or its redelivery) still reads the one and appends to the other.
    """
    cutoff = retention_cutoff(older_than_days, now=now)
    in_flight = IngestReport.objects.filter(
        status__in=[IngestReport.Status.QUEUED, IngestReport.Status.RUNNING]
    ).values_list("path", "reject_path")
    keep = [p for paths in in_flight for p in paths if p]
    data = Path(settings.DATA_DIR)
    result = FilesPruneResult(cutoff=cutoff, dry_run=dry_run)
    result.uploads = len(
        old_files_prune(data / "uploads", UPLOAD_NAMES, cutoff, keep=keep, dry_run=dry_run)
    )
    result.rejects = len(
        old_files_prune(data / "rejects", REJECT_NAMES, cutoff, keep=keep, dry_run=dry_run)
    )
    if not dry_run:
        logger.info(
            "pruned %d upload files and %d reject files older than %s",
            result.uploads,
            result.rejects,
            cutoff.isoformat(),
        )
    return result
