"""A whole run's decisions on one fixed data set, pinned.

How a run reads and computes its features is tuned for speed (the chunk read, the reach
pass): none of that may move a flag, a score, a signal or a campaign. This test runs the
fixed cohorts below in many small chunks (of accounts, and of exchanges: the split must not
matter) and compares everything the run decided with ``run_pinned.json``, written from the
code before any of those changes.

A change that is meant to move the decisions (a signal, a weight) rewrites the file on
purpose: ``UPDATE_PINNED_RUN=1 pytest tests/detection/test_run_pinned.py`` writes it and
fails, so that the new file is looked at and committed with the change that explains it.
"""

import json
import os
from pathlib import Path

import pytest

from detection import services
from detection.config import DetectionParams, config_new_version, current_config
from detection.models import DetectionRun
from detection.outcome import run_outcome
from tests.detection.cohorts import Cohort

pytestmark = pytest.mark.django_db
PINNED = Path(__file__).with_name("run_pinned.json")


def _cohorts() -> Cohort:
    cohort = Cohort(seed=17).everyone()
    cohort.fleet(n=9, per_account=70, name="fleet2")
    cohort.hydra(n=10, customers=8)
    cohort.harness_users(12)
    cohort.sparse_fleet(n=14, per_account=40)
    cohort.ordinary(30)
    return cohort


def _signals(signals: list[dict]) -> list:
    return [
        [s["name"], round(s["value"], 6), round(s["contribution"], 6), s["reason"]] for s in signals
    ]


def _decisions(run: DetectionRun) -> dict:
    outcome = run_outcome(run)
    accounts = {a: [*v[:5], _signals(v[5])] for a, v in outcome["accounts"].items()}
    campaigns = sorted([c["members"], round(c["risk"], 4)] for c in outcome["campaigns"])
    counts = {k: run.counts[k] for k in ("scored", "flagged", "campaigns", "lone", "exchanges")}
    return {
        "counts": counts,
        "accounts": accounts,
        "campaigns": campaigns,
        "reach": outcome["reach"],
    }


def test_a_run_decides_what_it_decided_before():
    _cohorts().save()
    current_config()
    config_new_version(params=DetectionParams(chunk_size=23), reason="many small chunks")
    run = services.detection_run_execute(run=services.detection_run_create())
    assert run.status == DetectionRun.Status.SUCCEEDED and run.chunks_total > 5
    got = json.loads(json.dumps(_decisions(run)))
    if os.environ.get("UPDATE_PINNED_RUN"):
        PINNED.write_text(json.dumps(got, indent=0, sort_keys=True) + "\n")
        pytest.fail(f"wrote {PINNED.name}: look at the change, commit it, run again without")
    _assert_pinned(got)


def test_chunks_bounded_by_exchanges_split_differently_and_decide_the_same():
    """The same data in chunks closed at 400 exchanges instead of 23 accounts: other chunks,
    none over the bound but an account bigger than it on its own, the pinned decisions."""
    _cohorts().save()
    current_config()
    bound = 400
    config_new_version(
        params=DetectionParams(chunk_size=1000, chunk_exchanges=bound), reason="by exchanges"
    )
    run = services.detection_run_execute(run=services.detection_run_create())
    assert run.status == DetectionRun.Status.SUCCEEDED
    chunks = list(run.chunks.values_list("account_from", "account_to", "exchange_count"))
    assert len(chunks) > 20 and sum(n for *_, n in chunks) == run.counts["exchanges"]
    oversized = [(first, last) for first, last, n in chunks if n > bound]
    assert oversized and all(first == last for first, last in oversized)
    _assert_pinned(json.loads(json.dumps(_decisions(run))))


def _assert_pinned(got: dict) -> None:
    pinned = json.loads(PINNED.read_text())
    assert got["counts"] == pinned["counts"]
    assert got["campaigns"] == pinned["campaigns"]
    assert got["reach"] == pinned["reach"]
    differ = [a for a in pinned["accounts"] if got["accounts"].get(a) != pinned["accounts"][a]]
    assert not differ, (differ[:5], [got["accounts"].get(a) for a in differ[:2]])
    assert set(got["accounts"]) == set(pinned["accounts"])
    # The pin is not vacuous: it holds flagged fleets in campaigns and accounts left alone.
    assert pinned["counts"]["flagged"] > 20 and len(pinned["campaigns"]) >= 2
    assert pinned["counts"]["scored"] > pinned["counts"]["flagged"]
