"""Reach of shared values in a run's window: counted from the run's own chunks.

Evidence shows, for a case's busiest addresses, ASNs, clients and templates, how many
accounts *outside* the case used them, and when each model was first seen anywhere. Asking
the exchange table that per case scans the whole window (those columns have no index, which
ingest could not afford), so a run's evidence cost cases times traffic. Here each kind is
counted once for the run and stored in ``ValueReach`` with an index for the lookups; rows
are bounded by the values at least two accounts share.

The run's chunk step already reads every exchange of the window, each account in exactly
one chunk: so each chunk counts the accounts behind every value among its own exchanges
(``chunk_reach``), and a value's accounts in the window are the sum over the chunks. The
finalise step spills those partial counts to disk in parts by value as it reads the chunks
(``ReachParts``) and adds them up a part at a time; nothing reads the window again, and
memory is bounded by a part whatever the run's size.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
from django.db import connection, transaction

from detection.models import DetectionRun, ValueReach

# Cut so that the lookup index takes any value: 500 characters are at most 2,000 bytes of
# UTF-8, under the btree row limit.
VALUE_CHARS = 500
# Runs whose reach is kept (older cases fall back to scanning their window).
KEEP_RUNS = 3
# The most partial rows one part of the reach adds up at once (``ReachParts``).
REACH_PART_ROWS = 4_000_000
REACH_SCHEMA = {
    "kind": pl.Utf8,
    "value": pl.Utf8,
    "accounts": pl.Int64,
    "first_ts": pl.Datetime("us", "UTC"),
}


def reach_key(value) -> str:
    return str(value)[:VALUE_CHARS]


def as_text(column: str, *, address: bool = False) -> str:
    """SQL for ``column`` as the text ``reach_key`` gives for the same value in Python."""
    if connection.vendor == "postgresql":
        expr = f"host({column})" if address else f"{column}::text"
    else:
        expr = f"CAST({column} AS TEXT)"
    return f"substr({expr}, 1, {VALUE_CHARS})"


def _values() -> dict[str, pl.Expr]:
    """kind -> a chunk frame's value as the text ``reach_key`` gives (null where none)."""
    return {
        ValueReach.Kind.IP.value: pl.col("ip"),
        ValueReach.Kind.ASN.value: pl.col("asn").cast(pl.Utf8),
        ValueReach.Kind.USER_AGENT.value: pl.when(pl.col("user_agent") != "").then("user_agent"),
        ValueReach.Kind.TEMPLATE.value: pl.col("prompt_hash").cast(pl.Utf8),
        ValueReach.Kind.MODEL.value: pl.col("model"),
    }


def chunk_reach(ex: pl.DataFrame) -> pl.DataFrame:
    """``REACH_SCHEMA``: per kind and value in one chunk's exchanges (``EXCHANGE_SCHEMA``),
    how many of the chunk's accounts used it, and for a model its first use."""
    model = ValueReach.Kind.MODEL.value
    frames = [
        ex.select("account", "ts", value.str.slice(0, VALUE_CHARS).alias("value"))
        .drop_nulls("value")
        .group_by("value")
        .agg(
            pl.col("account").n_unique().alias("accounts"),
            (pl.col("ts").min() if kind == model else pl.lit(None)).alias("first_ts"),
        )
        .select(pl.lit(kind).alias("kind"), "value", "accounts", "first_ts")
        .cast(REACH_SCHEMA)
        for kind, value in _values().items()
    ]
    return pl.concat(frames)


class ReachParts:
    """The chunks' partial reach (``chunk_reach``), spilled to ``directory`` as the chunks
    are read, each chunk's rows in ``parts`` files by a hash of the value, and added up a
    part at a time: every row of one value is in one part."""

    def __init__(self, directory: Path, *, rows: int) -> None:
        """``rows``: about how many partial rows to expect (the window's exchanges bound
        them), so that a part holds about ``REACH_PART_ROWS``."""
        self.directory = directory
        self.parts = max(1, -(-rows // REACH_PART_ROWS))
        self.chunks = 0
        self.missing = 0
        directory.mkdir(parents=True, exist_ok=True)

    def add(self, frame: pl.DataFrame | None) -> None:
        """One chunk's partial reach; None for a chunk stored without one."""
        if frame is None:
            self.missing += 1
            return
        part = (pl.col("value").hash(seed=29) % self.parts).alias("part")
        for (i,), rows in frame.with_columns(part).partition_by("part", as_dict=True).items():
            rows.drop("part").write_ipc(self.directory / f"{i}-{self.chunks}.arrow")
        self.chunks += 1

    def counted(self) -> Iterator[pl.DataFrame]:
        """``REACH_SCHEMA`` rows for the window, a part at a time: every value two or more
        accounts used, and every model."""
        for i in range(self.parts):
            files = sorted(self.directory.glob(f"{i}-*.arrow"))
            if not files:
                continue
            yield (
                pl.concat([pl.read_ipc(f) for f in files])
                .group_by("kind", "value")
                .agg(pl.col("accounts").sum(), pl.col("first_ts").min())
                .filter((pl.col("accounts") >= 2) | (pl.col("kind") == ValueReach.Kind.MODEL.value))
                .select(list(REACH_SCHEMA))
                .sort("kind", "value")
            )


def value_reach_write(run: DetectionRun, parts: ReachParts) -> dict:
    """Store ``run``'s reach from its chunks' ``parts``. A run any of whose chunks was
    stored without its reach (by a worker from before reach was counted in the chunks)
    stores none: its cases' evidence then scans the window for the values it shows.
    Returns rows written and seconds taken."""
    started = time.monotonic()
    with transaction.atomic():
        ValueReach.objects.filter(run=run).delete()
        if run.window_start is not None and not parts.missing:
            for rows in parts.counted():
                _insert(run.pk, rows)
        rows = ValueReach.objects.filter(run=run).count()
    old = DetectionRun.objects.filter(pk__lt=run.pk).order_by("-pk")[KEEP_RUNS - 1 :]
    ValueReach.objects.filter(run__in=list(old.values_list("pk", flat=True))).delete()
    return {"rows": rows, "seconds": round(time.monotonic() - started, 2)}


def _insert(run_pk: int, rows: pl.DataFrame) -> None:
    """PostgreSQL: COPY of the rows as CSV; other databases: bulk inserts."""
    if rows.is_empty():
        return
    if connection.vendor != "postgresql":
        ValueReach.objects.bulk_create(
            (
                ValueReach(run_id=run_pk, kind=k, value=v, accounts=n, first_ts=t)
                for k, v, n, t in rows.iter_rows()
            ),
            batch_size=2000,
        )
        return
    table = ValueReach._meta.db_table
    sql = f"COPY {table} (run_id, kind, value, accounts, first_ts) FROM STDIN WITH (FORMAT csv)"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for batch in rows.iter_slices(200_000):
            buffer = io.BytesIO()
            batch.select(pl.lit(run_pk).alias("run_id"), pl.all()).write_csv(
                buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z"
            )
            copy.write(buffer.getvalue())
