"""Ingest within a memory and disk budget: a line too long to hold is rejected as it streams
past (its reject record keeps the line's start and its length), reject records carry a cut
copy of their line, and a reject file stops listing at its limit while the report counts on.

How much memory the 200 MB line costs is measured by ``bench/ingest_limits.py``; these tests
hold what a user sees: the counts, the reasons and the size of what is written.
"""

import gzip
from pathlib import Path

import orjson
import pytest

from detection.ingest.lines import REJECT_RAW_BYTES
from detection.models import Exchange, IngestReport
from tests.detection.test_ingest_support import (
    exchange_row,
    ingest,
    read_rejects,
    write_csv,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

MB = 1024 * 1024


def gzip_stream(path: Path, pieces) -> Path:
    """A gzip file of one member per piece, each piece compressed once however often it
    repeats: a 200 MB line costs this process one megabyte and a fraction of a second."""
    members: dict[bytes, bytes] = {}
    with path.open("wb") as fh:
        for piece in pieces:
            if piece not in members:
                members[piece] = gzip.compress(piece, compresslevel=9)
            fh.write(members[piece])
    return path


def repeated(byte: bytes, size: int, block: int = MB):
    chunk = byte * block
    for _ in range(size // block):
        yield chunk


START = b'{"exchange_id": "huge", "prompt": "'


@pytest.fixture(scope="module")
def huge_line(tmp_path_factory) -> Path:
    """Two good exchanges around one line of 200 MB, in a gzip of a few hundred KB."""
    line1 = orjson.dumps(exchange_row(1)) + b"\n"
    line3 = b"\n" + orjson.dumps(exchange_row(2)) + b"\n"
    path = tmp_path_factory.mktemp("huge") / "exchanges.jsonl.gz"
    return gzip_stream(path, [line1, START, *repeated(b"A", 200 * MB), line3])


@pytest.fixture(scope="module")
def nuls(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("nuls") / "exchanges.jsonl.gz"
    return gzip_stream(path, repeated(b"\x00", 120 * MB))


def test_a_200_mb_line_in_a_small_gzip_is_rejected_and_the_rest_loads(huge_line, loader):
    path = huge_line
    start = START
    assert path.stat().st_size < 1 * MB

    code, _, _ = ingest(loader, path)

    assert code == 1
    assert set(Exchange.objects.values_list("exchange_id", flat=True)) == {"ex-1", "ex-2"}
    report = IngestReport.objects.get()
    assert (report.loaded, report.rejected) == (2, 1)
    (entry,) = [e for e in read_rejects(report.reject_path) if e["type"] == "rejected"]
    length = len(start) + 200 * MB
    assert entry["line"] == 2
    assert entry["reason"].startswith(f"line of {length} bytes, longer than the {16 * MB} bytes")
    assert entry["raw_bytes"] == length
    assert entry["raw"].startswith(start.decode()) and len(entry["raw"]) == REJECT_RAW_BYTES
    assert Path(report.reject_path).stat().st_size < 8 * 1024


def test_a_gzip_of_nuls_is_one_rejected_line_and_a_small_reject_file(nuls, loader):
    path = nuls

    code, _, _ = ingest(loader, path)

    assert code == 1
    report = IngestReport.objects.get()
    assert (report.loaded, report.rejected, report.rows_read) == (0, 1, 1)
    (entry,) = read_rejects(report.reject_path)
    assert entry["raw_bytes"] == 120 * MB
    assert entry["raw"] == "\x00" * REJECT_RAW_BYTES
    assert Path(report.reject_path).stat().st_size < 16 * 1024


def test_the_line_limit_is_a_setting_and_applies_to_csv_too(tmp_path, settings, loader):
    settings.INGEST_MAX_LINE_BYTES = 4096
    rows = [exchange_row(1), exchange_row(2, prompt="p" * 10_000), exchange_row(3)]
    fields = ["exchange_id", "account_id", "ts", "ip", "model", "prompt"]
    path = write_csv(tmp_path / "exchanges.csv", rows, fields)

    code, _, _ = ingest(loader, path)

    assert code == 1
    assert set(Exchange.objects.values_list("exchange_id", flat=True)) == {"ex-1", "ex-3"}
    (entry,) = read_rejects(IngestReport.objects.get().reject_path)[-1:]
    assert entry["line"] == 3
    assert "longer than the 4096 bytes a line may hold (INGEST_MAX_LINE_BYTES)" in entry["reason"]
    assert entry["raw"].startswith("ex-2,")


def test_a_rejected_line_is_kept_cut_with_its_length(tmp_path, loader):
    bad = orjson.dumps(exchange_row(5, ts="never", prompt="q" * 50_000))
    path = tmp_path / "exchanges.jsonl"
    path.write_bytes(bad + b"\n")

    ingest(loader, path)

    (entry,) = read_rejects(IngestReport.objects.get().reject_path)
    assert entry["reason"].startswith("ts: not an RFC 3339 timestamp")
    assert entry["raw"] == bad[:REJECT_RAW_BYTES].decode()
    assert entry["raw_bytes"] == len(bad)


def test_a_full_reject_file_stops_listing_and_the_report_counts_on(tmp_path, settings, loader):
    settings.INGEST_REJECTS_MAX_BYTES = 4000
    path = tmp_path / "exchanges.jsonl"
    path.write_bytes(b"".join(b"not json %d\n" % n for n in range(500)) + b"\n")

    code, _, _ = ingest(loader, path)

    assert code == 1
    report = IngestReport.objects.get()
    assert report.rejected == 500
    entries = read_rejects(report.reject_path)
    assert Path(report.reject_path).stat().st_size < 4000 + 1024
    assert entries[-1]["type"] == "limit"
    assert "INGEST_REJECTS_MAX_BYTES" in entries[-1]["reason"]
    assert all(e["type"] == "rejected" for e in entries[:-1]) and len(entries) > 10


@pytest.mark.parametrize(
    "line",
    [
        b"\x00overlong ",
        b"\x00overlong 12",
        b"\x00overlong x y zz",
        b"\x00overlong 99 16 not base64!",
    ],
)
def test_a_line_that_starts_like_an_overlong_stand_in_is_read_as_the_line_it_is(
    tmp_path, loader, line
):
    """The stand-in for an overlong line starts with a NUL, which a file can hold too: such a
    line is rejected for what it is, and the lines around it load."""
    path = tmp_path / "exchanges.jsonl"
    path.write_bytes(
        orjson.dumps(exchange_row(1)) + b"\n" + line + b"\n" + orjson.dumps(exchange_row(2)) + b"\n"
    )

    code, _, _ = ingest(loader, path)

    assert code == 1
    assert set(Exchange.objects.values_list("exchange_id", flat=True)) == {"ex-1", "ex-2"}
    report = IngestReport.objects.get()
    assert (report.loaded, report.rejected) == (2, 1)
    (entry,) = [e for e in read_rejects(report.reject_path) if e["type"] == "rejected"]
    assert entry["line"] == 2
    assert "INGEST_MAX_LINE_BYTES" not in entry["reason"]
