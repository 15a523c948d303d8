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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from detection.models import Exchange

logger = logging.getLogger(__name__)

BATCH_SIZE = 50_000
FIRST_WINDOW = timedelta(hours=1)
MIN_WINDOW = timedelta(seconds=1)
MAX_WINDOW = timedelta(days=30)


@dataclass
class PruneResult:
    cutoff: datetime
    deleted: int = 0
    batches: int = 0
    dry_run: bool = False


def retention_cutoff(older_than_days: int | None = None, *, now: datetime | None = None):
    """The instant before which exchanges go (``TELEMETRY_RETENTION_DAYS`` by default)."""
    days = settings.TELEMETRY_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError("the retention period cannot be negative")
    return (now or timezone.now()) - timedelta(days=days)


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
        "pruned %d exchanges older than %s in %d batches",
        result.deleted,
        cutoff.isoformat(),
        result.batches,
    )
    return result
