"""The case's traffic read once: every grouped figure of a snapshot from one pass.

A snapshot's sections count the case's exchanges by address, ASN, client, template, model,
account, cleaned text, time bucket and hour. Asked one by one, each was a read of every
exchange of the case (wide rows: the prompts), about twenty reads in all, so a campaign of
millions of exchanges paid for its traffic twenty times over. Here the case's exchanges in
the window are read once and grouped in the database into a temporary table of
(kind, value, account) rows with their counts; the sections then ask that table, whose rows
grow with the values and accounts of the case, never with its exchanges, and every answer
they fetch is capped (top values, at most ``max_rows`` heatmap bands).

On PostgreSQL the one read is ``GROUPING SETS``; elsewhere (the embedded SQLite default)
the same groups come from one ``GROUP BY`` per kind, joined with ``UNION ALL``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from django.db import DatabaseError, connection, transaction

from cases.evidence.sources import CaseAccounts, Window
from detection.models import Exchange
from detection.reach import as_text

TABLE = "evidence_case_traffic"
BANDS = "evidence_case_bands"
ACCOUNTS = "evidence_case_accounts"
# Kinds of row in the table, each one group of the read.
VALUE_KINDS = ("ip", "asn", "user_agent", "template", "model", "flags")
# The 24 hours of the clock as angles, for each account's daily phase (charts.shift_order).
CLOCK = ", ".join(
    f"({h}, {math.cos(h / 24 * 2 * math.pi)!r}, {math.sin(h / 24 * 2 * math.pi)!r})"
    for h in range(24)
)


def when(value) -> datetime | None:
    """A timestamp the table gave back (a datetime, or text on SQLite) as aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _columns(bucket: str, heat_start: str) -> dict[str, str]:
    """SQL of each grouped expression over one exchange row, per database."""
    if connection.vendor == "postgresql":
        trunc = f"date_trunc('{bucket}', ts)"
        heat = f"CASE WHEN ts >= {heat_start} THEN date_trunc('hour', ts) END"
        hour_of_day = "extract(hour from ts)::int"
    else:
        # Doubled: the statement has parameters, so a literal % is written %%.
        fmt = "%%Y-%%m-%%d %%H:00:00" if bucket == "hour" else "%%Y-%%m-%%d 00:00:00"
        trunc = f"strftime('{fmt}', ts)"
        heat = f"CASE WHEN ts >= {heat_start} THEN strftime('%%Y-%%m-%%d %%H:00:00', ts) END"
        hour_of_day = "CAST(strftime('%%H', ts) AS INTEGER)"
    return {
        "v_ip": as_text("ip", address=True),
        "v_asn": as_text("asn"),
        "v_user_agent": f"CASE WHEN user_agent <> '' THEN {as_text('user_agent')} END",
        "v_template": as_text("prompt_hash"),
        "v_model": as_text("model"),
        "v_flags": "CASE WHEN text_flags <> 0 THEN CAST(text_flags AS TEXT) END",
        "v_bucket": trunc,
        "v_heat": heat,
        "hod": hour_of_day,
    }


# Each kind's group: its value column and whether it is per account ("volume" is per model
# and bucket, "account" the account alone).
_GROUPS = {
    "ip": ("v_ip", "account_id"),
    "asn": ("v_asn", "account_id"),
    "user_agent": ("v_user_agent", "account_id"),
    "template": ("v_template", "account_id"),
    "model": ("v_model", "account_id"),
    "flags": ("v_flags", "account_id"),
    "heat": ("v_heat", "account_id"),
    "volume": ("v_bucket", "v_model"),
    "account": ("account_id",),
}
_AGGREGATES = (
    "count(*) AS n, sum(output_tokens) AS out_tokens, sum(input_tokens) AS in_tokens, "
    "sum(CASE WHEN tool_use THEN 1 ELSE 0 END) AS tools, count(prompt_hash) AS hashed, "
    "min(ts) AS first_ts, max(ts) AS last_ts, max(asn) AS asn, min(hod) AS hod"
)
_INSERT = (
    f"INSERT INTO {TABLE} (kind, value, account_id, b, n, out_tokens, in_tokens, tools, "
    "hashed, first_ts, last_ts, asn, hod) "
)


def _select(kind: str) -> str:
    """One kind's row in the table's columns (value, account, bucket) from its group."""
    value = {"volume": "v_model", "heat": None, "account": None}.get(kind, _GROUPS[kind][0])
    bucket = {"volume": "v_bucket", "heat": "v_heat"}.get(kind)
    account = "NULL" if kind == "volume" else "account_id"
    return f"'{kind}', {value or 'NULL'}, {account}, {bucket or 'NULL'}"


class CaseTraffic:
    """The grouped traffic of ``accounts`` in ``window``; use as a context manager.

    ``bucket`` is the volume chart's bucket ("hour" or "day"); hour rows for the heatmap
    are kept from ``heat_start`` on.
    """

    def __init__(self, accounts: CaseAccounts, window: Window, *, bucket: str, heat_start):
        self.accounts = accounts
        self.window = window
        self.bucket = bucket
        self.heat_start = heat_start
        self._totals: dict | None = None
        self._distinct: dict[str, int] | None = None

    def __enter__(self) -> CaseTraffic:
        self._cursor = connection.cursor().__enter__()
        self._drop()
        self._cursor.execute(
            f"CREATE TEMPORARY TABLE {TABLE} (kind varchar(16), value text, account_id bigint,"
            " b timestamp, n bigint, out_tokens bigint, in_tokens bigint, tools bigint,"
            " hashed bigint, first_ts timestamp, last_ts timestamp, asn bigint, hod integer)"
        )
        if self.accounts.pks:
            self._fill()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._drop()
        except DatabaseError:
            # Unwinding from an error that aborted the transaction: the next use drops the
            # tables first, and the error that matters is the one already raised.
            if exc[0] is None:
                raise
        finally:
            self._cursor.__exit__(*exc)

    def _drop(self) -> None:
        if connection.vendor == "postgresql":
            self._cursor.execute(f"DROP TABLE IF EXISTS {TABLE}, {BANDS}, {ACCOUNTS}")
            return
        for table in (TABLE, BANDS, ACCOUNTS):  # SQLite drops one table a statement
            self._cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def _fill(self) -> None:
        adapt = connection.ops.adapt_datetimefield_value
        columns = _columns(self.bucket, "%s")
        source = (
            "SELECT account_id, ts, output_tokens, input_tokens, tool_use, prompt_hash, asn, "  # noqa: S608 (constants)
            + ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
            + f" FROM {Exchange._meta.db_table} WHERE ts >= %s AND ts < %s AND "
        )
        params = [adapt(self.heat_start), adapt(self.window.start), adapt(self.window.end)]
        if connection.vendor == "postgresql":
            # An array, so the (account, ts) index is probed once per account.
            source += "account_id = ANY(%s)"
            params.append(list(self.accounts.pks))
        else:
            # SQLite caps the parameters of one statement: the accounts go in a table.
            self._cursor.execute(f"CREATE TEMPORARY TABLE {ACCOUNTS} (account_id bigint)")
            self._cursor.executemany(
                f"INSERT INTO {ACCOUNTS} (account_id) VALUES (%s)",  # noqa: S608
                [(pk,) for pk in self.accounts.pks],
            )
            source += f"account_id IN (SELECT account_id FROM {ACCOUNTS})"  # noqa: S608
        if connection.vendor == "postgresql":
            # The one read: the grouping sets are hashed together over the rows as they come.
            sets = ", ".join(f"({', '.join(cols)})" for cols in _GROUPS.values())
            kind = (
                "CASE WHEN GROUPING(v_bucket) = 0 THEN 'volume' "
                + " ".join(
                    f"WHEN GROUPING({cols[0]}) = 0 THEN '{k}'"
                    for k, cols in _GROUPS.items()
                    if k not in ("volume", "account")
                )
                + " ELSE 'account' END"
            )
            value = (
                "CASE WHEN GROUPING(v_bucket) = 0 THEN v_model ELSE COALESCE("
                + ", ".join(_GROUPS[k][0] for k in VALUE_KINDS)
                + ") END"
            )
            bucket = "COALESCE(v_bucket, v_heat)"
            account = "CASE WHEN GROUPING(account_id) = 0 THEN account_id END"
            with transaction.atomic():
                # The groups are hashed in memory, not spilled in batches (as the reach does).
                self._cursor.execute("SET LOCAL work_mem = '256MB'")
                self._cursor.execute(
                    _INSERT + f"SELECT {kind}, {value}, {account}, {bucket}, "  # noqa: S608
                    f"{_AGGREGATES} FROM ({source}) e GROUP BY GROUPING SETS ({sets})",
                    params,
                )
        else:
            # One pass per kind, as the reach does it on SQLite: the embedded data is small.
            parts = [
                f"SELECT {_select(k)}, {_AGGREGATES} FROM ({source}) e "  # noqa: S608
                f"GROUP BY {', '.join(cols)}"
                for k, cols in _GROUPS.items()
            ]
            self._cursor.execute(_INSERT + " UNION ALL ".join(parts), params * len(parts))

    def rows(self, sql: str, params=()) -> list[tuple]:
        self._cursor.execute(sql.format(t=TABLE, b=BANDS), list(params))
        return self._cursor.fetchall()

    # ------------------------------------------------------------------ reads (all capped)

    def totals(self) -> dict:
        """Exchanges, tokens, tool use, prompts with a template and active accounts."""
        if self._totals is None:
            self._totals = self._read_totals()
        return self._totals

    def distinct(self, kind: str) -> int:
        """How many different values of ``kind`` the case used."""
        if self._distinct is None:
            self._distinct = dict(
                self.rows(
                    "SELECT kind, count(DISTINCT value) FROM {t} WHERE value IS NOT NULL"
                    " GROUP BY kind"
                )
            )
        return self._distinct.get(kind, 0)

    def _read_totals(self) -> dict:
        exchanges, out, inp, tools, hashed, active = self.rows(
            "SELECT sum(n), sum(out_tokens), sum(in_tokens), sum(tools), sum(hashed), count(*)"
            " FROM {t} WHERE kind = 'account'"
        )[0]
        # PostgreSQL sums bigints as numeric: back to int (None where no row had tokens).
        return {
            "exchanges": int(exchanges or 0),
            "output_tokens": None if out is None else int(out),
            "input_tokens": None if inp is None else int(inp),
            "tool_use": int(tools or 0),
            "hashed": int(hashed or 0),
            "active_accounts": active,
        }

    def top(self, kind: str, limit: int, *, min_accounts: int = 1) -> list[dict]:
        """The values of ``kind`` used by the most accounts (then exchanges), at most ``limit``."""
        rows = self.rows(
            "SELECT value, count(*) AS accounts, sum(n) AS exchanges, max(asn), min(first_ts),"
            " max(last_ts) FROM {t} WHERE kind = %s AND value IS NOT NULL GROUP BY value"
            " HAVING count(*) >= %s ORDER BY accounts DESC, exchanges DESC, value LIMIT %s",
            [kind, min_accounts, limit],
        )
        return [
            {
                "value": v,
                "accounts": a,
                "exchanges": int(n),
                "asn": asn,
                "first": when(first),
                "last": when(last),
            }
            for v, a, n, asn, first, last in rows
        ]

    def busiest(self, kind: str, limit: int) -> list[dict]:
        """The values of ``kind`` with the most exchanges (models), at most ``limit``."""
        rows = self.rows(
            "SELECT value, sum(n) AS exchanges, count(*), min(first_ts) FROM {t}"
            " WHERE kind = %s AND value IS NOT NULL GROUP BY value"
            " ORDER BY exchanges DESC, value LIMIT %s",
            [kind, limit],
        )
        return [
            {"value": v, "exchanges": int(n), "accounts": a, "first": when(first)}
            for v, n, a, first in rows
        ]

    def members(self, values: dict[str, list[str]]) -> list[tuple[str, int, str]]:
        """(kind, account pk, value) for each account on the case that used one of the
        ``values`` of each kind, in one read."""
        where, params = [], []
        for kind, chosen in values.items():
            if chosen:
                where.append(f"(kind = %s AND value IN ({', '.join(['%s'] * len(chosen))}))")
                params += [kind, *chosen]
        if not where:
            return []
        return self.rows(
            f"SELECT kind, account_id, value FROM {{t}} WHERE {' OR '.join(where)}"  # noqa: S608
            " ORDER BY kind, value, account_id",
            params,
        )

    def per_account(self) -> list[tuple[int, int, int]]:
        """(account pk, exchanges, output tokens) of every active account, busiest first."""
        return [
            (a, int(n), int(out or 0))
            for a, n, out in self.rows(
                "SELECT account_id, n, out_tokens FROM {t} WHERE kind = 'account'"
                " ORDER BY n DESC, account_id"
            )
        ]

    def flagged_text(self) -> list[tuple[int, int, int]]:
        """(account pk, text flags, exchanges) for the exchanges whose text ingest cleaned."""
        return [
            (a, int(f), int(n))
            for a, f, n in self.rows(
                "SELECT account_id, value, n FROM {t} WHERE kind = 'flags' AND value IS NOT NULL"
            )
        ]

    def volume(self) -> list[tuple[datetime, str, int, int]]:
        """(bucket, model, exchanges, output tokens): rows are buckets times models."""
        return [
            (when(b), m, int(n), int(out or 0))
            for b, m, n, out in self.rows(
                "SELECT b, value, n, out_tokens FROM {t} WHERE kind = 'volume' AND b IS NOT NULL"
            )
        ]

    def clock(self) -> list[tuple[int, float, float, float, datetime]]:
        """Per active account over the heatmap's hours: (pk, exchanges, and the sums of the
        cosine and sine of their hour of day, first active hour), one row per account."""
        return [
            (a, float(n), float(c), float(s), when(first))
            for a, n, c, s, first in self.rows(
                f"WITH clock (h, c, s) AS (VALUES {CLOCK}) "  # noqa: S608 (constants)
                "SELECT account_id, sum(n), sum(n * clock.c), sum(n * clock.s), min(b) FROM {t}"
                " JOIN clock ON clock.h = {t}.hod WHERE kind = 'heat' AND b IS NOT NULL"
                " GROUP BY account_id"
            )
        ]

    def hours(self) -> list[tuple[int, datetime, int]]:
        """(account pk, hour, exchanges) of the heatmap for every account: for a case of
        few accounts (above ``max_rows`` accounts, ``band_hours``)."""
        return [
            (a, when(b), int(n))
            for a, b, n in self.rows(
                "SELECT account_id, b, n FROM {t} WHERE kind = 'heat' AND b IS NOT NULL"
            )
        ]

    def band_hours(self, band_of: dict[int, int]) -> list[tuple[int, datetime, int]]:
        """(band, hour, exchanges) summed over each band's accounts: rows are bands times
        hours, however many accounts a band holds."""
        self._cursor.execute(f"DROP TABLE IF EXISTS {BANDS}")
        self._cursor.execute(f"CREATE TEMPORARY TABLE {BANDS} (account_id bigint, band integer)")
        self._cursor.executemany(
            f"INSERT INTO {BANDS} (account_id, band) VALUES (%s, %s)",  # noqa: S608
            list(band_of.items()),
        )
        return [
            (int(band), when(b), int(n))
            for band, b, n in self.rows(
                "SELECT {b}.band, {t}.b, sum({t}.n) FROM {t} JOIN {b}"
                " ON {b}.account_id = {t}.account_id WHERE {t}.kind = 'heat' AND {t}.b IS NOT NULL"
                " GROUP BY {b}.band, {t}.b"
            )
        ]
