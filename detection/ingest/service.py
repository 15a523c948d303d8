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
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from detection.ingest import parallel
from detection.ingest.batches import Batch, entry, read_batches
from detection.ingest.formats import Source, short_name
from detection.ingest.loaders import connect_params, load_accounts, make_loader
from detection.models import IngestReport

logger = logging.getLogger(__name__)

BATCH_ROWS = 20_000
# A reject file stops listing at this size (INGEST_REJECTS_MAX_BYTES overrides it); the
# report still counts every reject.
REJECTS_MAX_BYTES = 64 * 1024 * 1024
# A batch also ends at this many bytes of input, so 200 KB prompts keep memory bounded.
BATCH_BYTES = 32 * 1024 * 1024


def rejects_dir_default() -> Path:
    return Path(settings.DATA_DIR) / "rejects"


def report_for(source: Source, **fields: Any) -> IngestReport:
    return IngestReport.objects.create(
        path=str(source.path), kind=source.kind, size=source.size, **fields
    )


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
    workers: int | None = None,
    bulk: str = "auto",
) -> IngestReport:
    """Ingest one file into the database, recording its fate on ``report``.

    Database errors propagate (the upload task retries transient ones and resumes after the
    last committed batch). A file that turns unreadable part-way (a truncated gzip) ends
    FAILED, with the rows before the damage loaded and one reject naming the line.

    ``workers`` (default ``INGEST_WORKERS``): processes that parse a big JSON Lines exchange
    file on PostgreSQL (:mod:`detection.ingest.parallel`); 1 parses in this process.
    ``bulk`` (exchanges files; accounts files always load batch by batch): ``auto`` loads a
    file of at least ``BULK_MIN_BYTES`` into an empty table first and builds the table's
    indexes after, all in one transaction (see :func:`_bulk_load`); ``on`` does so whatever
    the file's size and even if the table has rows; ``off`` never.
    """
    if bulk not in BULK_CHOICES:
        raise ValueError(f"unknown bulk mode {bulk!r} ({', '.join(BULK_CHOICES)})")
    loader = make_loader(method)
    if bulk == "on" and source.kind == "exchanges" and not _bulk_possible(loader, source):
        loader.close()
        raise ValueError("the bulk path loads exchanges through PostgreSQL's COPY loader only")
    report.status = IngestReport.Status.RUNNING
    report.loader = loader.name
    report.size = source.size
    report.started_at = report.started_at or timezone.now()
    report.progress_at = timezone.now()
    report.error = ""
    report.save()
    load = partial(
        _load,
        source,
        loader,
        report,
        directory=rejects_dir or rejects_dir_default(),
        on_reject=on_reject,
        on_progress=on_progress,
        batch_rows=batch_rows,
        batch_bytes=batch_bytes,
        workers=parallel.worker_count() if workers is None else workers,
    )
    report.bulk = False
    try:
        wanted = _bulk_possible(loader, source) and (
            bulk == "on" or (bulk == "auto" and source.size >= BULK_MIN_BYTES)
        )
        if wanted and (bulk == "on" or loader.table_is_empty()):
            report.bulk = _bulk_load(loader, report, load, only_if_empty=bulk == "auto")
        if not report.bulk:
            load()
    finally:
        loader.close()
    if report.status == IngestReport.Status.RUNNING:
        report.status = IngestReport.Status.DONE
    report.finished_at = timezone.now()
    report.save()
    return report


BULK_CHOICES = ("auto", "on", "off")
# The bulk path's own cost (dropping and building the indexes, one transaction) is nothing
# beside a backfill's, but a small file gains nothing from it, and keeps per-batch commits.
BULK_MIN_BYTES = 8 * 1024 * 1024


def _bulk_possible(loader, source: Source) -> bool:
    return source.kind == "exchanges" and loader.name == "copy" and loader.direct


def _bulk_load(loader, report: IngestReport, load: Callable[[], None], only_if_empty: bool) -> bool:
    """The whole file in one transaction, with the exchanges table's indexes dropped first
    and built once at the end: the path DESIGN.md gives big backfills ("load first and index
    after"). Returns False, having changed nothing, if ``only_if_empty`` and the table turned
    out not to be empty once locked.

    The transaction holds the table's exclusive lock until it ends, so nobody sees the table
    without its indexes, and queries that read exchanges wait until the load commits. A
    failure rolls back every row and the report's counts with them, so a second run starts
    from the beginning again; the reject entries written meanwhile are taken back too."""
    rejects_before = report.reject_path
    size_before = _file_size(rejects_before)
    try:
        with transaction.atomic(), _Progress(report) as progress:
            if not loader.begin_bulk(only_if_empty=only_if_empty):
                return False
            logger.info("%s: loading first and building the indexes after", report.path)
            load(progress=progress.update)
            removed = loader.finish_bulk()
            report.loaded -= removed
            report.duplicates += removed
            report.save()
    except BaseException:
        _take_back_entries(report.reject_path, rejects_before, size_before)
        raise
    return True


class _Progress:
    """The bytes read so far (and the time, ``progress_at``), written to the report through a
    connection of its own while a bulk load's transaction holds everything else back, at most
    once every PROGRESS_EVERY seconds, so the admin's report page still moves and the report
    is not taken for interrupted (``IngestReport.is_interrupted``). Only those: the counts and
    ``lines_done`` say what is committed, which is nothing until the load commits (the
    report's row is left alone by the load until then, so this never waits on it)."""

    def __init__(self, report: IngestReport):
        self.report = report
        self.connection: psycopg.Connection | None = None
        self.last = time.monotonic()
        self.broken = False

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.connection is not None:
            self.connection.close()

    def update(self, bytes_read: int) -> None:
        if self.broken or time.monotonic() - self.last < PROGRESS_EVERY:
            return
        self.last = time.monotonic()
        try:
            if self.connection is None:
                self.connection = psycopg.connect(**connect_params(), autocommit=True)
                # The report's row may be locked after all (the load runs inside a caller's
                # transaction that wrote it): then no progress, rather than a wait forever.
                self.connection.execute("SET lock_timeout = '200ms'")
            self.connection.execute(
                f"UPDATE {IngestReport._meta.db_table} SET bytes_read = %s, progress_at = now() "  # noqa: S608
                "WHERE id = %s",
                [bytes_read, self.report.pk],
            )
        except psycopg.Error as exc:
            self.broken = True
            logger.warning("no progress for %s: %s", self.report.path, exc)


PROGRESS_EVERY = 1.0


def _file_size(path: str) -> int:
    try:
        return Path(path).stat().st_size if path else 0
    except OSError:
        return 0


def _take_back_entries(path: str, before: str, size: int) -> None:
    """Reject entries of a rolled-back bulk load: a new file goes, an older one is cut back."""
    if not path:
        return
    try:
        if path != before:
            Path(path).unlink(missing_ok=True)
        else:
            with open(path, "r+b") as fh:
                fh.truncate(size)
    except OSError:
        logger.warning("could not take back the reject entries in %s", path)


def _load(
    source: Source,
    loader,
    report: IngestReport,
    *,
    directory: Path,
    on_reject,
    on_progress,
    batch_rows: int,
    batch_bytes: int,
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Read the file (in worker processes where they help) and commit it batch by batch."""
    stop = threading.Event()
    if parallel.usable(source, loader, workers):
        # The thread takes the workers' pieces (1 MB of input each) as they come and joins
        # them into batches of MERGE_BYTES, so the workers never wait for this one to write
        # and the database gets a few large COPY statements, and commits, not many small.
        pieces = parallel.parallel_batches(source, report.lines_done, workers)
        reading = parallel.merged(pieces)
    else:
        reading = read_batches(source, report.lines_done, batch_rows, batch_bytes)
    batches = _threaded(reading, stop)
    try:
        for batch in batches:
            _commit(batch, source.kind, loader, report, directory, on_reject)
            if on_progress:
                on_progress(report.bytes_read)
            if progress:
                progress(report.bytes_read)
    finally:
        stop.set()
        batches.close()


def _commit(batch: Batch, kind: str, loader, report, directory: Path, on_reject) -> None:
    # On the bulk path the whole file is one transaction already (and COPY FREEZE needs its
    # rows written outside any savepoint): a failure there rolls everything back anyway.
    with transaction.atomic(savepoint=not getattr(loader, "bulk", False)):
        if kind == "exchanges" and (batch.rows or batch.payload):
            inserted, placeholders = loader.load_exchanges(batch.rows) if batch.rows else (0, [])
            if batch.payload:
                inserted += loader.load_payload(batch.payload, batch.payload_rows, batch.ids)
            report.loaded += inserted
            report.duplicates += len(batch.rows) + batch.payload_rows - inserted
            report.placeholders += len(placeholders)
            if placeholders:
                _note_placeholders(batch, placeholders)
        elif batch.rows:
            counts = load_accounts(batch.rows, source=report.path, lines=batch.lines)
            report.loaded += counts.inserted + counts.filled + counts.changed
            report.duplicates += counts.unchanged
            report.placeholders_filled += counts.filled
            report.changed += counts.changed
            report.differing += len(counts.differences)
            for position, account_id, fields in counts.changes:
                reason = "known account changed (earlier values kept as history): " + ", ".join(
                    fields
                )
                batch.entries.append(
                    entry(
                        "account_changed",
                        batch.lines[position],
                        reason,
                        account_id=account_id,
                        fields=fields,
                    )
                )
            for position, account_id, differs in counts.differences:
                reason = "known account; offered values not applied (kept): " + ", ".join(differs)
                batch.entries.append(
                    entry(
                        "account_differs",
                        batch.lines[position],
                        reason,
                        account_id=account_id,
                        fields=differs,
                    )
                )
        report.rows_read += batch.rows_read
        report.rejected += batch.rejected
        report.cleaned += batch.cleaned
        report.future += batch.future
        report.duplicates += batch.duplicates
        report.lines_done = max(report.lines_done, batch.last_line)
        report.bytes_read = batch.position
        report.progress_at = timezone.now()
        if batch.error is not None:
            line = batch.last_line + 1
            report.rejected += 1
            report.status = IngestReport.Status.FAILED
            report.error = (
                f"unreadable from line {line}: {type(batch.error).__name__}: {batch.error}"
            )
            batch.entries.append(entry("rejected", line, report.error))
            logger.warning("ingest of %s stopped: %s", report.path, report.error)
        _write_entries(report, batch.entries, directory, on_reject)
        if not getattr(loader, "bulk", False):  # the bulk load saves it once, at the end
            report.save()


def _note_placeholders(batch: Batch, placeholders: list[str]) -> None:
    wanted = set(placeholders)
    for row, line in zip(batch.rows, batch.lines, strict=True):
        if row.account_id in wanted:
            wanted.discard(row.account_id)
            reason = "unknown account: created as a placeholder"
            batch.entries.append(entry("placeholder", line, reason, account_id=row.account_id))
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
        # Cut so the stamp, the id and the suffix fit a file name whatever the source's.
        name = short_name(Path(report.path).name, 180)
        report.reject_path = str(directory / f"{stamp}-{report.pk}-{name}.rejects.jsonl")
    cap = int(getattr(settings, "INGEST_REJECTS_MAX_BYTES", REJECTS_MAX_BYTES))
    with open(report.reject_path, "a+b") as fh:
        size = fh.tell()
        full = size > 0 and _ends_with_limit_note(fh, size)
        for entry in entries:
            if on_reject and entry["type"] == "rejected":
                on_reject(report.path, entry["line"], entry["reason"])
            if full:
                continue
            line = orjson.dumps({"file": report.path, **entry}) + b"\n"
            if size + len(line) > cap:
                full = True
                line = orjson.dumps(
                    {
                        "file": report.path,
                        "type": "limit",
                        "line": entry["line"],
                        "reason": f"the reject file reached {cap} bytes "
                        "(INGEST_REJECTS_MAX_BYTES): later rejects and notices are counted "
                        "on the report, not listed",
                    }
                )
                line += b"\n"
            fh.write(line)
            size += len(line)


def _ends_with_limit_note(fh, size: int) -> bool:
    """Whether an earlier batch filled the file (its last entry is the limit's note)."""
    fh.seek(max(0, size - 1024))
    return b'"type":"limit"' in fh.read()
