"""The held-out generator writes files the ingest contract accepts, with a label for every
account. Only the file format is checked here: the figures it yields are measured by
bench/heldout/score.py, never asserted."""

import gzip
import json
import re
from io import StringIO

from django.core.management import call_command

from bench.heldout import generate


def _rows(path):
    with gzip.open(path, "rt") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_tiny_data_set_loads_without_rejects_and_truth_covers_every_account(tmp_path, db):
    generate.main(
        [str(tmp_path), "--seed", "3", "--accounts", "150", "--days", "2", "--end", "2026-11-01"]
    )
    signups = _rows(tmp_path / "accounts-1-signups.jsonl.gz")
    changes = _rows(tmp_path / "accounts-2-changes.jsonl.gz")
    exchanges = _rows(tmp_path / "exchanges.jsonl.gz")
    truth = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]

    out = StringIO()
    call_command("ingest", str(tmp_path), stdout=out, stderr=StringIO())
    total = next(line for line in out.getvalue().splitlines() if line.startswith("total:"))
    counts = {
        name: int(n.replace(",", ""))
        for n, name in re.findall(
            r"([\d,]+) (rows read|loaded|duplicates skipped|placeholders created|rejected)", total
        )
    }
    # A later accounts row that changes an account is applied (the old value kept as history).
    assert counts == {
        "rows read": len(signups) + len(changes) + len(exchanges),
        "loaded": len(signups) + len(changes) + len(exchanges),
        "duplicates skipped": 0,
        "placeholders created": 0,
        "rejected": 0,
    }, total

    labelled = {t["account_id"]: t for t in truth}
    assert len(labelled) == len(truth) == len(signups)
    assert set(labelled) == {a["account_id"] for a in signups}
    assert {e["account_id"] for e in exchanges} <= set(labelled)
    assert all(t["malicious"] == (t["campaign"] is not None) for t in truth)
    assert any(t["malicious"] for t in truth) and not all(t["malicious"] for t in truth)
