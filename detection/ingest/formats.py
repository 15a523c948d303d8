"""Finding telemetry files and streaming records out of them.

A file's format comes from its extension (``.jsonl`` or ``.csv``, either optionally ``.gz``)
and its kind from the start of its name (``accounts*``, ``exchanges*``) unless the operator
names the kind. Readers stream: one line (or one CSV record) at a time from the possibly
gzipped file, so memory does not grow with the file.

Each reader yields ``(line, record, raw)``: the 1-based line the record starts on, a dict
(or a :class:`~detection.ingest.parse.RowError` when the line itself is unusable), and the
original text for the reject file. No line is held whole past ``INGEST_MAX_LINE_BYTES``
(:mod:`detection.ingest.lines`): a longer one comes as a short stand-in that the readers
reject with its length and its first bytes, so a 200 MB line in a small gzip costs a few
megabytes, not the line. A JSON Lines reader
given a fast path (``detection.ingest.parse.JSON_FAST_PATHS``) yields the finished row
(``detection.contract.ExchangeRow``) instead of the dict for each line the fast path accepts.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from isal import igzip, isal_zlib

from detection.contract import FIELDS
from detection.ingest.lines import (
    OVERLONG_TEXT,
    ChunkStream,
    bounded_chunks,
    max_line_bytes,
    overlong_error,
    overlong_head,
    split_lines,
)
from detection.ingest.parse import RowError, csv_record

KINDS = ("accounts", "exchanges")
SUFFIXES = (".jsonl", ".jsonl.gz", ".csv", ".csv.gz")
BOM = b"\xef\xbb\xbf"
# A 200 KB prompt is valid; the csv module's default cell limit (128 KiB) is not enough.
csv.field_size_limit(64 * 1024 * 1024)


# What reading a damaged file raises: a truncated or corrupt gzip (EOFError, BadGzipFile, a
# bad deflate block from either inflater), or an I/O error.
DAMAGE = (OSError, EOFError, zlib.error, isal_zlib.error)


class SourceError(Exception):
    """The file cannot be ingested at all (unreadable, unknown kind, unusable header)."""


def data_suffix(path: Path) -> str | None:
    name = path.name.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), None)


def short_name(name: str, max_bytes: int) -> str:
    """``name`` cut to at most ``max_bytes`` of UTF-8, keeping its data suffix (``.jsonl.gz``)
    so the kind and format can still be read from it. A file name (255 bytes on most file
    systems) must hold the prefixes the uploads and reject files put before it."""
    if len(name.encode()) <= max_bytes:
        return name
    suffix = data_suffix(Path(name)) or ""
    suffix = name[len(name) - len(suffix) :]
    stem = name[: len(name) - len(suffix)].encode()[: max_bytes - len(suffix.encode())]
    return stem.decode(errors="ignore") + suffix


def kind_from_name(path: Path) -> str | None:
    name = path.name.lower()
    return next((kind for kind in KINDS if name.startswith(kind)), None)


@dataclass
class Source:
    """One file to ingest: where it is, which kind of record, which format."""

    path: Path
    kind: str

    @property
    def is_csv(self) -> bool:
        return ".csv" in (data_suffix(self.path) or "")

    @property
    def is_gzip(self) -> bool:
        return self.path.name.lower().endswith(".gz")

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def open(self) -> Reader:
        return Reader(self)

    def check(self) -> None:
        """Open the file and read its start, so unusable files fail before anything loads."""
        try:
            with self.open() as reader:
                reader.header()
        except SourceError:
            raise
        except (*DAMAGE, UnicodeDecodeError, csv.Error) as exc:
            raise SourceError(f"{self.path}: cannot read: {exc}") from None


def resolve(paths: list[str], kind: str | None = None) -> tuple[list[Source], list[Path]]:
    """Expand files and folders into Sources, accounts before exchanges.

    Returns the sources and the files inside folders that were passed over (not a data file,
    or a name that says no kind). A file named explicitly must be usable, or SourceError.
    """
    sources: list[Source] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                child_kind = kind or kind_from_name(child)
                if data_suffix(child) and child_kind:
                    sources.append(Source(child, child_kind))
                else:
                    skipped.append(child)
            continue
        if not path.exists():
            raise SourceError(f"{path}: no such file or folder")
        if not path.is_file():
            raise SourceError(f"{path}: not a regular file")
        if not os.access(path, os.R_OK):
            raise SourceError(f"{path}: not readable (permission denied)")
        if not data_suffix(path):
            raise SourceError(f"{path}: unknown format; expected one of {', '.join(SUFFIXES)}")
        file_kind = kind or kind_from_name(path)
        if not file_kind:
            raise SourceError(
                f"{path}: cannot tell the kind from the name (accounts*, exchanges*); "
                "pass --kind accounts|exchanges"
            )
        sources.append(Source(path, file_kind))
    # Accounts first, so exchanges find their accounts instead of making placeholders.
    ordered = [s for s in sources if s.kind == "accounts"] + [
        s for s in sources if s.kind == "exchanges"
    ]
    return ordered, skipped


class Gunzip(io.BufferedIOBase):
    """A gzip file's decompressed bytes: ISA-L's inflater (python-isal), which takes about a
    quarter of zlib's CPU time (docs/benchmarks.md, "Ingest"), and :class:`_Inflate` (zlib, a
    few hundred bytes at a time) where ISA-L meets damage.

    Given a truncated or corrupt file, ISA-L raises without the last stretch it decoded (up
    to a read's worth, a megabyte here), and so does zlib without the output of the call
    that met the damage. So at the first damage ISA-L meets, the file is decoded again from
    the start by zlib, skipped to where ISA-L stopped, and read on from there in small steps:
    every line before the damage still loads, as the contract says, and only a damaged file
    pays for the second pass."""

    def __init__(self, path: Path, raw: BinaryIO):
        self._path = path
        self._raw = raw
        self._stream: Any = igzip.GzipFile(fileobj=raw, mode="rb")
        self._given = 0  # decompressed bytes handed out
        self._careful = False

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read1(size)
        except DAMAGE:
            if self._careful:
                raise
            self._decode_carefully()
            data = self._stream.read1(size)
        self._given += len(data)
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read1(1 << 20), b""))
        pieces, wanted = [], size
        while wanted > 0 and (data := self.read1(wanted)):
            pieces.append(data)
            wanted -= len(data)
        return b"".join(pieces)

    def readinto(self, buffer) -> int:
        data = self.read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def peek(self, size: int = 0) -> bytes:
        """Reads (and checks) the start of the file; only called before any read."""
        try:
            return self._stream.peek(size)
        except DAMAGE:
            if self._careful:
                raise
            self._decode_carefully()
            return self._stream.peek(size)

    def position(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._stream.close()
        self._raw.close()
        super().close()

    def _decode_carefully(self) -> None:
        self._stream.close()
        self._raw.close()
        self._careful = True
        self._raw = self._path.open("rb")
        self._stream = _Inflate(self._raw)
        self._stream.skip(self._given)  # ISA-L decoded these, so zlib does too


class _Inflate:
    """zlib's gzip decoding (members one after another, zero padding between them, as the
    standard library reads them), handing out at most ``STEP`` bytes a call once past
    :meth:`skip`: zlib drops the output of a call that meets damage, so a small step loses
    at most a part of one line."""

    STEP = 512

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._member: Any = None  # a zlib decompressor inside a member, None between members
        self._input = b""  # compressed bytes read and not decoded yet
        self._held = b""  # decoded bytes not handed out yet (peek, the end of a skip)

    def skip(self, size: int) -> None:
        while size > 0:
            data = self._decode(min(size, 1 << 20))
            if not data:
                return
            if len(data) > size:
                self._held = data[size:]
            size -= len(data)

    def read1(self, size: int = -1) -> bytes:
        step = self.STEP if size < 0 else min(size, self.STEP)
        if self._held:
            data, self._held = self._held[:step], self._held[step:]
            return data
        return self._decode(step)

    def peek(self, size: int = 0) -> bytes:
        if not self._held:
            self._held = self._decode(self.STEP)
        return self._held

    def close(self) -> None:
        self._raw.close()

    def _fill(self) -> bool:
        data = self._raw.read(64 * 1024)
        self._input += data
        return bool(data)

    def _decode(self, limit: int) -> bytes:
        while True:
            if self._member is None:  # between members: padding, the next header, or the end
                self._input = self._input.lstrip(b"\x00")
                while len(self._input) < 2 and self._fill():
                    self._input = self._input.lstrip(b"\x00")
                if not self._input:
                    return b""
                if self._input[:2] != b"\x1f\x8b":
                    raise gzip.BadGzipFile(f"Not a gzipped file ({self._input[:2]!r})")
                self._member = zlib.decompressobj(zlib.MAX_WBITS | 16)
            if not self._input and not self._fill():
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            data = self._member.decompress(self._input, limit)
            if self._member.eof:
                self._input, self._member = self._member.unused_data, None
            else:
                self._input = self._member.unconsumed_tail
            if data:
                return data


class Reader:
    """A context manager streaming records from one Source."""

    def __init__(self, source: Source):
        self.source = source
        self._raw: BinaryIO = source.path.open("rb")
        self._stream: BinaryIO = Gunzip(source.path, self._raw) if source.is_gzip else self._raw
        self._text: io.TextIOWrapper | None = None
        self._csv: Any = None
        self._columns: list[str] | None = None
        self.max_line = max_line_bytes()

    def _chunks(self) -> Iterator[bytes]:
        return bounded_chunks(self._stream, self.max_line)

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()
        self._raw.close()

    def position(self) -> int:
        """Bytes of the file on disk consumed so far (compressed bytes for gzip)."""
        try:
            return self._stream.position() if self.source.is_gzip else self._raw.tell()
        except (OSError, ValueError):
            return 0

    def header(self) -> list[str] | None:
        """CSV: read and check the header row. JSON Lines: read the first bytes (gzip check)."""
        if not self.source.is_csv:
            self._stream.peek(1)  # reads (and for gzip checks) the start of the file
            return None
        if self._columns is None:
            self._text = io.TextIOWrapper(
                io.BufferedReader(ChunkStream(self._chunks()), 1 << 16),
                encoding="utf-8-sig",
                errors="surrogateescape",
                newline="",
            )
            self._csv = csv.reader(self._text, strict=True)
            first = next(self._csv, None)
            self._columns = [c.strip() for c in first] if first else []
            if self._columns:
                required = [f.name for f in FIELDS[self.source.kind] if f.required]
                missing = [name for name in required if name not in self._columns]
                if missing:
                    raise SourceError(
                        f"{self.source.path}: the header row lacks required column(s) "
                        f"{', '.join(missing)} for {self.source.kind}"
                    )
        return self._columns

    def records(
        self, after_line: int = 0, fast: Callable[[bytes], tuple | None] | None = None
    ) -> Iterator[tuple[int, dict | tuple | RowError, Any]]:
        """Every record, skipping those that start on or before ``after_line`` (a resume).

        ``fast`` (JSON Lines only) turns a line's bytes into the finished row, or ``None`` for
        a line that needs the full checks; a line it accepts comes as its row tuple."""
        if self.source.is_csv:
            yield from self._csv_records(after_line)
        else:
            yield from self._jsonl_records(after_line, fast)

    def _jsonl_records(
        self, after_line: int, fast: Callable[[bytes], tuple | None] | None
    ) -> Iterator[tuple[int, dict | tuple | RowError, Any]]:
        numbered = enumerate(split_lines(self._chunks()), 1)
        if after_line:
            numbered = ((line, raw) for line, raw in numbered if line > after_line)
        yield from jsonl_records(numbered, fast)

    def blocks(self, size: int) -> Iterator[bytes]:
        """JSON Lines: the decompressed file in pieces that each end at the first line end
        at or after a multiple of ``size`` bytes (the last piece: wherever the file ends),
        the same pieces however the reads fall, so that several readers of one file cut it
        alike. Damage ends the stream with its exception, after a last piece holding every
        whole line before it."""
        pending: list[bytes] = []  # the pieces of the block being read
        start = 0  # offset in the stream of the block's first byte
        end = 0  # offset in the stream after the last byte read
        boundary = size
        try:
            for data in self._chunks():
                # Only the new bytes are searched (none before them ends a line past the
                # boundary), so a line of any length costs one pass.
                while end + len(data) > boundary:
                    cut = data.find(b"\n", max(0, boundary - end))
                    if cut < 0:
                        break
                    pending.append(data[: cut + 1])
                    yield b"".join(pending)
                    end += cut + 1
                    start, pending, data = end, [], data[cut + 1 :]
                    boundary = (start // size + 1) * size
                if data:
                    pending.append(data)
                    end += len(data)
        except DAMAGE:
            data = b"".join(pending)
            if b"\n" in data:
                yield data[: data.rindex(b"\n") + 1]
            raise
        if pending:
            yield b"".join(pending)

    def _csv_records(self, after_line: int) -> Iterator[tuple[int, dict | RowError, Any]]:
        columns = self.header()
        if not columns:
            return
        reader = self._csv
        width = len(columns)
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if start > after_line:
                    yield start, RowError(f"malformed CSV: {exc}"), None
                continue
            if start <= after_line:
                continue
            if not cells or cells == [""]:
                continue  # a blank line is not a record
            if cells[0].startswith(OVERLONG_TEXT):
                stand_in = cells[0].encode("utf-8", "replace")
                if (error := overlong_error(stand_in)) is not None:
                    yield start, error, overlong_head(stand_in)
                    continue
            if len(cells) != width:
                yield (
                    start,
                    RowError(f"malformed CSV: {len(cells)} cells, the header has {width}"),
                    cells,
                )
                continue
            yield start, csv_record(dict(zip(columns, cells, strict=True))), cells


def jsonl_records(
    numbered: Iterable[tuple[int, bytes]], fast: Callable[[bytes], tuple | None] | None = None
) -> Iterator[tuple[int, dict | tuple | RowError, bytes]]:
    """``(line, record, raw)`` for numbered JSON Lines lines (see :meth:`Reader.records`):
    the row tuple where ``fast`` accepts the line, else the decoded object or the RowError
    that makes the line unusable. Blank lines are not records; a byte order mark is dropped
    from line 1."""
    for line, raw in numbered:
        if line == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if fast is not None and (row := fast(raw)) is not None:
            yield line, row, raw
            continue
        record = decode_line(raw)
        if record is not None:
            yield line, record, raw


def decode_line(raw: bytes) -> dict | RowError | None:
    """A JSON Lines line the fast path did not take: its object, the RowError that makes it
    unusable, or None for a blank line (not a record)."""
    if (error := overlong_error(raw)) is not None:
        return error
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not raw.strip():
            return None
        record = _lenient_json(raw)
        if record is None:
            return RowError(f"malformed JSON: {exc}")
    if type(record) is not dict:
        return RowError(f"not a JSON object (a {_json_type(record)})")
    return record


def _lenient_json(raw: bytes) -> Any:
    """A line orjson refuses only for its text: a lone surrogate escape (``\\ud800``, which
    ``json.dumps`` and ``JSON.stringify`` both write) or bytes that are not UTF-8 inside a
    string. The standard library's parser takes both (the bytes read as Python's
    surrogateescape code points), so the row loads and its text is cleaned and marked
    (detection.ingest.parse). None when the line is malformed anyway, including the
    ``NaN`` and ``Infinity`` the standard library would otherwise take: they are not JSON."""
    try:
        return json.loads(raw.decode("utf-8", "surrogateescape"), parse_constant=refuse_non_json)
    except (ValueError, RecursionError):
        return None


def refuse_non_json(name: str):
    """``parse_constant`` for the standard library's parser: ``NaN`` and ``Infinity`` are
    not JSON, and no reader of the ingest contract takes them."""
    raise ValueError(f"{name} is not JSON")


def _json_type(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def printable(cells: list[str]) -> list[str]:
    """Cells with undecodable bytes shown as \\xNN, so the reject file is valid UTF-8."""
    return [c.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") for c in cells]
