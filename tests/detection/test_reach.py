"""The reach of shared values a run stores for evidence: counts, cuts, pruning."""

from collections import defaultdict
from datetime import timedelta

import pytest

from detection import reach
from detection.models import DetectionRun, Exchange, ValueReach
from detection.reach import KEEP_RUNS, VALUE_CHARS, ReachParts, reach_key, value_reach_write
from detection.selectors import value_reach
from tests.factories import (
    BASE_TIME,
    AccountFactory,
    DetectionRunFactory,
    ExchangeFactory,
    write_reach,
)

pytestmark = pytest.mark.django_db

LONG_UA = "ünïcødé-client/" + "é" * 3000  # far past the btree row limit in bytes


def _run(days=5):
    return DetectionRunFactory(window_start=BASE_TIME, window_end=BASE_TIME + timedelta(days=days))


def _traffic():
    a, b, c = AccountFactory(), AccountFactory(), AccountFactory()
    rows = [
        (a, "2001:db8::1", 64500, LONG_UA, 11, "m-old", 0),
        (b, "2001:db8::1", 64500, LONG_UA, 11, "m-old", 1),
        (c, "2001:db8::1", 64501, "curl/8", 11, "m-new", 30),
        (a, "198.51.100.7", None, "", 12, "m-new", 50),
        (a, "198.51.100.7", None, "", None, "m-new", 51),
        # Outside the window: counted nowhere.
        (b, "198.51.100.7", 64500, "curl/8", 12, "m-new", 60 * 24 * 9),
    ]
    for account, ip, asn, ua, h, model, minutes in rows:
        ExchangeFactory(
            account=account,
            ip=ip,
            asn=asn,
            user_agent=ua,
            prompt_hash=h,
            model=model,
            ts=BASE_TIME + timedelta(minutes=minutes),
        )
    return a, b, c


@pytest.mark.parametrize("chunks", [1, 3])
def test_reach_counts_accounts_per_shared_value_in_the_window(chunks, monkeypatch):
    """Each chunk counts its own accounts (a run's chunks hold disjoint accounts), and the
    partial counts are added up in parts of the values: the same whatever the split."""
    _traffic()
    run = _run()
    if chunks > 1:
        monkeypatch.setattr(reach, "REACH_PART_ROWS", 2)
    assert write_reach(run, chunks=chunks)["rows"] == ValueReach.objects.filter(run=run).count()
    got = {(r.kind, r.value): r.accounts for r in ValueReach.objects.filter(run=run)}
    expected: dict[tuple[str, str], set[int]] = defaultdict(set)
    window = Exchange.objects.filter(ts__gte=run.window_start, ts__lt=run.window_end)
    for e in window:
        for kind, value in (("ip", e.ip), ("asn", e.asn), ("user_agent", e.user_agent),
                            ("template", e.prompt_hash), ("model", e.model)):  # fmt: skip
            if value not in (None, ""):
                expected[(kind, reach_key(value))].add(e.account_id)
    # Every value two accounts share, each model whatever its accounts; nothing else.
    assert got == {k: len(v) for k, v in expected.items() if len(v) >= 2 or k[0] == "model"}
    assert got[("ip", "2001:db8::1")] == 3 and got[("template", "11")] == 3
    assert got[("user_agent", LONG_UA[:VALUE_CHARS])] == 2
    assert ("ip", "198.51.100.7") not in got  # one account in the window
    models = {r.value: r.first_ts for r in ValueReach.objects.filter(run=run, kind="model")}
    assert models == {"m-old": BASE_TIME, "m-new": BASE_TIME + timedelta(minutes=30)}


def test_lookup_answers_only_for_the_runs_own_window():
    _traffic()
    run = _run()
    write_reach(run)
    window = (run.window_start, run.window_end)
    assert value_reach(run.pk, window, "user_agent", [LONG_UA, "curl/8"]) == {
        LONG_UA[:VALUE_CHARS]: (2, None)
    }
    other = (run.window_start, run.window_end + timedelta(days=1))
    assert value_reach(run.pk, other, "ip", ["2001:db8::1"]) is None
    assert value_reach(None, window, "ip", ["2001:db8::1"]) is None


def test_a_second_write_replaces_and_old_runs_are_pruned():
    _traffic()
    runs = [_run() for _ in range(KEEP_RUNS + 1)]
    for run in runs:
        write_reach(run)
    write_reach(runs[-1])
    kept = set(ValueReach.objects.values_list("run_id", flat=True))
    assert kept == {r.pk for r in runs[-KEEP_RUNS:]}
    assert ValueReach.objects.filter(run=runs[-1], kind="ip").count() == 1
    window = (runs[0].window_start, runs[0].window_end)
    assert value_reach(runs[0].pk, window, "ip", ["2001:db8::1"]) is None


def test_an_empty_window_writes_nothing():
    run = DetectionRunFactory(window_start=None, window_end=None)
    assert write_reach(run)["rows"] == 0


def test_a_run_with_a_chunk_stored_without_its_reach_stores_none(tmp_path):
    """A chunk computed by a worker from before reach was counted in the chunks: the run's
    reach would miss its accounts, so none is stored and evidence scans the window."""
    _traffic()
    run = _run()
    parts = ReachParts(tmp_path, rows=10)
    parts.add(None)
    assert value_reach_write(run, parts)["rows"] == 0
    assert value_reach(run.pk, (run.window_start, run.window_end), "ip", ["2001:db8::1"]) is None


@pytest.mark.django_db(transaction=True)
def test_a_detection_run_stores_the_reach_its_chunks_counted():
    """The whole run, on the run's own chunks: the stored reach is what the window holds."""
    from detection.services import detection_run_create, detection_run_execute

    _traffic()
    run = detection_run_execute(run=detection_run_create())
    assert run.status == DetectionRun.Status.SUCCEEDED
    stored = {(r.kind, r.value): r.accounts for r in ValueReach.objects.filter(run=run)}
    assert stored[("ip", "2001:db8::1")] == 3 and stored[("template", "11")] == 3
    assert {v for k, v in stored if k == "model"} == {"m-old", "m-new"}
