"""Exchanges partitioned by month on PostgreSQL: partitions made ahead, dropped whole.

On PostgreSQL ``detection_exchange`` is ``PARTITION BY RANGE (ts)`` (migration 0011): one
partition a calendar month (UTC), named ``detection_exchange_pYYYY_MM``, and a DEFAULT
partition, ``detection_exchange_default``, that takes any row no month holds, so ingest never
refuses a row for want of a partition. Why monthly and not weekly, and how the unique key
changed, is in docs/operations.md ("Partitioned telemetry").

The months kept as partitions run from the one holding the retention cut-off to
``TELEMETRY_PARTITIONS_AHEAD`` months past the current one: :func:`partitions_ensure` (the
``partition_exchanges`` command, and the daily beat task) creates the missing ones. A month
whose rows landed in the DEFAULT partition first (the command did not run in time) has them
moved into its new partition in the same transaction. Rows dated outside that span (older
than the cut-off, or far in the future: quarantined, see ``ExchangeQuerySet.plausible``) stay
in the DEFAULT partition, so an attacker's timestamps in 2099 or 1970 never make partitions;
retention deletes the old ones there row by row, and the future ones move into their month's
partition when the clock brings it within the span.

Retention (``detection.retention``) detaches and drops the partitions that end at or before
its cut-off (:func:`partitions_drop_before`).

On SQLite (and on a PostgreSQL table that is not partitioned) there are no partitions:
:func:`is_partitioned` is False and every function here does nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

PARENT = "detection_exchange"
DEFAULT = "detection_exchange_default"
NAME = re.compile(r"^detection_exchange_p(\d{4})_(\d{2})$")
# The longest a partition change waits for the table's lock: retention's DETACH needs the
# parent's exclusive lock, which a long read (a detection run) holds off, and every query
# that arrives meanwhile would queue behind the waiting DETACH.
LOCK_WAIT = "10s"


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime  # inclusive
    end: datetime  # exclusive


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def month_partition(moment: datetime) -> Partition:
    """The partition that holds ``moment``."""
    start = month_start(moment)
    return Partition(f"{PARENT}_p{start:%Y_%m}", start, add_months(start, 1))


def is_partitioned() -> bool:
    """True when the exchanges table is a partitioned table (PostgreSQL after migration 0011)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [PARENT])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def partitions_list() -> list[Partition]:
    """The monthly partitions attached to the table, oldest first (not the DEFAULT one)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [PARENT],
        )
        names = [name for (name,) in cursor.fetchall()]
    found = []
    for name in names:
        match = NAME.match(name)
        if match:
            found.append(month_partition(datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)))
    return sorted(found, key=lambda p: p.start)


def retention_cutoff(older_than_days: int | None = None, *, now: datetime | None = None):
    """The instant before which exchanges go (``TELEMETRY_RETENTION_DAYS`` by default)."""
    days = settings.TELEMETRY_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError("the retention period cannot be negative")
    return (now or timezone.now()) - timedelta(days=days)


def months_kept(*, ahead: int | None = None, now: datetime | None = None) -> list[Partition]:
    """The months that should have a partition: from the one holding the retention cut-off
    to ``ahead`` months past the current one."""
    now = now or timezone.now()
    ahead = settings.TELEMETRY_PARTITIONS_AHEAD if ahead is None else ahead
    first = month_start(retention_cutoff(now=now))
    last = add_months(month_start(now), ahead)
    months = []
    start = first
    while start <= last:
        months.append(month_partition(start))
        start = add_months(start, 1)
    return months


def _lock_wait(cursor) -> None:
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_WAIT])


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return cursor.fetchone()[0]


def partition_create(partition: Partition) -> int | None:
    """Attach ``partition`` unless it exists; returns how many rows it took from the DEFAULT
    partition, or None when it existed already (idempotent).

    The month is built as a plain table, filled with the rows of its month that the DEFAULT
    partition holds, then attached: a partition cannot be created while the DEFAULT one
    holds rows of its range. The DEFAULT partition is locked against writes first, so no
    row of the month can land there between the move and the attach.
    """
    if not is_partitioned():
        return None
    bounds = [partition.start, partition.end]
    with transaction.atomic(), connection.cursor() as cursor:
        if _exists(cursor, partition.name):
            return None
        _lock_wait(cursor)
        cursor.execute(f"LOCK TABLE {DEFAULT} IN EXCLUSIVE MODE")
        if _exists(cursor, partition.name):  # made by a concurrent call meanwhile
            return None
        # Names are ours (PARENT, DEFAULT, and month_partition's digits), never input.
        cursor.execute(
            f"CREATE TABLE {partition.name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING STORAGE)"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE ts >= %s AND ts < %s RETURNING *) "  # noqa: S608
            f"INSERT INTO {partition.name} SELECT * FROM moved",
            bounds,
        )
        moved = cursor.rowcount
        # Attaching builds the parent's indexes on the new table and checks its rows.
        cursor.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {partition.name} FOR VALUES FROM (%s) TO (%s)",
            bounds,
        )
    return moved


@dataclass
class EnsureResult:
    created: list[str]
    moved: int = 0  # rows taken out of the DEFAULT partition into the new ones


def partitions_ensure(*, ahead: int | None = None, now: datetime | None = None) -> EnsureResult:
    """Create the missing partitions of :func:`months_kept` (idempotent)."""
    result = EnsureResult(created=[])
    if not is_partitioned():
        return result
    for partition in months_kept(ahead=ahead, now=now):
        moved = partition_create(partition)
        if moved is not None:
            result.created.append(partition.name)
            result.moved += moved
    return result


def partitions_before(cutoff: datetime) -> list[Partition]:
    """The partitions whose every row is older than ``cutoff``."""
    return [p for p in partitions_list() if p.end <= cutoff]


def partition_drop(partition: Partition) -> int:
    """Detach and drop one partition; returns how many rows it held.

    A plain DETACH, which takes the parent's exclusive lock for a moment: ``DETACH ...
    CONCURRENTLY`` is refused while a DEFAULT partition exists. ``LOCK_WAIT`` bounds the wait;
    past it the database error propagates and the prune is retried later.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_wait(cursor)
        cursor.execute(f"SELECT count(*) FROM {partition.name}")  # noqa: S608 (our name)
        (rows,) = cursor.fetchone()
        cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {partition.name}")
        cursor.execute(f"DROP TABLE {partition.name}")
    return rows
