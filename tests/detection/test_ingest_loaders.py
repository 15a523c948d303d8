"""The loaders and the reader thread: each way of writing a batch gives the same database.

``copy`` (direct COPY, falling back to staging on a stored id), ``staging`` (always the TEMP
staging table and ON CONFLICT) and ``portable`` (executemany) run against the same batches
on PostgreSQL; the portable one is also what SQLite uses.
"""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from detection.ingest import Source, ingest_source, report_for
from detection.ingest.loaders import make_loader
from detection.ingest.parse import parse_exchange, prompt_hash, prompt_hashes
from detection.models import Account, Exchange, IngestReport
from detection.text import prompt_fingerprint
from tests.detection.test_ingest_support import exchange_row, write_jsonl

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def rows_for(ids, prompt="same text", account="acct-1"):
    return [
        parse_exchange(
            {
                "exchange_id": f"ex-{n}",
                "account_id": account,
                "ts": (T0 + timedelta(minutes=n)).isoformat(),
                "ip": "2001:db8::7" if n % 2 else "203.0.113.9",
                "model": "atlas-large-2",
                "prompt": f"{prompt} {n}",
                "input_tokens": n,
                "tool_use": bool(n % 2),
            },
            [],
        )
        for n in ids
    ]


def stored():
    return {
        e.exchange_id: (e.account.account_id, e.ts, e.ip, e.prompt, e.prompt_hash, e.tool_use)
        for e in Exchange.objects.select_related("account")
    }


METHODS = ["copy", "staging", "portable"]


@pytest.fixture(params=METHODS)
def method(request, db):
    if request.param != "portable" and connection.vendor != "postgresql":
        pytest.skip("COPY needs PostgreSQL")
    return request.param


def load(method, rows):
    loader = make_loader(method)
    try:
        with transaction.atomic():
            return loader.load_exchanges(rows)
    finally:
        loader.close()


def test_a_batch_loads_and_counts_and_creates_placeholders(method):
    inserted, placeholders = load(method, rows_for(range(5)))

    assert inserted == 5
    assert placeholders == ["acct-1"]
    assert Account.objects.get(account_id="acct-1").is_placeholder
    rows = stored()
    assert rows["ex-1"][2] == "2001:db8::7"
    assert rows["ex-2"][1] == T0 + timedelta(minutes=2)
    assert rows["ex-3"][4] == prompt_fingerprint("same text 3")


def test_a_batch_meeting_stored_ids_loads_only_the_new_rows(method):
    load(method, rows_for([1, 2], prompt="first"))
    before = stored()

    inserted, placeholders = load(method, rows_for([0, 1, 2, 3], prompt="second"))

    assert (inserted, placeholders) == (2, [])
    after = stored()
    assert set(after) == {"ex-0", "ex-1", "ex-2", "ex-3"}
    # The rows that were there first are untouched: a second row is a duplicate, not data.
    assert after["ex-1"] == before["ex-1"]
    assert after["ex-2"][3] == "first 2"
    assert after["ex-3"][3] == "second 3"


def test_every_method_stores_the_same_thing(method):
    load(method, rows_for(range(6)))
    load(method, rows_for(range(3, 9)))
    assert Exchange.objects.count() == 9
    assert sorted(stored()) == sorted(f"ex-{n}" for n in range(9))


def test_a_loader_meeting_stored_ids_looks_them_up_then_goes_back_to_copy(method):
    """One loader over several batches, as in a re-ingest of a file that overlaps stored data."""
    load(method, rows_for(range(10), prompt="first"))
    loader = make_loader(method)
    try:
        counts = []
        for ids in ([8, 9, 10, 11], [0, 1, 2, 3], [4, 5], [12, 13], [14, 1]):
            with transaction.atomic():
                counts.append(loader.load_exchanges(rows_for(ids, prompt="again"))[0])
            if method == "copy":
                # A batch that met stored ids, or found some by lookup, keeps the lookup on;
                # a batch with none stored turns it off again.
                assert loader.overlapping == (ids != [12, 13])
    finally:
        loader.close()

    assert counts == [2, 0, 0, 2, 1]
    after = stored()
    assert len(after) == 15
    assert after["ex-1"][3] == "first 1"
    assert after["ex-14"][3] == "again 14"


def test_an_unknown_method_is_refused(db):
    with pytest.raises(ValueError, match="unknown loader"):
        make_loader("fastest")


@given(st.text())
def test_the_fast_prompt_hash_is_the_shared_fingerprint(text):
    assert prompt_hash(text) == prompt_fingerprint(text)


@given(st.text(alphabet=st.sampled_from("aZ 09\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028é٣")))
def test_the_fast_prompt_hash_agrees_on_white_space_and_digits(text):
    assert prompt_hash(text) == prompt_fingerprint(text)


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from("aZ !0129\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")))
def test_the_fast_prompt_hash_folds_ascii_runs_like_the_shared_fingerprint(text):
    """The ASCII path's byte translation and run halving, on runs of digits and spaces."""
    assert prompt_hash(text) == prompt_fingerprint(text)


RUNS = st.text(alphabet=st.sampled_from("aZ !0129\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"))


@settings(max_examples=500)
@given(st.lists(st.one_of(RUNS, RUNS, st.text()), max_size=12))
def test_a_block_of_prompts_hashes_as_each_prompt_does(texts):
    """The block fold (one numpy pass over the prompts joined by NUL) is the shared
    fingerprint of each prompt: runs and trimming stop at each prompt's edges, and prompts
    with other characters, or a NUL of their own, take the per-prompt path."""
    assert prompt_hashes(texts) == [prompt_fingerprint(text) for text in texts]


def test_a_failing_database_stops_the_reader_thread(tmp_path: Path, db, monkeypatch):
    path = write_jsonl(tmp_path / "exchanges.jsonl", [exchange_row(n) for n in range(50)])
    source = Source(path, "exchanges")
    report = report_for(source)

    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("detection.ingest.service._commit", explode)
    with pytest.raises(RuntimeError, match="went away"):
        ingest_source(source, report=report, batch_rows=5)
    assert not [t for t in threading.enumerate() if t.name == "ingest-reader"]


def test_small_batches_commit_with_their_counts(tmp_path: Path, db):
    rows = [exchange_row(n) for n in range(23)] + [exchange_row(3)]
    path = write_jsonl(tmp_path / "exchanges.jsonl", rows)
    source = Source(path, "exchanges")

    report = ingest_source(source, report=report_for(source), batch_rows=4)

    report.refresh_from_db()
    assert report.status == IngestReport.Status.DONE
    assert (report.rows_read, report.loaded, report.duplicates) == (24, 23, 1)
    assert report.lines_done == 24
    assert Exchange.objects.count() == 23
