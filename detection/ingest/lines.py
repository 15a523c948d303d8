"""Lines of a telemetry stream within a memory bound.

A file's bytes come through :func:`bounded_chunks`, which never holds more than
``INGEST_MAX_LINE_BYTES`` of one line: a longer line is counted and dropped as it streams past
and comes out as a short stand-in (:data:`OVERLONG`, its length and its first bytes), which
the record readers (detection.ingest.formats) reject with the line's length. JSON Lines is
split with :func:`split_lines`; CSV reads the same chunks through :class:`ChunkStream`.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from django.conf import settings

from detection.ingest.parse import RowError

# A line longer than this is not read whole (INGEST_MAX_LINE_BYTES overrides it), and a
# reject record carries at most the first REJECT_RAW_BYTES of its line.
MAX_LINE_BYTES = 16 * 1024 * 1024
REJECT_RAW_BYTES = 2048
# What an overlong line is replaced with: a NUL (so no JSON or CSV reader takes it for data),
# the line's length, the limit and its first bytes in base64 (no quote, comma or new line).
OVERLONG = b"\x00overlong "


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a stream's chunks, split on ``\\n`` only, without it (as JSON Lines
    defines them): iterating a ``GzipFile`` line by line costs a Python-level ``readline``
    call a line. Each chunk is what one read of the file gave, so when a gzip file turns out
    truncated every line before the damage has already been yielded. A line longer than a
    chunk is kept as its pieces and joined once, at its end."""
    pending: list[bytes] = []  # the start of a line not ended yet
    for data in chunks:
        parts = data.split(b"\n")
        if len(parts) == 1:
            pending.append(data)
            continue
        if pending:
            pending.append(parts[0])
            parts[0] = b"".join(pending)
        last = parts.pop()
        pending = [last] if last else []
        yield from parts
    if pending:
        yield b"".join(pending)


def max_line_bytes() -> int:
    return int(getattr(settings, "INGEST_MAX_LINE_BYTES", MAX_LINE_BYTES))


def bounded_chunks(stream: BinaryIO, limit: int, block: int = 1 << 20) -> Iterator[bytes]:
    """The stream's bytes in chunks, each line longer than ``limit`` replaced by its
    :data:`OVERLONG` stand-in; at most ``limit`` bytes of a line are ever held.

    Reads are at most ``limit`` long, so a line that starts and ends inside one read is
    within the limit: only the line the read continues and the one it leaves open are
    measured. The open line is held back until it ends or outgrows the limit; past the
    limit its bytes are counted and dropped until its end."""
    block = max(1, min(block, limit))
    keep = min(REJECT_RAW_BYTES, limit)  # of an overlong line, for its reject record
    held: list[bytes] = []  # the open line, while it is within the limit
    held_size = 0
    skipped = -1  # length so far of the overlong line being skipped, -1 when none
    head = b""
    while data := stream.read1(block):
        end = data.find(b"\n")
        if skipped >= 0:
            if end < 0:
                skipped += len(data)
                continue
            yield _overlong(skipped + end, limit, head)
            skipped, data, end = -1, data[end:], 0
        if end < 0:
            if held_size + len(data) > limit:
                head = (b"".join(held) + data)[:keep]
                skipped, held, held_size = held_size + len(data), [], 0
            else:
                held.append(data)
                held_size += len(data)
            continue
        if held_size + end > limit:
            head = (b"".join(held) + data[:end])[:keep]
            yield _overlong(held_size + end, limit, head)
            held, held_size, data = [], 0, data[end:]
        last = data.rindex(b"\n") + 1
        if held:
            yield b"".join(held)
        yield data[:last]
        rest = data[last:]
        held, held_size = ([rest], len(rest)) if rest else ([], 0)
    if skipped >= 0:
        yield _overlong(skipped, limit, head)
    elif held:
        yield b"".join(held)


def _overlong(length: int, limit: int, head: bytes) -> bytes:
    return OVERLONG + b"%d %d " % (length, limit) + base64.b64encode(head)


OVERLONG_TEXT = OVERLONG.decode()


# A stand-in exactly as _overlong writes it. A line of the file that merely starts with the
# marker (a NUL is attacker-controlled text like any other) is no stand-in and is read as the
# line it is.
_STAND_IN = re.compile(rb"\x00overlong ([0-9]{1,20}) ([0-9]{1,20}) ([A-Za-z0-9+/]*={0,2})")


def read_stand_in(raw: bytes) -> tuple[int, int, bytes] | None:
    """``(length, limit, first bytes)`` of the line an :data:`OVERLONG` stand-in replaced,
    or None if ``raw`` is no stand-in."""
    if not raw.startswith(OVERLONG) or (found := _STAND_IN.fullmatch(raw)) is None:
        return None
    length, limit, head = found.groups()
    return int(length), int(limit), base64.b64decode(head)


def overlong_error(stand_in: bytes) -> RowError | None:
    """The reject reason for an :data:`OVERLONG` stand-in (None if ``stand_in`` is none)."""
    if (found := read_stand_in(stand_in)) is None:
        return None
    length, limit, _ = found
    return RowError(
        f"line of {length} bytes, longer than the {limit} bytes a line may hold "
        "(INGEST_MAX_LINE_BYTES): not read"
    )


def overlong_head(stand_in: bytes) -> bytes | None:
    """The first bytes of the line an :data:`OVERLONG` stand-in replaced (None if
    ``stand_in`` is none)."""
    found = read_stand_in(stand_in)
    return None if found is None else found[2]


class ChunkStream(io.RawIOBase):
    """Chunks as a raw binary stream, for the CSV reader's text layer."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._chunk = memoryview(b"")
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._at >= len(self._chunk):
            chunk = next(self._chunks, b"")
            if not chunk:
                return 0
            self._chunk, self._at = memoryview(chunk), 0
        n = min(len(buffer), len(self._chunk) - self._at)
        buffer[:n] = self._chunk[self._at : self._at + n]
        self._at += n
        return n
