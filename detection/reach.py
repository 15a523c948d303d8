"""Reach of shared values in a run's window: counted in the database once per run.

Evidence shows, for a case's busiest addresses, ASNs, clients and templates, how many
accounts *outside* the case used them, and when each model was first seen anywhere. Asking
the exchange table that per case scans the whole window (those columns have no index, which
ingest could not afford), so a run's evidence cost cases times traffic. Here each kind is
counted once for the run, in the database, and stored in ``ValueReach`` with an index for
the lookups; rows are bounded by the values at least two accounts share.
"""

from __future__ import annotations

import time

from django.db import connection, transaction

from detection.models import DetectionRun, Exchange, ValueReach

# Cut so that the lookup index takes any value: 500 characters are at most 2,000 bytes of
# UTF-8, under the btree row limit.
VALUE_CHARS = 500
# Runs whose reach is kept (older cases fall back to scanning their window).
KEEP_RUNS = 3
# kind -> (column, condition on the column), in the order they are written.
KINDS = {
    ValueReach.Kind.IP: ("ip", "ip IS NOT NULL"),
    ValueReach.Kind.ASN: ("asn", "asn IS NOT NULL"),
    ValueReach.Kind.USER_AGENT: ("user_agent", "user_agent <> ''"),
    ValueReach.Kind.TEMPLATE: ("prompt_hash", "prompt_hash IS NOT NULL"),
}


def as_text(column: str, *, address: bool = False) -> str:
    """SQL for ``column`` as the text ``reach_key`` gives for the same value in Python."""
    if connection.vendor == "postgresql":
        expr = f"host({column})" if address else f"{column}::text"
    else:
        expr = f"CAST({column} AS TEXT)"
    return f"substr({expr}, 1, {VALUE_CHARS})"


def reach_key(value) -> str:
    return str(value)[:VALUE_CHARS]


def value_reach_write(run: DetectionRun) -> dict:
    """Count, for ``run``'s window, the accounts behind every value two or more share, and
    each model's accounts and first use. Returns rows written and seconds taken."""
    started = time.monotonic()
    with transaction.atomic():
        ValueReach.objects.filter(run=run).delete()
        if run.window_start is None:
            return {"rows": 0, "seconds": 0.0}
        bounds = [
            connection.ops.adapt_datetimefield_value(t) for t in (run.window_start, run.window_end)
        ]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                _write_one_pass(cursor, run.pk, bounds)
            else:
                _write_per_kind(cursor, run.pk, bounds)
        rows = ValueReach.objects.filter(run=run).count()
    old = DetectionRun.objects.filter(pk__lt=run.pk).order_by("-pk")[KEEP_RUNS - 1 :]
    ValueReach.objects.filter(run__in=list(old.values_list("pk", flat=True))).delete()
    return {"rows": rows, "seconds": round(time.monotonic() - started, 2)}


def _expressions() -> dict[str, str]:
    """kind -> SQL of the value as text (NULL where the row has none), cut to VALUE_CHARS."""
    out = {}
    for kind, (column, present) in KINDS.items():
        out[kind.value] = f"CASE WHEN {present} THEN {as_text(column, address=column == 'ip')} END"
    out[ValueReach.Kind.MODEL.value] = as_text("model")
    return out


def _write_one_pass(cursor, run_pk: int, bounds: list) -> None:
    """PostgreSQL: every kind in one read of the window (grouping sets), not one per kind:
    the exchange rows are wide (prompts) and the read dominated."""
    exprs = _expressions()
    kind = (
        "CASE " + " ".join(f"WHEN GROUPING({e}) = 0 THEN '{k}'" for k, e in exprs.items()) + " END"
    )
    value = "COALESCE(" + ", ".join(exprs.values()) + ")"
    sets = ", ".join(f"({e}, account_id)" for e in exprs.values())
    table, reach = Exchange._meta.db_table, ValueReach._meta.db_table
    # Distinct (value, account) pairs per kind are hashed in memory, not spilled in batches.
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute(
        f"INSERT INTO {reach} (run_id, kind, value, accounts, first_ts) "  # noqa: S608 (constants)
        f"SELECT %s, kind, value, count(*), "
        f"CASE WHEN kind = '{ValueReach.Kind.MODEL.value}' THEN min(first) END FROM ("
        f"SELECT {kind} AS kind, {value} AS value, min(ts) AS first FROM {table} "
        f"WHERE ts >= %s AND ts < %s GROUP BY GROUPING SETS ({sets})) pairs "
        f"WHERE value IS NOT NULL GROUP BY kind, value "
        f"HAVING count(*) >= 2 OR kind = '{ValueReach.Kind.MODEL.value}'",
        [run_pk, *bounds],
    )


def _write_per_kind(cursor, run_pk: int, bounds: list) -> None:
    """Other databases (SQLite): one grouped pass per kind."""
    table, reach = Exchange._meta.db_table, ValueReach._meta.db_table
    for kind, expr in _expressions().items():
        model = kind == ValueReach.Kind.MODEL.value
        cursor.execute(
            f"INSERT INTO {reach} (run_id, kind, value, accounts, first_ts) "  # noqa: S608
            f"SELECT %s, %s, v, count(*), {'min(first)' if model else 'NULL'} FROM ("
            f"SELECT {expr} AS v, account_id, min(ts) AS first FROM {table} "
            f"WHERE ts >= %s AND ts < %s GROUP BY v, account_id) pairs "
            f"WHERE v IS NOT NULL GROUP BY v {'' if model else 'HAVING count(*) >= 2'}",
            [run_pk, kind, *bounds],
        )
