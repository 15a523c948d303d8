"""Parsing a JSON Lines exchange file in worker processes (PostgreSQL, ``COPY`` loader).

Parsing, validating and fingerprinting a row costs more Python time than PostgreSQL spends
storing it, so however fast the database is, on a file of millions of rows the parse is the
slower half of an ingest (docs/benchmarks.md, "Ingest"). Here ``workers`` forked processes
share the parse. Each one reads the whole file (decompressing with ISA-L is cheap beside
parsing) and cuts it into the same pieces of about ``BLOCK_BYTES`` (each ends at the first
line end at or after a multiple of ``BLOCK_BYTES`` of the decompressed stream, so the cut
does not depend on how reads fall), and parses every
``workers``-th piece: exactly as the in-process reader would (the same fast path, full checks
and duplicate rule, so every row, reject and reason is the same). It resolves account ids to
keys through its own read-only connection and writes the rows as binary ``COPY`` data
(psycopg's ``Copy`` with a ``FileWriter``). For each piece it sends the calling process one
:class:`~detection.ingest.batches.Batch`, whose ``payload`` is that data (and ``ids`` its rows'
exchange ids, which the partitioned table's lookup needs) and whose ``rows`` are only the
rows whose account is not stored yet (the calling process makes the placeholders).

The calling process takes the batches in file order, one from each worker in turn, in a
reader thread that joins them into batches of about ``MERGE_BYTES`` of input (fewer, larger
COPY statements and commits), and writes those through its own connection: each still
commits with its report counts, or the whole file in one transaction on the bulk path.
Workers never write. A worker holds at most the piece it works on and the one it is
sending, the calling process two joined batches and the one it writes, so memory stays flat
in the file's size. A worker's exception (a bug) is raised in the calling process with the
worker's traceback; a worker that dies ends the ingest with an error, and the others are
stopped.

Workers are forked, so they start in milliseconds with the code already imported; they open
their own connection and never touch the parent's. Where ``fork`` does not exist, or for
files smaller than ``MIN_FILE_BYTES`` (starting the workers would cost more than it saves),
the in-process reader runs instead.
"""

from __future__ import annotations

import ctypes
import gc
import io
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from psycopg.adapt import Dumper
from psycopg.copy import Copy, FileWriter
from psycopg.pq import Format
from psycopg.types.net import InetBinaryDumper

from detection.contract import EXCHANGE_INDEX, ExchangeRow
from detection.ingest.batches import Batch, checked, count_future
from detection.ingest.formats import BOM, DAMAGE, Source, decode_line
from detection.ingest.loaders import STAGE_TYPES, connect_params
from detection.ingest.parse import PARSERS, checked_address, decode_exchange, prompt_hashes
from detection.models import plausible_horizon

logger = logging.getLogger(__name__)

BLOCK_BYTES = 1024 * 1024  # a worker's piece: its rows and strings stay in the CPU's cache
MERGE_BYTES = 8 * 1024 * 1024  # about this much input's rows in one COPY (and batch)
MIN_FILE_BYTES = 8 * 1024 * 1024
_ADDRESSES_MAX = 100_000
# Positions in a row (ExchangeRow's column order): the worker's loops index, once a row.
_ACCOUNT, _IP = EXCHANGE_INDEX["account_id"], EXCHANGE_INDEX["ip"]
_PROMPT, _PROMPT_HASH = EXCHANGE_INDEX["prompt"], EXCHANGE_INDEX["prompt_hash"]


def worker_count() -> int:
    """``INGEST_WORKERS`` from the settings; 0 means one per core this process may use (a
    container's CPU set, not the host's count), at most 8."""
    configured = int(getattr(settings, "INGEST_WORKERS", 0))
    if configured > 0:
        return configured
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(cores, 8)


def usable(source: Source, loader: Any, workers: int) -> bool:
    """Whether this file goes through worker processes."""
    return (
        workers > 1
        and loader.name == "copy"
        and source.kind == "exchanges"
        and not source.is_csv
        and source.size >= MIN_FILE_BYTES
        and hasattr(os, "fork")
    )


class _PackedInet(bytes):
    """An address already in PostgreSQL's binary ``inet`` form."""


class _PackedInetDumper(Dumper):
    """Sends a :class:`_PackedInet` as it is. Registered on a worker's own connection for
    the ``inet`` type, so every address that connection's COPY data holds must be packed
    (:meth:`_Worker.encode` packs each one); nothing else uses that connection."""

    format = Format.BINARY

    def dump(self, obj: bytes) -> bytes:
        return obj


def _packed(address) -> _PackedInet:
    return _PackedInet(InetBinaryDumper(type(address)).dump(address))


class _Worker:
    """One worker process's connection and caches (account keys, packed addresses)."""

    def __init__(self, params: dict):
        self.connection = psycopg.connect(**params, autocommit=True)
        inet = self.connection.adapters.types["inet"].oid
        self.connection.adapters.register_dumper(
            _PackedInet, type("PackedInetDumper", (_PackedInetDumper,), {"oid": inet})
        )
        self.pks: dict[str, int] = {}
        self.addresses: dict[str, tuple[Any, _PackedInet]] = {}
        self.horizon = plausible_horizon()

    def encode(self, data: bytes, skip: int = 0, file_start: bool = False) -> Batch:
        """One piece of the file (whole lines) -> its Batch, its lines numbered from 1 (the
        calling process, which knows how many lines came before, shifts them), the first
        ``skip`` passed over (a resume); ``file_start``: the piece starts the file, where a
        byte order mark is dropped.

        The same rows, counts, rejects and reasons as
        :func:`detection.ingest.batches.read_batches` gives for those lines
        (tests/detection/test_ingest_parallel.py holds the two to that), in two plain loops
        instead of three generators: the fast path's decoding
        (:func:`~detection.ingest.parse.decode_exchange`) then the COPY row straight from
        the decoded fields, the addresses in their binary form from this worker's cache, and
        the prompts fingerprinted a block at a time
        (:func:`~detection.ingest.parse.prompt_hashes`). This runs once a row of millions.
        """
        pieces = data.split(b"\n")
        batch = Batch(newlines=len(pieces) - 1, size=len(data))
        if not pieces[-1]:
            pieces.pop()  # the piece ends with a newline: nothing follows it
        if file_start and pieces and pieces[0].startswith(BOM):
            pieces[0] = pieces[0][len(BOM) :]
        parse, addresses = PARSERS["exchanges"], self.addresses
        if len(addresses) >= _ADDRESSES_MAX:
            addresses.clear()
        # A row to be, in column order (ExchangeRow's): the account's name still in place of
        # its key, the address as (object, binary form), no fingerprint yet.
        rows: list[list] = []
        lines: list[int] = []
        seen: set[str] = set()
        read = last = duplicates = 0
        for line, raw in enumerate(pieces[skip:], skip + 1):
            decoded = decode_exchange(raw)
            if decoded is not None:
                fields, ts = decoded
                address = addresses.get(fields.ip)
                if address is None and (valid := checked_address(fields.ip)) is not None:
                    address = addresses[fields.ip] = (valid, _packed(valid))
            if decoded is not None and address is not None:
                read += 1
                last = line
                if fields.exchange_id in seen:
                    duplicates += 1
                    continue
                seen.add(fields.exchange_id)
                rows.append(
                    [
                        fields.exchange_id,
                        fields.account_id,
                        ts,
                        address,
                        fields.asn,
                        fields.user_agent or "",
                        fields.model,
                        fields.prompt or "",
                        None,
                        fields.input_tokens,
                        fields.output_tokens,
                        fields.tool_use,
                        0,  # as exchange_from_json: nothing to clean on this path
                        "",
                    ]
                )
                lines.append(line)
                continue
            record = decode_line(raw)
            if record is None:
                continue  # a blank line is not a record
            read += 1
            last = line
            row = checked(batch, parse, line, record, raw)
            if row is None:
                continue
            if row.exchange_id in seen:
                duplicates += 1
                continue
            seen.add(row.exchange_id)
            values = list(row)
            values[_IP] = (row.ip, _packed(row.ip))
            rows.append(values)
            lines.append(line)
        batch.rows_read, batch.last_line, batch.duplicates = read, last, duplicates
        batch.future = count_future(rows, self.horizon)
        if rows:
            self._write(batch, rows, lines)
        return batch

    def _write(self, batch: Batch, rows: list[list], lines: list[int]) -> None:
        """The rows as binary COPY data in ``batch.payload``; those whose account is not
        stored (yet) in ``batch.rows``, as rows, for the calling process."""
        pks = self.pks
        unseen = {row[_ACCOUNT] for row in rows if row[_ACCOUNT] not in pks}
        if unseen:
            self._look_up(unseen)
        hashes = prompt_hashes([row[_PROMPT] for row in rows])
        written = 0
        ids = batch.ids
        buffer = io.BytesIO()
        with Copy(self.connection.cursor(), binary=True, writer=FileWriter(buffer)) as copy:
            copy.set_types(STAGE_TYPES)
            write = copy.write_row
            for row, line, fingerprint in zip(rows, lines, hashes, strict=True):
                row[_PROMPT_HASH] = fingerprint
                pk = pks.get(row[_ACCOUNT])
                if pk is None:  # not stored (yet): the calling process makes the placeholder
                    row[_IP] = row[_IP][0]
                    batch.rows.append(ExchangeRow._make(row))
                    batch.lines.append(line)
                    continue
                row[_ACCOUNT], row[_IP] = pk, row[_IP][1]
                write(row)
                ids.append(row[0])
                written += 1
        if written:
            batch.payload, batch.payload_rows = buffer.getvalue(), written

    def _look_up(self, names: set[str]) -> None:
        self.pks.update(
            self.connection.execute(
                "SELECT account_id, id FROM detection_account WHERE account_id = ANY(%s)",
                [list(names)],
            ).fetchall()
        )


def _work(index: int, workers: int, path: str, after_line: int, params: dict, out) -> None:
    """A worker process: every ``workers``-th piece of the file from the ``index``-th, each
    sent as a Batch (its payload separately), then ``("end",)``, ``("damage", exc)`` or
    ``("error", traceback)``."""
    # Rows and strings never form cycles: the collector's passes would only cost time, and
    # what was inherited from the parent is frozen out of its sight.
    gc.freeze()
    gc.disable()
    try:
        worker = _Worker(params)
        line = 0  # lines before the current piece: counted only when resuming
        with Source(Path(path), "exchanges").open() as reader:
            try:
                for number, data in enumerate(reader.blocks(BLOCK_BYTES)):
                    skip = 0
                    if after_line:
                        newlines = data.count(b"\n")
                        skip, line = max(0, after_line - line), line + newlines
                    if number % workers != index:
                        continue
                    batch = worker.encode(data, skip, file_start=number == 0 and skip == 0)
                    batch.position = reader.position()
                    payload, batch.payload = batch.payload, b""
                    out.send(batch)
                    out.send_bytes(payload)
            except DAMAGE as exc:
                out.send(("damage", _picklable(exc), reader.position()))
                return
        out.send(("end",))
    except BaseException:
        out.send(("error", traceback.format_exc()))
    finally:
        out.close()


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        return OSError(f"{type(exc).__name__}: {exc}")


class WorkerLost(RuntimeError):
    """A worker process ended without a word (killed: out of memory, a signal). Nothing of
    its piece was written; the upload task retries (and resumes) on it."""


class _Child:
    """A forked worker process. ``os.fork`` rather than ``multiprocessing.Process``, which
    refuses to start a child from a daemonic process, as a Celery prefork worker's are.

    The child ignores SIGTERM, SIGINT and SIGHUP: a service manager that signals the whole
    process group (systemd's ``KillMode=control-group``, Ctrl-C in a terminal) means the
    ingesting process, which stops its children itself (``stop``: SIGKILL) or lets them
    finish. It dies with its parent (``PR_SET_PDEATHSIG`` on Linux), and closes the reading
    ends of the pipes it inherited, so that a send to a parent that has gone fails at once
    instead of waiting for a reader that can never come."""

    def __init__(self, target, *args, inherited: list | None = None):
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:  # the child: run, then leave without the parent's cleanup
            code = 1
            try:
                for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(signum, signal.SIG_IGN)
                _die_with_parent()
                if os.getppid() != parent:  # the parent died before the line above
                    os._exit(1)
                for end in inherited or ():
                    end.close()
                target(*args)
                code = 0
            finally:
                os._exit(code)
        self.exitcode: int | None = None

    def poll(self) -> int | None:
        if self.exitcode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exitcode = os.waitstatus_to_exitcode(status)
        return self.exitcode

    def stop(self, wait: float = 0.0) -> None:
        """Wait up to ``wait`` seconds for the child to end by itself, then kill it."""
        deadline = time.monotonic() + wait
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.exitcode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent thread ends (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def parallel_batches(source: Source, after_line: int, workers: int) -> Iterator[Batch]:
    """The file's batches, in file order, parsed by ``workers`` processes (see the module
    docstring). Damage ends the stream with a batch whose ``error`` is set."""
    params = connect_params()
    logger.info("%s: parsing in %d worker processes", source.path, workers)
    pipes, children = [], []
    try:
        for index in range(workers):
            receive, send = multiprocessing.Pipe(duplex=False)
            child = _Child(
                _work,
                index,
                workers,
                str(source.path),
                after_line,
                params,
                send,
                inherited=[*pipes, receive],
            )
            children.append(child)
            send.close()  # the worker holds the writing end; EOF here if it dies
            pipes.append(receive)
        before = 0  # lines before the next batch
        last = 0  # the last line of a record handed over so far
        number = 0
        while True:
            pipe, child = pipes[number % workers], children[number % workers]
            try:
                message = pipe.recv()
                if isinstance(message, Batch):
                    message.payload = pipe.recv_bytes()
            except (EOFError, OSError):  # OSError: it died in the middle of a message
                child.stop(wait=1.0)
                raise WorkerLost(
                    f"ingest worker {number % workers} ended without a word "
                    f"(exit code {child.exitcode})"
                ) from None
            if isinstance(message, Batch):
                batch = message
                if before:
                    _shift(batch, before)
                before += batch.newlines
                last = max(last, batch.last_line)
                yield batch
                number += 1
                continue
            if message[0] == "end":
                return
            if message[0] == "damage":
                yield Batch(error=message[1], last_line=last, position=message[2])
                return
            raise RuntimeError(f"an ingest worker failed:\n{message[1]}")
    finally:
        for pipe in pipes:
            pipe.close()  # a worker still sending fails on the broken pipe and ends
        for child in children:
            child.stop(wait=1.0)


def joinable(batch: Batch) -> bool:
    """A batch of COPY data only, which may go to the database in one COPY with its
    neighbours: not one with rows of its own (accounts not stored yet, written by the
    calling process in their place, so rows stay in file order) or an error."""
    return not batch.rows and batch.error is None


def merged(batches: Iterator[Batch]) -> Iterator[Batch]:
    """The joinable batches joined into batches of about ``MERGE_BYTES`` of input; the others
    pass alone, in their place."""
    held: list[Batch] = []
    size = 0
    for batch in batches:
        if not joinable(batch):
            if held:
                yield join(held)
            held, size = [], 0
            yield batch
            continue
        held.append(batch)
        size += batch.size
        if size >= MERGE_BYTES:
            yield join(held)
            held, size = [], 0
    if held:
        yield join(held)


def join(batches: list[Batch]) -> Batch:
    """Consecutive joinable batches as one: their COPY data in one frame, their counts."""
    if len(batches) == 1:
        return batches[0]
    # Binary COPY data: one header (19 bytes) and one trailer (two bytes) around the tuples.
    bodies = [b.payload[len(_SIGNATURE) : -len(_TRAILER)] for b in batches if b.payload]
    return Batch(
        entries=[entry for b in batches for entry in b.entries],
        rows_read=sum(b.rows_read for b in batches),
        size=sum(b.size for b in batches),
        rejected=sum(b.rejected for b in batches),
        duplicates=sum(b.duplicates for b in batches),
        cleaned=sum(b.cleaned for b in batches),
        future=sum(b.future for b in batches),
        last_line=max(b.last_line for b in batches),
        position=batches[-1].position,
        payload=_SIGNATURE + b"".join(bodies) + _TRAILER if bodies else b"",
        payload_rows=sum(b.payload_rows for b in batches),
        ids=[exchange_id for b in batches for exchange_id in b.ids],
        newlines=sum(b.newlines for b in batches),
    )


# The frame of PostgreSQL's binary COPY format ("COPY", File Formats): an 11-byte signature,
# a 32-bit flags field and a 32-bit header extension length (both 0), then the tuples, then
# a 16-bit -1.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_TRAILER = b"\xff\xff"


def _shift(batch: Batch, before: int) -> None:
    """A worker numbers a piece's lines from 1: make them the file's line numbers."""
    batch.lines = [line + before for line in batch.lines]
    for entry in batch.entries:
        entry["line"] += before
    if batch.last_line:
        batch.last_line += before
