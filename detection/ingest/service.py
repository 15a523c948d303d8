"""Ingesting one file: read, validate, load in batches, account for every row.

Two threads: a reader thread decompresses, parses and validates (pure Python, no database)
and hands over batches through a small queue; the calling thread writes them. While the
database works on one batch (the caller waits on the socket, without the GIL) the reader
prepares the next, so the two costs overlap instead of adding up. At most three batches are
in memory at once, whatever the size of the file.

Each batch commits in one transaction together with its IngestReport counts and the line it
reached, so the report always says exactly what is in the database, and a redelivered upload
task resumes after the last committed batch. Every row ends in exactly one count: loaded,
duplicate or rejected; notices (placeholders created, known accounts whose row differs from
what is stored) go to the same file as the rejects, marked by their ``type``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from detection.ingest.formats import Source
from detection.ingest.loaders import load_accounts, make_loader
from detection.ingest.parse import JSON_FAST_PATHS, PARSERS, RowError
from detection.models import IngestReport

logger = logging.getLogger(__name__)

BATCH_ROWS = 20_000
# A batch also ends at this many bytes of input, so 200 KB prompts keep memory bounded.
BATCH_BYTES = 32 * 1024 * 1024


def rejects_dir_default() -> Path:
    return Path(settings.DATA_DIR) / "rejects"


def report_for(source: Source, **fields: Any) -> IngestReport:
    return IngestReport.objects.create(
        path=str(source.path), kind=source.kind, size=source.size, **fields
    )


@dataclass
class Batch:
    """Parsed rows and what happened to the other lines in the same stretch of the file."""

    rows: list[tuple] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    # Position of the row for each exchange_id / account_id in this batch: as in the
    # database, the first row with an id wins and later ones are duplicates.
    index: dict[str, int] = field(default_factory=dict)
    entries: list[dict] = field(default_factory=list)  # rejects and notices
    rows_read: int = 0
    rejected: int = 0
    duplicates: int = 0
    size: int = 0
    last_line: int = 0
    position: int = 0
    error: BaseException | None = None  # the file turned unreadable after this batch


def _raw_text(raw: Any) -> Any:
    if isinstance(raw, bytes):
        return raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
    return raw


def read_batches(
    source: Source, after_line: int, batch_rows: int, batch_bytes: int
) -> Iterator[Batch]:
    """Parse the file into batches (pure: no database). Damage ends the stream with a batch
    whose ``error`` is set; rows before it are still yielded.

    This loop runs once per row of files of millions of rows, so the batch being filled is
    kept in local names and written to its ``Batch`` when it is handed over."""
    parse = PARSERS[source.kind]
    fast = JSON_FAST_PATHS.get(source.kind)
    batch = Batch()
    rows, lines, index = batch.rows, batch.lines, batch.index
    read = size = last = 0
    with source.open() as reader:
        try:
            reader.header()
            for line, record, raw in reader.records(after_line=after_line, fast=fast):
                last = line
                read += 1
                if type(record) is tuple:  # accepted by the fast path
                    row = record
                else:
                    row = _checked(batch, parse, line, record, raw)
                    if row is None:
                        continue
                key = row[0]
                if key in index:
                    batch.duplicates += 1
                    continue
                index[key] = len(rows)
                rows.append(row)
                lines.append(line)
                size += len(raw) if type(raw) is bytes else sum(map(len, raw))
                if len(rows) >= batch_rows or size >= batch_bytes:
                    batch.rows_read, batch.size, batch.last_line = read, size, last
                    batch.position = reader.position()
                    yield batch
                    batch = Batch()
                    rows, lines, index = batch.rows, batch.lines, batch.index
                    read = size = 0
        except (OSError, EOFError) as exc:
            # A truncated or corrupt gzip, an I/O error: what came before still loads.
            batch.error = exc
        batch.rows_read, batch.size, batch.last_line = read, size, last
        batch.position = reader.position()
        yield batch


def _checked(batch: Batch, parse, line: int, record: Any, raw: Any) -> tuple | None:
    """The full checks for one record: its row, or None with the reject noted on ``batch``."""
    if type(record) is not dict:  # a RowError: the line itself is unusable
        batch.rejected += 1
        batch.entries.append(_entry("rejected", line, str(record), raw=_raw_text(raw)))
        return None
    notes: list[str] = []
    try:
        row = parse(record, notes)
    except RowError as exc:
        batch.rejected += 1
        batch.entries.append(_entry("rejected", line, str(exc), raw=_raw_text(raw)))
        return None
    for note in notes:
        batch.entries.append(_entry("notice", line, note))
    return row


def _entry(kind: str, line: int, reason: str, **extra: Any) -> dict:
    return {"type": kind, "line": line, "reason": reason, **extra}


def _threaded(batches: Iterator[Batch], stop: threading.Event) -> Iterator[Batch]:
    """Run ``batches`` in a thread, two batches ahead of the consumer."""
    handoff: queue.Queue = queue.Queue(maxsize=2)
    done = object()

    def put(item: object) -> bool:
        """Hand over ``item`` unless the consumer has gone (then False)."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(done)
        except BaseException as exc:  # a bug in the reader: re-raised in the caller
            put(exc)
        finally:
            batches.close()  # closes the file now, not when the generator is collected

    thread = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    thread.start()
    try:
        while (item := handoff.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)


def ingest_source(
    source: Source,
    *,
    report: IngestReport,
    method: str = "auto",
    rejects_dir: Path | None = None,
    on_reject: Callable[[str, int, str], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
    batch_bytes: int = BATCH_BYTES,
) -> IngestReport:
    """Ingest one file into the database, recording its fate on ``report``.

    Database errors propagate (the upload task retries transient ones and resumes after the
    last committed batch). A file that turns unreadable part-way (a truncated gzip) ends
    FAILED, with the rows before the damage loaded and one reject naming the line.
    """
    loader = make_loader(method)
    report.status = IngestReport.Status.RUNNING
    report.loader = loader.name
    report.size = source.size
    report.started_at = report.started_at or timezone.now()
    report.error = ""
    report.save()
    directory = rejects_dir or rejects_dir_default()
    stop = threading.Event()
    batches = _threaded(read_batches(source, report.lines_done, batch_rows, batch_bytes), stop)
    try:
        for batch in batches:
            _commit(batch, source.kind, loader, report, directory, on_reject)
            if on_progress:
                on_progress(report.bytes_read)
    finally:
        stop.set()
        batches.close()
        loader.close()
    if report.status == IngestReport.Status.RUNNING:
        report.status = IngestReport.Status.DONE
    report.finished_at = timezone.now()
    report.save()
    return report


def _commit(batch: Batch, kind: str, loader, report, directory: Path, on_reject) -> None:
    with transaction.atomic():
        if batch.rows and kind == "exchanges":
            inserted, placeholders = loader.load_exchanges(batch.rows)
            report.loaded += inserted
            report.duplicates += len(batch.rows) - inserted
            report.placeholders += len(placeholders)
            if placeholders:
                _note_placeholders(batch, placeholders)
        elif batch.rows:
            counts = load_accounts(batch.rows)
            report.loaded += counts.inserted + counts.filled
            report.duplicates += counts.unchanged
            report.placeholders_filled += counts.filled
            report.differing += len(counts.differences)
            for account_id, differs in counts.differences:
                line = batch.lines[batch.index[account_id]]
                reason = "known account; row differs from the stored values (kept): " + ", ".join(
                    differs
                )
                batch.entries.append(
                    _entry("account_differs", line, reason, account_id=account_id, fields=differs)
                )
        report.rows_read += batch.rows_read
        report.rejected += batch.rejected
        report.duplicates += batch.duplicates
        report.lines_done = max(report.lines_done, batch.last_line)
        report.bytes_read = batch.position
        if batch.error is not None:
            line = batch.last_line + 1
            report.rejected += 1
            report.status = IngestReport.Status.FAILED
            report.error = (
                f"unreadable from line {line}: {type(batch.error).__name__}: {batch.error}"
            )
            batch.entries.append(_entry("rejected", line, report.error))
            logger.warning("ingest of %s stopped: %s", report.path, report.error)
        _write_entries(report, batch.entries, directory, on_reject)
        report.save()


def _note_placeholders(batch: Batch, placeholders: list[str]) -> None:
    wanted = set(placeholders)
    for row, line in zip(batch.rows, batch.lines, strict=True):
        if row[1] in wanted:
            wanted.discard(row[1])
            reason = "unknown account: created as a placeholder"
            batch.entries.append(_entry("placeholder", line, reason, account_id=row[1]))
            if not wanted:
                break


def _write_entries(report, entries: list[dict], directory: Path, on_reject) -> None:
    """Append a batch's rejects and notices to the reject file (created on first use),
    just before the batch commits, so the file and the counts agree."""
    if not entries:
        return
    entries.sort(key=lambda e: e["line"])
    if not report.reject_path:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = Path(report.path).name
        report.reject_path = str(directory / f"{stamp}-{report.pk}-{name}.rejects.jsonl")
    with open(report.reject_path, "ab") as fh:
        for entry in entries:
            fh.write(orjson.dumps({"file": report.path, **entry}) + b"\n")
            if on_reject and entry["type"] == "rejected":
                on_reject(report.path, entry["line"], entry["reason"])
