"""Parsing a telemetry file into batches of rows: pure, no database.

A :class:`Batch` is a stretch of the file: the rows that passed the contract (the first row
with an id wins, later ones in the batch count as duplicates), and the rejects and notices of
the other lines, each with its line number. The in-process reader
(:func:`read_batches`) and the worker processes (:mod:`detection.ingest.parallel`) both fill
batches with :func:`fill_batches`, so a row means the same whichever reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detection.contract import EXCHANGE_INDEX
from detection.ingest.formats import DAMAGE, Source, printable
from detection.ingest.lines import REJECT_RAW_BYTES, read_stand_in
from detection.ingest.parse import JSON_FAST_PATHS, PARSERS, RowError
from detection.models import plausible_horizon


@dataclass
class Batch:
    """Parsed rows and what happened to the other lines in the same stretch of the file."""

    rows: list[tuple] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    # Position of the row for each exchange_id in this batch (as in the database, the first
    # row with an id wins and later ones are duplicates), or for each distinct accounts row.
    index: dict[str, int] = field(default_factory=dict)
    entries: list[dict] = field(default_factory=list)  # rejects and notices
    rows_read: int = 0
    rejected: int = 0
    duplicates: int = 0
    cleaned: int = 0  # rows whose text was cleaned and marked (detection.ingest.parse)
    future: int = 0  # exchanges dated past the horizon (detection.models.plausible_horizon)
    size: int = 0
    last_line: int = 0
    position: int = 0
    error: BaseException | None = None  # the file turned unreadable after this batch
    # Rows already written as binary COPY data by a worker process (see
    # detection.ingest.parallel); ``rows`` then holds only those it could not write (their
    # account is not stored yet), and no exchange_id is in both.
    payload: bytes = b""
    payload_rows: int = 0
    ids: list[str] = field(default_factory=list)  # the payload rows' exchange ids, in order
    newlines: int = 0  # a worker's piece: how many lines it ends, to number the next


def _raw_fields(raw: Any) -> dict[str, Any]:
    """A rejected line as its reject record carries it: its first REJECT_RAW_BYTES (valid
    UTF-8: bytes that are not UTF-8 as ``\\xNN``), and its length when that is cut, so that
    a file of huge bad lines does not make a reject file as big."""
    if isinstance(raw, list):  # CSV cells: as a list, cut to the same budget in all
        cells, left = [], REJECT_RAW_BYTES
        for cell in printable(raw):
            cells.append(cell[:left])
            left = max(0, left - len(cell))
        total = sum(map(len, raw))
        return {"raw": cells} if total <= REJECT_RAW_BYTES else {"raw": cells, "raw_bytes": total}
    if not isinstance(raw, bytes):
        return {"raw": raw}
    length = None
    if (stand_in := read_stand_in(raw)) is not None:
        length, _, raw = stand_in
    raw = raw.rstrip(b"\r\n")
    if len(raw) > REJECT_RAW_BYTES:
        length, raw = length or len(raw), raw[:REJECT_RAW_BYTES]
    text = raw.decode("utf-8", "backslashreplace")
    return {"raw": text} if length is None else {"raw": text, "raw_bytes": length}


def read_batches(
    source: Source, after_line: int, batch_rows: int, batch_bytes: int
) -> Iterator[Batch]:
    """Parse the file into batches (pure: no database). Damage ends the stream with a batch
    whose ``error`` is set; rows before it are still yielded."""
    fast = JSON_FAST_PATHS.get(source.kind)
    horizon = plausible_horizon() if source.kind == "exchanges" else None
    with source.open() as reader:
        try:
            reader.header()
        except DAMAGE as exc:
            yield Batch(error=exc, position=reader.position())
            return
        yield from fill_batches(
            reader.records(after_line=after_line, fast=fast),
            PARSERS[source.kind],
            batch_rows,
            batch_bytes,
            position=reader.position,
            horizon=horizon,
        )


def fill_batches(
    records: Iterator[tuple[int, Any, Any]],
    parse: Callable,
    batch_rows: int,
    batch_bytes: int,
    position: Callable[[], int] = lambda: 0,
    horizon: datetime | None = None,
) -> Iterator[Batch]:
    """Records (``(line, record or row, raw)``) into batches of at most ``batch_rows`` rows
    or ``batch_bytes`` bytes of input, the last one with whatever is left. Damage while
    reading (a truncated or corrupt gzip, an I/O error) ends the stream with a batch whose
    ``error`` is set; what came before it still loads.

    This loop runs once per row of files of millions of rows, so the batch being filled is
    kept in local names and written to its ``Batch`` when it is handed over. ``horizon``
    (exchanges): rows dated after it are counted in ``future``."""
    batch = Batch()
    rows, lines, index = batch.rows, batch.lines, batch.index
    read = size = last = 0
    whole = parse is PARSERS["accounts"]
    try:
        for line, record, raw in records:
            last = line
            read += 1
            if isinstance(record, tuple):  # a row: accepted by the fast path
                row = record
            else:
                row = checked(batch, parse, line, record, raw)
                if row is None:
                    continue
            # The record's own id, first in either kind's row. An accounts row repeated as
            # it is is a duplicate; one that differs is a change (loaders.load_accounts).
            key = row if whole else row[0]
            if key in index:
                batch.duplicates += 1
                continue
            index[key] = len(rows)
            rows.append(row)
            lines.append(line)
            size += len(raw) if type(raw) is bytes else sum(map(len, raw))
            if len(rows) >= batch_rows or size >= batch_bytes:
                batch.future = count_future(rows, horizon)
                batch.rows_read, batch.size, batch.last_line = read, size, last
                batch.position = position()
                yield batch
                batch = Batch()
                rows, lines, index = batch.rows, batch.lines, batch.index
                read = size = 0
    except DAMAGE as exc:
        batch.error = exc
    batch.future = count_future(rows, horizon)
    batch.rows_read, batch.size, batch.last_line = read, size, last
    batch.position = position()
    yield batch


def checked(batch: Batch, parse, line: int, record: Any, raw: Any) -> tuple | None:
    """The full checks for one record: its row, or None with the reject noted on ``batch``."""
    if type(record) is not dict:  # a RowError: the line itself is unusable
        batch.rejected += 1
        batch.entries.append(entry("rejected", line, str(record), **_raw_fields(raw)))
        return None
    notes: list[str] = []
    try:
        row = parse(record, notes)
    except RowError as exc:
        batch.rejected += 1
        batch.entries.append(entry("rejected", line, str(exc), **_raw_fields(raw)))
        return None
    for note in notes:
        batch.entries.append(entry("notice", line, note))
    if row.text_flags:
        batch.cleaned += 1
    return row


_TS = EXCHANGE_INDEX["ts"]


def count_future(rows: list, horizon: datetime | None) -> int:
    """How many exchange rows (or rows to be, in column order) are dated after ``horizon``."""
    if horizon is None:
        return 0
    return sum(1 for row in rows if row[_TS] > horizon)


def entry(kind: str, line: int, reason: str, **extra: Any) -> dict:
    return {"type": kind, "line": line, "reason": reason, **extra}
