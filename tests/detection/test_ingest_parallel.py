"""Big files: parsing in worker processes, the bulk path (index after), the gzip reader.

The behaviour tests of test_ingest_command.py and test_ingest_rejects.py already run once
with the ``parallel`` loader variant (see conftest.py). These are what only this path has:
the worker's parse held to the in-process reader's, the COPY data it writes, the order of
batches, the bulk path's indexes, duplicates and rollback, resumes, a failing worker.
"""

import contextlib
import gzip
import os
import random
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import orjson
import psycopg
import pytest
from django.db import connection, connections, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from detection.ingest import Source, ingest_source, loaders, parallel, report_for, service
from detection.ingest.batches import Batch, read_batches
from detection.ingest.formats import DAMAGE, Gunzip
from detection.ingest.loaders import UNIQUE_ID, CopyLoader, connect_params
from detection.models import Account, Exchange, IngestReport
from tests.detection.test_ingest_support import (
    account_row,
    exchange_row,
    read_rejects,
    run_ingest,
    stored_exchanges,
    write_jsonl,
)

pytestmark = [
    pytest.mark.usefixtures("data_dir"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's COPY path"),
]

INDEXES = """
    SELECT i.relname, pg_get_indexdef(i.oid), c.conname, c.contype
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid
    WHERE x.indrelid = 'detection_exchange'::regclass ORDER BY 1
"""


def table_indexes() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(INDEXES)
        return cursor.fetchall()


@pytest.fixture
def big(monkeypatch, settings):
    """What the code does to big files, done to small ones: two workers, small pieces."""
    monkeypatch.setattr(parallel, "MIN_FILE_BYTES", 0)
    monkeypatch.setattr(service, "BULK_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 600)  # a few rows a piece
    monkeypatch.setattr(parallel, "MERGE_BYTES", 2000)  # a few pieces a COPY
    settings.INGEST_WORKERS = 2


def ingest_file(path: Path, **options) -> IngestReport:
    source = Source(path, "accounts" if path.name.startswith("accounts") else "exchanges")
    report = report_for(source)
    return ingest_source(source, report=report, **options)


# --- the worker's parse is the in-process reader's ------------------------------------------

LINE = st.one_of(
    st.builds(
        lambda n, account, prompt, ts: orjson.dumps(
            exchange_row(n, account=account, prompt=prompt, ts=ts)
        ),
        st.integers(0, 30),  # repeats: duplicates within a piece
        st.integers(0, 3),
        st.text(st.sampled_from("ab 0123\t\nXé漢\u2003"), max_size=20),
        st.sampled_from(
            ["2026-03-01T12:30:00Z", "2026-03-01t12:30:00z", "2026-03-01T12:30:00.1234567Z", "x"]
        ),
    ),
    st.sampled_from([b"", b"  ", b"{", b"[1]", b'{"exchange_id": 1}', b"\xff\xfe"]),
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(lines=st.lists(LINE, max_size=25), bom=st.booleans(), skip=st.integers(0, 5))
def test_a_worker_reads_a_piece_as_the_in_process_reader_reads_the_file(lines, bom, skip):
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + b"\n"
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"exchanges-{os.getpid()}.jsonl"
    path.write_bytes(data)
    try:
        (expected,) = list(read_batches(Source(path, "exchanges"), skip, 10**6, 10**9))
    finally:
        path.unlink()
    worker = parallel._Worker(connect_params())
    try:
        # No account is stored (the test's own are not committed), so every row comes back
        # as a row, and can be compared as it is; the fingerprints were made a block at once.
        batch = worker.encode(data, skip, file_start=True)
    finally:
        worker.connection.close()
    assert batch.payload == b""
    assert batch.rows == expected.rows
    assert batch.lines == expected.lines
    assert batch.entries == expected.entries
    assert (batch.rows_read, batch.duplicates, batch.rejected, batch.last_line) == (
        expected.rows_read,
        expected.duplicates,
        expected.rejected,
        expected.last_line,
    )
    assert batch.newlines == data.count(b"\n")


def test_the_pieces_do_not_depend_on_how_the_reads_fall(tmp_path):
    rng = random.Random(5)
    lines = [b"x" * rng.choice([0, 1, 9, 80, 700]) for _ in range(300)]
    data = b"\n".join(lines)
    path = tmp_path / "exchanges.jsonl"
    path.write_bytes(data)
    cuts = []
    for largest in (1, 7, 100, 1 << 20):
        reader = Source(path, "exchanges").open()
        read1 = reader._stream.read1
        reader._stream.read1 = lambda size, read1=read1, largest=largest: read1(
            min(size, rng.randint(1, largest))
        )
        with reader:
            cuts.append(list(reader.blocks(256)))
    assert all(pieces == cuts[0] for pieces in cuts)
    assert b"".join(cuts[0]) == data
    offset = 0
    for piece in cuts[0][:-1]:  # each ends at the first line end at or after a multiple
        boundary = (offset // 256 + 1) * 256
        assert data.find(b"\n", boundary) == offset + len(piece) - 1
        offset += len(piece)


def test_a_truncated_gzip_yields_every_byte_the_standard_library_can_decode(tmp_path):
    rows = [orjson.dumps(exchange_row(n, prompt=f"{n} " + "padding " * 400)) for n in range(400)]
    whole = gzip.compress(b"\n".join(rows) + b"\n")
    path = tmp_path / "exchanges.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    expected = b""
    with pytest.raises(EOFError), gzip.open(path) as stdlib:
        while data := stdlib.read1(8192):
            expected += data
    got = b""
    with pytest.raises(EOFError), path.open("rb") as raw:
        stream = Gunzip(path, raw)
        while data := stream.read1(1 << 20):  # ISA-L alone would lose this last megabyte
            got += data
    assert got == expected and len(got) > 600_000


# --- end to end, with accounts committed so the workers write the rows themselves -----------


def files(tmp_path: Path, n: int = 60, broken: tuple = (), **changes) -> tuple[Path, Path]:
    """Accounts, and ``n`` exchanges with a broken line after each of the ``broken`` ones."""
    accounts = write_jsonl(tmp_path / "accounts.jsonl", [account_row(a) for a in range(4)])
    lines: list = []
    for i in range(n):
        lines.append(exchange_row(i, account=i % 4, prompt=f"Prompt {i}  of {n}", **changes))
        if i in broken:
            lines.append(b'{"exchange_id": "broken", "ts": "yesterday"}')
    exchanges = write_jsonl(tmp_path / "exchanges.jsonl.gz", lines)
    return accounts, exchanges


@pytest.mark.django_db(transaction=True)
def test_workers_write_the_rows_the_in_process_reader_writes(tmp_path, big, monkeypatch):
    accounts, exchanges = files(tmp_path, broken=(3, 29, 58))
    ingest_file(accounts)
    expected_indexes = table_indexes()
    in_process = ingest_file(exchanges, workers=1, bulk="off")
    expected = stored_exchanges()
    expected_rejects = [(e["line"], e["reason"]) for e in read_rejects(in_process.reject_path)]
    Exchange.objects.all().delete()
    written = []
    load_payload = CopyLoader.load_payload

    def counted(self, payload, rows, ids=None):
        written.append(rows)
        return load_payload(self, payload, rows, ids)

    monkeypatch.setattr(CopyLoader, "load_payload", counted)

    report = ingest_file(exchanges)

    assert report.bulk and (report.loaded, report.duplicates, report.rejected) == (60, 0, 3)
    assert sum(written) == 60 and len(written) > 2  # the workers wrote every row, in batches
    assert stored_exchanges() == expected
    rejects = [(e["line"], e["reason"]) for e in read_rejects(report.reject_path)]
    assert rejects == expected_rejects and [line for line, _ in rejects] == [5, 32, 62]
    assert (report.rows_read, report.lines_done) == (63, 63)
    assert table_indexes() == expected_indexes
    # The rows were COPYed in file order, one worker's piece after the other's.
    ids = list(Exchange.objects.order_by("pk").values_list("exchange_id", flat=True))
    assert ids == [f"ex-{i}" for i in range(60)]


@pytest.mark.django_db(transaction=True)
def test_the_bulk_path_keeps_the_first_row_of_each_id_and_counts_the_rest(tmp_path, big):
    ingest_file(write_jsonl(tmp_path / "accounts.jsonl", [account_row(0)]))
    rows = [exchange_row(i % 25, prompt=f"copy {i // 25} of row {i % 25}") for i in range(75)]
    report = ingest_file(write_jsonl(tmp_path / "exchanges.jsonl", rows))

    assert report.bulk
    assert (report.rows_read, report.loaded, report.duplicates) == (75, 25, 50)
    stored = stored_exchanges()
    assert len(stored) == 25
    assert {e["prompt"] for e in stored.values()} == {f"copy 0 of row {i}" for i in range(25)}
    with connection.cursor() as cursor:  # the unique index is back and holds
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname = %s", [UNIQUE_ID])
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_bulk_on_a_table_with_rows_keeps_the_stored_rows(tmp_path, big):
    accounts, exchanges = files(tmp_path, n=10)
    ingest_file(accounts)
    ingest_file(exchanges, bulk="off")
    before = stored_exchanges()
    more = write_jsonl(
        tmp_path / "exchanges-more.jsonl",
        [exchange_row(i, prompt=f"second version of {i}") for i in range(5, 15)],
    )

    report = ingest_file(more, bulk="on")

    assert report.bulk and (report.loaded, report.duplicates) == (5, 5)
    after = stored_exchanges()
    assert {k: after[k] for k in before} == before  # stored rows never change
    assert sorted(set(after) - set(before)) == sorted(f"ex-{i}" for i in range(10, 15))


@pytest.mark.django_db(transaction=True)
def test_a_failed_bulk_load_leaves_nothing_but_the_indexes(tmp_path, big, monkeypatch, data_dir):
    accounts, exchanges = files(tmp_path, **{"tool_use": "yes"})  # every row rejected
    ingest_file(accounts)
    indexes = table_indexes()
    calls = {"n": 0}
    commit = service._commit

    def commit_then_fail(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the database went away")
        commit(*args)

    monkeypatch.setattr(service, "_commit", commit_then_fail)
    report = report_for(Source(exchanges, "exchanges"))
    with pytest.raises(RuntimeError):
        ingest_source(Source(exchanges, "exchanges"), report=report)

    assert Exchange.objects.count() == 0
    assert table_indexes() == indexes
    report.refresh_from_db()
    assert (report.rows_read, report.rejected, report.lines_done, report.reject_path) == (
        0,
        0,
        0,
        "",
    )
    assert list(Path(data_dir).glob("**/*.rejects.jsonl")) == []
    monkeypatch.setattr(service, "_commit", commit)

    again = ingest_file(exchanges)  # a second run starts from the beginning
    assert (again.rows_read, again.rejected) == (60, 60)
    assert len([e for e in read_rejects(again.reject_path) if e["type"] == "rejected"]) == 60


@pytest.mark.django_db(transaction=True)
def test_a_resumed_ingest_reads_on_after_the_line_it_reached(tmp_path, big):
    accounts, exchanges = files(tmp_path)
    ingest_file(accounts)
    report = report_for(Source(exchanges, "exchanges"), lines_done=37)

    ingest_source(Source(exchanges, "exchanges"), report=report, bulk="off")

    assert sorted(stored_exchanges(), key=lambda k: int(k[3:])) == [
        f"ex-{i}" for i in range(37, 60)
    ]
    assert (report.rows_read, report.loaded, report.lines_done) == (23, 23, 60)


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_fails_stops_the_ingest_with_its_traceback(tmp_path, big, monkeypatch):
    accounts, exchanges = files(tmp_path)
    ingest_file(accounts)

    def broken(self, data, skip=0, file_start=False):
        raise ZeroDivisionError("a bug in the parse")

    monkeypatch.setattr(parallel._Worker, "encode", broken)  # the fork inherits it
    report = report_for(Source(exchanges, "exchanges"))
    with pytest.raises(RuntimeError, match="ZeroDivisionError: a bug in the parse"):
        ingest_source(Source(exchanges, "exchanges"), report=report)
    assert Exchange.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_dies_stops_the_ingest(tmp_path, big, monkeypatch):
    accounts, exchanges = files(tmp_path)
    ingest_file(accounts)
    monkeypatch.setattr(parallel._Worker, "encode", lambda *args, **kwargs: os._exit(3))
    report = report_for(Source(exchanges, "exchanges"))
    with pytest.raises(RuntimeError, match="ended without a word"):
        ingest_source(Source(exchanges, "exchanges"), report=report)


@pytest.mark.django_db(transaction=True)
def test_rows_of_unknown_accounts_come_back_for_placeholders(tmp_path, big):
    accounts, _ = files(tmp_path)
    ingest_file(accounts)
    strangers = write_jsonl(
        tmp_path / "exchanges-2.jsonl",
        [exchange_row(100 + i, account=7 + i % 2) for i in range(20)],
    )
    report = ingest_file(strangers)
    assert (report.loaded, report.placeholders) == (20, 2)
    assert set(
        Account.objects.filter(is_placeholder=True).values_list("account_id", flat=True)
    ) == {"acct-7", "acct-8"}
    assert Exchange.objects.filter(account__account_id="acct-7").count() == 10


@pytest.mark.django_db
def test_the_bulk_path_is_not_taken_once_the_locked_table_has_rows(tmp_path):
    accounts, exchanges = files(tmp_path, n=3)
    run_ingest(accounts)
    run_ingest(exchanges)
    loader = CopyLoader()
    with transaction.atomic():
        assert loader.begin_bulk(only_if_empty=True) is False
    assert not loader.bulk
    assert len(table_indexes()) == 4
    loader.close()


@pytest.mark.django_db
def test_bulk_on_needs_the_copy_loader(tmp_path):
    _, exchanges = files(tmp_path, n=3)
    code, _, err = run_ingest(exchanges, "--bulk", "on", "--loader", "portable")
    assert code == 2 and "COPY loader only" in err


@pytest.mark.django_db
def test_exchange_ids_compare_byte_by_byte():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'detection_exchange' AND column_name = 'exchange_id'"
        )
        assert cursor.fetchone() == ("C",)


def _piece(first: int, count: int, **fields) -> Batch:
    body = b"".join(b"row %d;" % n for n in range(first, first + count))
    return Batch(
        payload=parallel._SIGNATURE + body + parallel._TRAILER,
        payload_rows=count,
        rows_read=count + 1,
        rejected=1,
        entries=[{"line": first, "reason": "r"}],
        last_line=first + count,
        newlines=count + 1,
        size=80 * count,
        position=first,
        **fields,
    )


def test_joined_batches_keep_the_file_order_and_every_count():
    joined = parallel.join([_piece(0, 10), _piece(10, 10), _piece(20, 5)])
    assert joined.payload == (
        parallel._SIGNATURE + b"".join(b"row %d;" % n for n in range(25)) + parallel._TRAILER
    )
    assert (joined.payload_rows, joined.rows_read, joined.rejected) == (25, 28, 3)
    assert (joined.newlines, joined.last_line, joined.size, joined.position) == (28, 25, 2000, 20)
    assert [e["line"] for e in joined.entries] == [0, 10, 20]


def test_merged_batches_go_on_in_order_and_the_others_alone(monkeypatch):
    monkeypatch.setattr(parallel, "MERGE_BYTES", 1500)
    stranger = _piece(30, 2, rows=[("ex-x",)], lines=[40])
    error = Batch(error=EOFError("truncated"), last_line=60)
    pieces = [_piece(n, 10) for n in (0, 10, 20)] + [stranger, _piece(40, 10), _piece(50, 10)]

    out = list(parallel.merged(iter([*pieces, error])))

    assert [b.payload_rows for b in out] == [20, 10, 2, 20, 0]  # 1,600 bytes read, then the rest
    assert out[2] is stranger and out[-1] is error
    assert out[0].payload == parallel.join(pieces[:2]).payload


# --- what the review found: process handling, locks, progress, damage -----------------------


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return found


ORPHAN = """
import os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
sys.path.insert(0, os.getcwd())
import django
django.setup()
from pathlib import Path
from detection.ingest import parallel
from detection.ingest.formats import Source
parallel.BLOCK_BYTES = 64 * 1024
batches = parallel.parallel_batches(Source(Path(sys.argv[1]), "exchanges"), 0, 2)
next(batches)
print("started", flush=True)
time.sleep(600)  # killed here, as by the OOM killer or a Celery hard time limit
"""


@pytest.mark.django_db(transaction=True)
def test_workers_end_when_the_ingesting_process_is_killed(tmp_path):
    path = write_jsonl(
        tmp_path / "exchanges.jsonl", [exchange_row(i, prompt="p" * 300) for i in range(12000)]
    )
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN)
    from tests.conftest import ROOT, _test_database_url

    parent = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": _test_database_url()},
        stdout=subprocess.PIPE,
        text=True,
    )
    workers: list[int] = []
    try:
        assert parent.stdout.readline().strip() == "started"
        workers = _children_of(parent.pid)
        assert len(workers) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "the workers outlived the ingest"
            time.sleep(0.05)
    finally:  # whatever happened, nothing this test started outlives it
        for pid in [parent.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait()


@pytest.mark.django_db(transaction=True)
def test_a_sigterm_to_the_process_group_does_not_stop_the_workers(tmp_path, big, monkeypatch):
    """systemd stops a service by signalling its whole process group; Celery then finishes
    the task it has (a warm shutdown), so the ingest's workers must not die of it."""
    accounts, exchanges = files(tmp_path, n=200)
    ingest_file(accounts)
    encode = parallel._Worker.encode

    def slowly(self, *args, **kwargs):  # still at work when the signal comes
        time.sleep(0.05)
        return encode(self, *args, **kwargs)

    monkeypatch.setattr(parallel._Worker, "encode", slowly)
    commit, sent = service._commit, []
    # This process may have children of its own already (a browser from an earlier journey
    # in the same test process): only the ingest's workers are signalled and counted.
    before = set(_children_of(os.getpid()))

    def commit_and_signal(*args):
        commit(*args)
        if not sent:
            sent.extend(pid for pid in _children_of(os.getpid()) if pid not in before)
            for pid in sent:
                os.kill(pid, signal.SIGTERM)

    monkeypatch.setattr(service, "_commit", commit_and_signal)
    report = ingest_file(exchanges)
    assert len(sent) == 2
    assert (report.status, report.loaded) == (IngestReport.Status.DONE, 200)


@pytest.mark.django_db
def test_a_lost_worker_is_retried_by_the_upload_task(monkeypatch):
    from celery.exceptions import Retry

    from detection import tasks

    report = IngestReport.objects.create(path="/nowhere/exchanges.jsonl", kind="exchanges")

    def lost(*, report_id):
        raise parallel.WorkerLost("ingest worker 1 ended without a word (exit code -9)")

    monkeypatch.setattr(tasks, "upload_ingest", lost)
    with pytest.raises((Retry, parallel.WorkerLost)):
        tasks.ingest_file_task(report.pk)
    report.refresh_from_db()
    assert report.status != IngestReport.Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_table_held_by_another_session_sends_the_file_the_usual_way(tmp_path, big, monkeypatch):
    monkeypatch.setattr(loaders, "BULK_LOCK_WAIT", "200ms")
    accounts, exchanges = files(tmp_path)
    ingest_file(accounts)
    with psycopg.connect(**connect_params()) as other:  # a reader inside a long transaction
        other.execute("SELECT count(*) FROM detection_exchange").fetchone()
        report = ingest_file(exchanges)
    assert not report.bulk and (report.loaded, report.rejected) == (60, 0)
    assert len(table_indexes()) == 4


@pytest.mark.django_db(transaction=True)
def test_an_ordinary_ingest_naming_the_same_new_account_waits_for_a_bulk_load(
    tmp_path, monkeypatch
):
    """The ordinary ingest takes the exchanges table's lock before it makes placeholders, as
    the bulk load does, so the two cannot deadlock (each waiting for the other's row or
    lock until PostgreSQL cancels one, the whole backfill perhaps)."""
    ingest_file(write_jsonl(tmp_path / "accounts.jsonl", [account_row(0)]))
    big_file = write_jsonl(
        tmp_path / "exchanges-big.jsonl",
        [exchange_row(i) for i in range(50)] + [exchange_row(1000, account=77)],
    )
    small_file = write_jsonl(tmp_path / "exchanges-small.jsonl", [exchange_row(2000, account=77)])
    locked, go = threading.Event(), threading.Event()
    begin = CopyLoader.begin_bulk

    def begin_then_wait(self, **options):
        done = begin(self, **options)
        locked.set()
        go.wait(30)
        return done

    monkeypatch.setattr(CopyLoader, "begin_bulk", begin_then_wait)
    errors = []

    def run(path, **options):
        try:
            ingest_file(path, workers=1, **options)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    bulk = threading.Thread(target=run, args=(big_file,), kwargs={"bulk": "on"})
    bulk.start()
    assert locked.wait(30)
    other = threading.Thread(target=run, args=(small_file,), kwargs={"bulk": "off"})
    other.start()
    time.sleep(1.5)  # past deadlock_timeout (1 s): a deadlock would be found by now
    go.set()
    bulk.join(60)
    other.join(60)
    assert errors == []
    assert Exchange.objects.count() == 52


@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_still_shows_its_progress(tmp_path, big, monkeypatch):
    monkeypatch.setattr(service, "PROGRESS_EVERY", 0)
    accounts, exchanges = files(tmp_path, n=200)
    ingest_file(accounts)
    seen = []
    commit = service._commit

    def commit_and_look(batch, kind, loader, report, *args):
        commit(batch, kind, loader, report, *args)
        with psycopg.connect(**connect_params()) as other:  # what the admin's page reads
            seen.append(
                other.execute(
                    "SELECT bytes_read, loaded FROM detection_ingestreport WHERE id = %s",
                    [report.pk],
                ).fetchone()
            )

    monkeypatch.setattr(service, "_commit", commit_and_look)
    report = ingest_file(exchanges)
    assert report.bulk and report.loaded == 200
    # bytes read move while the load runs; the counts say what is committed: nothing yet
    assert len(seen) > 2 and all(loaded == 0 for _, loaded in seen)
    assert 0 < seen[1][0] <= seen[-1][0] <= report.size


@pytest.mark.django_db
def test_bulk_on_leaves_the_accounts_file_of_a_folder_alone(tmp_path):
    folder = tmp_path / "drop"
    write_jsonl(folder / "accounts.jsonl", [account_row(0)])
    write_jsonl(folder / "exchanges.jsonl", [exchange_row(i) for i in range(5)])
    code, _, err = run_ingest(folder, "--bulk", "on")
    assert code == 0, err
    assert (Account.objects.count(), Exchange.objects.count()) == (1, 5)


def test_a_corrupt_gzip_yields_every_line_zlib_can_decode(tmp_path):
    rows = b"".join(
        orjson.dumps(exchange_row(n, prompt=f"prompt {n} " * 20)) + b"\n" for n in range(300)
    )
    whole = gzip.compress(rows)
    broken = bytearray(whole)
    broken[len(whole) // 2] ^= 0xFF  # a bad deflate block half-way
    path = tmp_path / "exchanges.jsonl.gz"
    path.write_bytes(bytes(broken))
    decoder, recovered = zlib.decompressobj(zlib.MAX_WBITS | 16), b""
    with pytest.raises(zlib.error):  # what zlib can give, 64 bytes at a time
        for i in range(len(broken)):
            recovered += decoder.decompress(bytes(broken[i : i + 1]), 64)
            while decoder.unconsumed_tail:
                recovered += decoder.decompress(decoder.unconsumed_tail, 64)
    got = b""
    with pytest.raises(DAMAGE), path.open("rb") as raw:
        stream = Gunzip(path, raw)
        while data := stream.read1(1 << 20):
            got += data
    assert recovered.startswith(got) and len(got) >= len(recovered) - 512
    assert got.count(b"\n") > 50  # lines ISA-L alone would have lost
