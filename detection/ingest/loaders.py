"""Writing validated rows: one batch per call, inside the caller's transaction.

Two exchange loaders with the same behaviour, checked by the same tests:

- :class:`CopyLoader` (PostgreSQL, psycopg 3): a batch first goes by binary ``COPY`` straight
  into ``detection_exchange``, inside a savepoint. New telemetry (the common case) loads at
  the speed of COPY into the indexed table. If any exchange_id in the batch is already
  stored, the unique index stops that COPY; the savepoint is rolled back and the batch goes
  the careful way: binary ``COPY`` into a TEMP staging table, then ``INSERT ... SELECT ...
  ON CONFLICT (exchange_id) DO NOTHING``, whose row count is what "loaded" reports. Either
  way a row is counted as loaded only if this statement wrote it, so a concurrent ingest of
  the same file cannot make us count a row twice or claim one we did not write.
  Once a batch has met stored ids (a re-ingest, or a file overlapping an earlier one), the
  next batches first look their ids up in the unique index (``= ANY``) and COPY only the
  rows not found, so a re-ingest reads the index instead of writing every row twice and
  throwing it away; the first batch that finds none of its ids stored goes back to the
  direct COPY.
  When the table is partitioned by month (:mod:`detection.partitions`), PostgreSQL requires
  its unique key to hold the partition key: it is ``(exchange_id, ts)``, and no index stops
  the same id with another time in another month (or the same one). The exchange id is still
  unique across the table, as the contract says: each batch takes one advisory lock
  (:data:`ID_LOCK`, to its commit, so two ingests' batches check and write one after the
  other), looks its ids up in every month that holds rows (the unique key's index, by its
  first column; :func:`probed_tables`), and
  COPYs only the rows whose id is not stored; the staging path's ``INSERT`` keeps the first
  row of each id in the batch and skips ids stored anywhere (:meth:`CopyLoader._insert_staged`).
  The bulk path, which holds the table's exclusive lock, removes repeated ids once, across
  partitions, before it builds the indexes (:meth:`CopyLoader.finish_bulk`).
- :class:`PortableLoader` (any database Django supports, SQLite by default):
  ``executemany`` of ``INSERT ... ON CONFLICT (exchange_id) DO NOTHING``, counting the rows
  it wrote (on the partitioned table, under the same lock, after the same lookup).

Both resolve account ids the same way (:class:`AccountResolver`): a cache of account_id ->
primary key, one query per batch for names not seen yet, and a placeholder account for each
name that does not exist (``bulk_create(ignore_conflicts=True)``, so two ingests racing to
create the same placeholder both succeed).

Accounts are few (tens of thousands against millions of exchanges), so both use
:func:`load_accounts`, an ORM upsert, row by row in file order. Its rule for an account we
already know (docs/ingest.md, "Accounts change"):

- a placeholder (created by an exchange that named an unknown account) is filled in from the
  row and stops being a placeholder;
- a real account takes every value the row changes (email domain, organisation, payment
  fingerprint, country, plan): an account moving onto another card is news, and often
  evidence. What it replaces is kept as an ``AccountChange``, with the file and line. An
  empty field changes nothing (absent is not "cleared"); the registration time never changes;
  and a value the account had before is not applied again, so re-loading an older file
  changes nothing. Values not applied are listed in the notices file with the stored and
  the offered value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from django.db import connection, transaction

from detection import contract
from detection.contract import AccountRow, ExchangeRow
from detection.models import Account, AccountChange
from detection.partitions import is_partitioned

# The stored columns in row order (detection.contract), and their binary COPY types.
ACCOUNT_COLUMNS = AccountRow._fields
EXCHANGE_COLUMNS = ExchangeRow._fields
STAGE_TYPES = tuple(f.postgres for f in contract.EXCHANGE_COLUMNS)
STAGE = "ingest_exchange_stage"
TABLE = "detection_exchange"
BULK_LOCK_WAIT = "10s"  # the longest the bulk path waits for the table's exclusive lock
UNIQUE_ID = "exchange_exchange_id_uniq"  # the one index whose duplicates the bulk path removes
_LOOKUP_CHUNK = 500  # stays under SQLite's bound-parameter limit
# The transaction-scoped advisory lock under which a batch checks its exchange ids against
# the partitioned table and writes them: without it, two ingests could each find an id
# unstored and both store it (with two times, which the (exchange_id, ts) key allows).
ID_LOCK = int.from_bytes(b"exch-ids", "big")


# What a later accounts row may change; the registration time is fixed once known.
CHANGEABLE = tuple(choice.value for choice in AccountChange.Field)


@dataclass
class AccountCounts:
    inserted: int = 0
    filled: int = 0
    changed: int = 0  # real accounts the row changed (history kept)
    unchanged: int = 0  # real accounts already stored as the row says: duplicates
    # (position in the batch, account_id, {field: [stored, offered]}): what was applied ...
    changes: list[tuple[int, str, dict]] = field(default_factory=list)
    # ... and what was offered but kept (a registration time, a value the account had before).
    differences: list[tuple[int, str, dict]] = field(default_factory=list)


def _chunks(items: list, size: int = _LOOKUP_CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def account_ids(names: list[str]) -> dict[str, int]:
    """account_id -> pk for those that exist."""
    found: dict[str, int] = {}
    for chunk in _chunks(names):
        found.update(Account.objects.filter(account_id__in=chunk).values_list("account_id", "pk"))
    return found


def _earlier_values(names: list[str]) -> dict[tuple[str, str], set[str]]:
    """(account_id, field) -> the values the account had before, from its history."""
    earlier: dict[tuple[str, str], set[str]] = {}
    for chunk in _chunks(names):
        for name, field_name, old in AccountChange.objects.filter(
            account__account_id__in=chunk
        ).values_list("account__account_id", "field", "old_value"):
            earlier.setdefault((name, field_name), set()).add(old)
    return earlier


def load_accounts(
    rows: list[AccountRow], *, source: str = "", lines: list[int] | None = None
) -> AccountCounts:
    """Upsert one batch of parsed account rows, in order (an account may have several: each
    later one is a change). ``source`` and ``lines`` name where each row came from, for the
    history."""
    counts = AccountCounts()
    names = list(dict.fromkeys(row.account_id for row in rows))
    existing: dict[str, Account] = {}
    for chunk in _chunks(names):
        existing.update(
            (a.account_id, a)
            for a in Account.objects.filter(account_id__in=chunk).only(
                *ACCOUNT_COLUMNS, "is_placeholder"
            )
        )
    earlier = _earlier_values([n for n, a in existing.items() if not a.is_placeholder])
    writes: dict[str, Account] = {}
    history: list[tuple[str, str, str, str, str]] = []  # account_id, field, old, new, source
    for position, row in enumerate(rows):
        values = row._asdict()
        name = values["account_id"]
        current = writes.get(name) or existing.get(name)
        if current is None:
            writes[name] = Account(**values, is_placeholder=False)
            counts.inserted += 1
            continue
        if current.is_placeholder:
            for key, value in values.items():
                setattr(current, key, value)
            current.is_placeholder = False
            writes[name] = current
            counts.filled += 1
            continue
        applied, kept = {}, {}
        for key in CHANGEABLE:
            offered, stored = values[key], getattr(current, key)
            if offered in ("", None) or offered == stored:
                continue
            if offered in earlier.get((name, key), ()):
                kept[key] = [stored, offered]  # the account had it before: an older file
            else:
                applied[key] = [stored, offered]
        offered, stored = values["created_at"], current.created_at
        if offered is not None and stored is not None and offered != stored:
            kept["created_at"] = [_plain(stored), _plain(offered)]
        if kept:
            counts.differences.append((position, name, kept))
        if not applied:
            counts.unchanged += 1
            continue
        where = f"{source}:{lines[position]}" if source and lines else source
        for key, (old, new) in applied.items():
            setattr(current, key, new)
            earlier.setdefault((name, key), set()).add(old)
            history.append((name, key, old, new, where))
        _merge_marks(current, row)
        writes[name] = current
        counts.changed += 1
        counts.changes.append((position, name, applied))
    if writes:
        # One upsert for new, filled and changed accounts alike: a placeholder that another
        # ingest creates meanwhile is filled in, not left behind by a skipped insert.
        Account.objects.bulk_create(
            list(writes.values()),
            update_conflicts=True,
            unique_fields=["account_id"],
            update_fields=[*ACCOUNT_COLUMNS[1:], "is_placeholder"],
        )
    if history:
        pks = account_ids(list({name for name, *_ in history}))
        AccountChange.objects.bulk_create(
            AccountChange(
                account_id=pks[name], field=key, old_value=old, new_value=new, source=where
            )
            for name, key, old, new, where in history
        )
    return counts


def _merge_marks(account: Account, row: AccountRow) -> None:
    """A change brings its row's text marks (docs/ingest.md): the account's marks cover
    every row whose values it holds."""
    if not row.text_flags:
        return
    account.text_flags |= row.text_flags
    originals = json.loads(account.text_originals) if account.text_originals else {}
    originals.update(json.loads(row.text_originals))
    account.text_originals = json.dumps(originals, ensure_ascii=False)


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


class AccountResolver:
    """account_id -> Account pk for one ingest, creating placeholders for unknown names."""

    def __init__(self):
        self.pks: dict[str, int] = {}

    def resolve(self, names: set[str]) -> list[str]:
        """Make sure every name has a pk in ``self.pks``; returns the placeholders created."""
        unknown = [name for name in names if name not in self.pks]
        if not unknown:
            return []
        self.pks.update(account_ids(unknown))
        missing = [name for name in unknown if name not in self.pks]
        if missing:
            Account.objects.bulk_create(
                [Account(account_id=name, is_placeholder=True) for name in missing],
                ignore_conflicts=True,
            )
            self.pks.update(account_ids(missing))
        return missing

    def forget(self) -> None:
        """After a rollback: placeholders created in it are gone, so look names up again."""
        self.pks.clear()


def lock_ids(cursor) -> None:
    """Hold :data:`ID_LOCK` until the transaction ends (a batch's commit)."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ID_LOCK])


# One probe of a table's unique key (by its first column) per id. A LATERAL subquery with
# LIMIT 1 is always planned as that probe: given ``exchange_id = ANY(ids)`` over a batch's
# tens of thousands of ids, the planner may read the whole table instead, once a batch,
# which made a re-ingest cost the square of the table's size.
_PROBE = "(SELECT 1 AS hit FROM {0} e WHERE e.exchange_id = {1} LIMIT 1)"


def probed_tables(cursor) -> list[str]:
    """Where a stored exchange id can be: the partitions that hold rows, or the table itself
    where it is not partitioned.

    Most months are empty (those made ahead, and the DEFAULT partition unless a timestamp
    strayed), and a probe of an empty partition's key costs about as much as a probe of a
    full one. Skipping them keeps the rule that an id is unique across months only if no
    row can land in a skipped partition before the batch has written: the caller holds the
    table's ROW EXCLUSIVE lock, which reaches every partition and keeps
    :func:`detection.partitions.partition_create` from moving rows out of the DEFAULT
    partition meanwhile, and :data:`ID_LOCK`, which every ingest takes before it looks up
    and writes."""
    # ``regclass`` as text: the partition's name, quoted where it needs to be.
    cursor.execute(
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
        [TABLE],
    )
    partitions = [name for (name,) in cursor.fetchall()]
    if not partitions:
        return [TABLE]
    # The first id in each partition's key, not ``EXISTS (SELECT FROM ...)``: that reads the
    # heap from its start, and the month retention trims holds its oldest rows there, dead
    # or emptied pages a scan would wade through on every batch.
    cursor.execute(
        " UNION ALL ".join(
            f"SELECT %s WHERE (SELECT exchange_id FROM {name} ORDER BY exchange_id LIMIT 1) "  # noqa: S608 (catalog names)
            "IS NOT NULL"
            for name in partitions
        ),
        partitions,
    )
    return [name for (name,) in cursor.fetchall()]


def stored_ids(cursor, ids: list[str]) -> set[str]:
    """Those of ``ids`` stored in any month (see :func:`probed_tables` for the locks the
    caller holds on the partitioned table)."""
    tables = probed_tables(cursor) if ids else []
    if not tables:
        return set()
    probes = " UNION ALL ".join(
        f"SELECT b.id FROM batch b CROSS JOIN LATERAL {_PROBE.format(table, 'b.id')} x"  # noqa: S608
        for table in tables
    )
    cursor.execute("WITH batch AS MATERIALIZED (SELECT unnest(%s::text[]) AS id) " + probes, [ids])
    return {exchange_id for (exchange_id,) in cursor.fetchall()}


def conflict_key() -> str:
    """The columns of the exchanges' unique key: ``exchange_id``, and ``ts`` with it where
    the table is partitioned by time."""
    return "exchange_id, ts" if is_partitioned() else "exchange_id"


class PortableLoader:
    """Exchanges through ``executemany``: any database, SQLite by default."""

    name = "portable"

    def __init__(self):
        columns = ", ".join(EXCHANGE_COLUMNS)  # the foreign key's column is account_id too
        marks = ", ".join(["%s"] * len(EXCHANGE_COLUMNS))
        self.sql = (
            # Only constant column names are interpolated; the values are bound parameters.
            f"INSERT INTO detection_exchange ({columns}) VALUES ({marks}) "  # noqa: S608
            f"ON CONFLICT ({conflict_key()}) DO NOTHING"
        )
        self.accounts = AccountResolver()
        self.partitioned = is_partitioned()

    def close(self) -> None:
        pass

    def load_exchanges(self, rows: list[ExchangeRow]) -> tuple[int, list[str]]:
        """Insert one batch (exchange_ids unique within it); returns (inserted, placeholders)."""
        if self.partitioned:  # the (exchange_id, ts) key lets a stored id in with another time
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {TABLE} IN ROW EXCLUSIVE MODE")
                lock_ids(cursor)
                known = stored_ids(cursor, [row.exchange_id for row in rows])
            rows = [row for row in rows if row.exchange_id not in known]
        placeholders = self.accounts.resolve({row.account_id for row in rows})
        pks = self.accounts.pks
        ops = connection.ops
        params = [
            r._replace(
                account_id=pks[r.account_id],
                ts=ops.adapt_datetimefield_value(r.ts),
                ip=ops.adapt_ipaddressfield_value(str(r.ip)),
            )
            for r in rows
        ]
        with connection.cursor() as cursor:
            cursor.executemany(self.sql, params)
            inserted = cursor.rowcount
        return inserted, placeholders


class CopyLoader:
    """Exchanges through binary ``COPY`` (PostgreSQL, psycopg 3); see the module docstring."""

    name = "copy"

    def __init__(self, direct: bool = True):
        # ``direct=False`` always takes the staging path (tests exercise both).
        self.direct = direct
        # Set once a batch meets stored ids; cleared by a batch that finds none.
        self.overlapping = False
        # Set by begin_bulk: the table has no indexes until finish_bulk builds them again.
        self.bulk = False
        self._rebuild: list[tuple[str, str, str]] = []
        self.freeze = False  # bulk into a table emptied in this transaction: COPY ... FREEZE
        self.accounts = AccountResolver()
        self.columns = ", ".join(EXCHANGE_COLUMNS)
        self.partitioned = is_partitioned()
        self.key = conflict_key()
        with connection.cursor() as cursor:
            columns = ", ".join(
                f"{name} {kind}" for name, kind in zip(EXCHANGE_COLUMNS, STAGE_TYPES, strict=True)
            )
            # TEMP: private to this session, never WAL-logged, dropped with the connection.
            # ``position``: the COPY's order, so the first row of a repeated id is known.
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({columns}, "
                "position bigint GENERATED ALWAYS AS IDENTITY)"
            )
            cursor.execute(f"TRUNCATE {STAGE}")

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")

    def _statement(self, table: str) -> str:
        options = "FORMAT BINARY, FREEZE" if self.freeze and table == TABLE else "FORMAT BINARY"
        return f"COPY {table} ({self.columns}) FROM STDIN ({options})"

    def _copy(self, cursor, table: str, rows: list[ExchangeRow]) -> None:
        pks = self.accounts.pks
        with cursor.cursor.copy(self._statement(table)) as copy:
            copy.set_types(STAGE_TYPES)
            write = copy.write_row
            # The row as it is, its account's name swapped for its key: by position, as
            # this runs once a row of millions.
            for r in rows:
                write((r[0], pks[r[1]], *r[2:]))

    def _copy_payload(self, cursor, table: str, payload: bytes) -> None:
        with cursor.cursor.copy(self._statement(table)) as copy:
            copy.write(payload)

    def _lock_rows(self, cursor) -> None:
        """The lock COPY and INSERT take anyway, taken before placeholders are made: a bulk
        load holds the table's exclusive lock and makes placeholders after it, so taking the
        two in the other order here could deadlock with it. Then, on the partitioned table,
        :data:`ID_LOCK`, which the bulk load does not need (nobody else can write)."""
        if not self.bulk:
            cursor.execute(f"LOCK TABLE {TABLE} IN ROW EXCLUSIVE MODE")
            if self.partitioned:
                lock_ids(cursor)

    def load_exchanges(self, rows: list[ExchangeRow]) -> tuple[int, list[str]]:
        """Insert one batch (exchange_ids unique within it); returns (inserted, placeholders)."""
        with connection.cursor() as cursor:
            self._lock_rows(cursor)
        placeholders = self.accounts.resolve({row.account_id for row in rows})
        with connection.cursor() as cursor:
            if self.bulk:
                self._copy(cursor, TABLE, rows)
                return len(rows), placeholders
            if self.direct and (self.overlapping or self.partitioned):
                # Partitioned, every batch looks up (under ID_LOCK): its key cannot stop an
                # id stored with another time.
                rows = self._unstored(cursor, rows)
                if not rows:
                    return 0, placeholders
            if self.direct:
                try:
                    with transaction.atomic():
                        self._copy(cursor, TABLE, rows)
                    return len(rows), placeholders
                except psycopg.errors.UniqueViolation:
                    # Some rows are stored already (or were stored since the lookup, by a
                    # concurrent ingest): take the staging path, and look ids up from now on.
                    self.overlapping = True
            self._copy(cursor, STAGE, rows)
            inserted = self._insert_staged(cursor)
        return inserted, placeholders

    def _unstored(self, cursor, rows: list[ExchangeRow]) -> list[ExchangeRow]:
        """The rows whose exchange id is not stored yet; clears ``overlapping`` if none was."""
        known = stored_ids(cursor, [row.exchange_id for row in rows])
        self.overlapping = bool(known)
        return [row for row in rows if row.exchange_id not in known]

    def load_payload(self, payload: bytes, rows: int, ids: list[str] | None = None) -> int:
        """Insert ``rows`` rows already written as binary COPY data (a worker's, see
        detection.ingest.parallel; accounts stored); returns how many were new. The same
        paths as :meth:`load_exchanges`, except that rows met before go through the staging
        table: their ids are inside the COPY data. ``ids``: the rows' exchange ids in order
        (the partitioned table's lookup needs them; the pieces of a joined batch may repeat
        an id, which only the staging path then resolves)."""
        with connection.cursor() as cursor:
            if self.bulk:
                self._copy_payload(cursor, TABLE, payload)
                return rows
            if self.partitioned:
                self._lock_rows(cursor)
                if ids is None or len(ids) != rows:
                    raise ValueError("the partitioned table's lookup needs the payload's ids")
                repeated = len(set(ids)) < len(ids)
                known = stored_ids(cursor, ids) if self.direct else set()
                if known and not repeated and len(known) == rows:
                    return 0  # every id stored: nothing to write
                # Some stored or repeated: the staging path settles which rows are new.
                self.overlapping = bool(known) or repeated
            if self.direct and not self.overlapping:
                try:
                    with transaction.atomic():
                        self._copy_payload(cursor, TABLE, payload)
                    return rows
                except psycopg.errors.UniqueViolation:
                    self.overlapping = True
            self._copy_payload(cursor, STAGE, payload)
            inserted = self._insert_staged(cursor)
        if self.direct and inserted == rows:
            self.overlapping = False  # none of this batch was stored: back to the direct COPY
        return inserted

    def _insert_staged(self, cursor) -> int:
        if not self.partitioned:
            cursor.execute(
                f"INSERT INTO {TABLE} ({self.columns}) "  # noqa: S608 (constants)
                f"SELECT {self.columns} FROM {STAGE} ON CONFLICT ({self.key}) DO NOTHING"
            )
        else:
            # The first row of each id in the batch (the stage keeps the COPY's order in
            # ``position``), unless the id is stored in any month that holds rows; the
            # conflict clause is only a backstop for a writer that is not ingest (it holds no
            # ID_LOCK).
            tables = probed_tables(cursor)
            probes = "".join(
                f" LEFT JOIN LATERAL {_PROBE.format(table, 's.exchange_id')} x{i} ON true"
                for i, table in enumerate(tables)
            )
            unstored = " AND ".join(f"x{i}.hit IS NULL" for i in range(len(tables)))
            cursor.execute(
                f"""
                INSERT INTO {TABLE} ({self.columns})
                SELECT {self.columns} FROM (
                    SELECT DISTINCT ON (exchange_id) * FROM {STAGE}
                    ORDER BY exchange_id, position
                ) s{probes}
                {"WHERE " + unstored if tables else ""}
                ORDER BY position
                ON CONFLICT ({self.key}) DO NOTHING
                """  # noqa: S608 (constants and catalog names)
            )
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE {STAGE}")
        return inserted

    # The bulk path: load first, index after (DESIGN.md, "Measured"). Maintaining the table's
    # four indexes row by row costs the server several times what writing the rows does;
    # building them once at the end costs a fraction of that. Only inside one transaction
    # that holds the table's exclusive lock, so nobody ever sees the table without them.

    def table_is_empty(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {TABLE})")  # noqa: S608
            return cursor.fetchone()[0]

    def begin_bulk(self, *, only_if_empty: bool = True) -> bool:
        """Lock the table and drop its indexes (and the constraints they carry), to be built
        again by :meth:`finish_bulk` in the same transaction; with ``only_if_empty``, only if
        the table is still empty once locked (else False, and nothing changed). Must run
        inside ``transaction.atomic()``, which holds the lock until it ends; the batches
        that follow must not open savepoints (``COPY FREEZE`` below needs the truncation in
        the same subtransaction)."""
        if not connection.in_atomic_block:
            raise RuntimeError("the bulk path needs a transaction around the whole load")
        with connection.cursor() as cursor:
            # Readers wait for the lock until the transaction ends; on an empty table, which
            # is when this path is taken without being asked for, they have nothing to read.
            # A session that holds the table (a long query, an idle transaction) would make
            # this wait, and every new reader queue behind it, so it waits BULK_LOCK_WAIT at
            # most, and the file then goes the usual way.
            cursor.execute("SELECT current_setting('lock_timeout')")
            (usual,) = cursor.fetchone()
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [BULK_LOCK_WAIT])
            try:
                with transaction.atomic():
                    cursor.cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
            except psycopg.errors.LockNotAvailable:
                return False
            finally:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [usual])
            if only_if_empty:
                if not self.table_is_empty():
                    return False
                # Emptying an empty table lets COPY write the rows frozen: no hint bits for
                # the index builds and the first queries to set (a write of every page), and
                # no anti-wraparound vacuum to rewrite them later. Other transactions cannot
                # see the table until this one commits (the lock).
                cursor.execute(f"TRUNCATE {TABLE}")
                # PostgreSQL refuses COPY FREEZE into a partitioned table.
                self.freeze = not self.partitioned
            cursor.execute(
                """
                SELECT i.relname, pg_get_indexdef(i.oid), c.conname, c.contype
                FROM pg_index x
                JOIN pg_class i ON i.oid = x.indexrelid
                LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
                WHERE x.indrelid = %s::regclass
                ORDER BY c.contype = 'p' DESC NULLS LAST, c.contype = 'u' DESC NULLS LAST,
                    i.relname
                """,
                [TABLE],
            )
            self._rebuild = []
            for index, definition, constraint, kind in cursor.fetchall():
                if self.partitioned:
                    self._rebuild.append(
                        self._partitioned_rebuild(cursor, index, definition, constraint)
                    )
                    continue
                if constraint:
                    cursor.execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{constraint}"')
                    add = "PRIMARY KEY" if kind == "p" else "UNIQUE"
                    again = f'ALTER TABLE {TABLE} ADD CONSTRAINT "{constraint}" {add} USING INDEX'
                    self._rebuild.append((definition, f'{again} "{index}"', constraint))
                else:
                    cursor.execute(f'DROP INDEX "{index}"')
                    self._rebuild.append((definition, "", ""))
            work_mem = getattr(settings, "INGEST_BULK_WORK_MEM", "256MB")
            cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [work_mem])
        self.bulk = True
        return True

    def _partitioned_rebuild(self, cursor, index: str, definition: str, constraint: str | None):
        """Drop one key or index of the partitioned table; returns how to build it again.

        Its definition reads ``ON ONLY``, which would build it on the parent alone, and a
        partitioned table takes no ``ADD CONSTRAINT ... USING INDEX``: a key is added back
        by its definition, which builds it on every partition (and fails on a duplicate as
        the index build would)."""
        if constraint:
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = %s AND conrelid = %s::regclass",
                [constraint, TABLE],
            )
            (key,) = cursor.fetchone()
            cursor.execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{constraint}"')
            return f'ALTER TABLE {TABLE} ADD CONSTRAINT "{constraint}" {key}', "", constraint
        cursor.execute(f'DROP INDEX "{index}"')
        return definition.replace(" ON ONLY ", " ON ", 1), "", ""

    def finish_bulk(self) -> int:
        """Build the dropped indexes again; returns how many rows were removed as duplicates.

        Without its unique index the table takes a second row with a stored (or an earlier)
        exchange_id: if building the index finds one, the rows after the first of each id are
        deleted, as the live index would have refused them, and the build runs again. The
        partitioned table's key, ``(exchange_id, ts)``, would not find an id repeated with
        another time, so there the repeated ids are looked for across the table first."""
        removed = 0
        with connection.cursor() as cursor:
            if self.partitioned:
                removed = self._delete_repeated_ids(cursor)
            for definition, constraint_sql, constraint in self._rebuild:
                try:
                    with transaction.atomic():
                        cursor.cursor.execute(definition)  # psycopg's own error, unwrapped
                except psycopg.errors.UniqueViolation:
                    if constraint != UNIQUE_ID:
                        raise
                    removed = self._delete_repeated_ids(cursor)
                    cursor.execute(definition)
                if constraint_sql:
                    cursor.execute(constraint_sql)
        self.bulk = False
        self._rebuild = []
        self.freeze = False
        return removed

    def _delete_repeated_ids(self, cursor) -> int:
        """Delete every row after the first of each exchange id; returns how many went.

        Usually no id repeats, and the table is read once: the 64-bit hash of every id,
        sorted and counted (half the server's CPU of counting the ids themselves in a hash
        table of a group per row, docs/benchmarks.md, "Ingest"). Only when a hash repeats is
        the table read again, for the ids behind the repeated hashes, which are the
        repeated ids and, rarely, ids that merely share a hash."""
        work_mem = getattr(settings, "INGEST_BULK_WORK_MEM", "256MB")
        cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
        cursor.execute("SELECT current_setting('enable_hashagg')")
        (usual,) = cursor.fetchone()
        # Without statistics on the just-loaded table the planner would count the hashes in
        # a hash table too; sorted 64-bit integers cost far less.
        cursor.execute("SELECT set_config('enable_hashagg', 'off', true)")
        try:
            cursor.execute(
                f"""
                CREATE TEMP TABLE ingest_repeated_hashes ON COMMIT DROP AS
                SELECT {_ID_HASH} AS hash FROM {TABLE} GROUP BY 1 HAVING count(*) > 1
                """  # noqa: S608 (constants)
            )
        finally:
            cursor.execute("SELECT set_config('enable_hashagg', %s, true)", [usual])
        removed = 0
        cursor.execute("SELECT EXISTS (SELECT FROM ingest_repeated_hashes)")
        if cursor.fetchone()[0]:
            # ids come from the identity column in COPY order, so the lowest is the first
            # loaded.
            cursor.execute(
                f"""
                CREATE TEMP TABLE ingest_repeated_ids ON COMMIT DROP AS
                SELECT exchange_id, min(id) AS first FROM {TABLE}
                WHERE {_ID_HASH} IN (SELECT hash FROM ingest_repeated_hashes)
                GROUP BY exchange_id HAVING count(*) > 1
                """  # noqa: S608 (constants)
            )
            cursor.execute(
                f"DELETE FROM {TABLE} e USING ingest_repeated_ids d "  # noqa: S608 (constants)
                "WHERE e.exchange_id = d.exchange_id AND e.id <> d.first"
            )
            removed = cursor.rowcount
            cursor.execute("DROP TABLE ingest_repeated_ids")
        cursor.execute("DROP TABLE ingest_repeated_hashes")
        return removed


# The hash the bulk path's search for repeated ids sorts: equal ids (compared byte by byte,
# ``COLLATE "C"``) hash equal.
_ID_HASH = "hashtextextended(exchange_id, 0)"


def connect_params() -> dict:
    """psycopg.connect() arguments for the database Django uses (the test database in tests),
    for a connection of its own beside Django's (worker processes, bulk progress)."""
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    return params


def make_loader(method: str = "auto"):
    """``copy`` (PostgreSQL only), ``staging`` (COPY, always through the staging table),
    ``portable``, or ``auto``: COPY where it exists."""
    if method == "auto":
        method = "copy" if connection.vendor == "postgresql" else "portable"
    if method in ("copy", "staging"):
        if connection.vendor != "postgresql":
            raise ValueError("the COPY loader needs PostgreSQL; use the portable loader")
        return CopyLoader(direct=method == "copy")
    if method == "portable":
        return PortableLoader()
    raise ValueError(f"unknown loader {method!r} (auto, copy, staging, portable)")
