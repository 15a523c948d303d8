"""``export_flagged``: the public contract's columns, JSON Lines and CSV, inert CSV cells."""

import csv
import io
import json

import pytest
from django.core.management import call_command

from cases.models import Case
from detection.models import Account
from tests.detection.cohorts import Cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged():
    cohort = Cohort(seed=41)
    cohort.fleet(n=6)
    cohort.ordinary(10)
    cohort.save()
    # An attacker picks their own account id.
    Account.objects.filter(account_id="fleet-0000").update(account_id='=HYPERLINK("x")')
    call_command("detect", stdout=io.StringIO())
    return Case.objects.get()


def test_jsonl_has_one_row_per_flagged_account_with_its_case(flagged, tmp_path):
    out = io.StringIO()
    call_command("export_flagged", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 6
    assert set(rows[0]) == {
        "account_id",
        "risk_score",
        "campaign_id",
        "case_id",
        "top_signals",
        "label_outcome",
        "label_reason",
    }
    assert {r["case_id"] for r in rows} == {flagged.pk}
    assert {r["campaign_id"] for r in rows} == {flagged.campaign_id}
    assert rows[0]["risk_score"] >= rows[-1]["risk_score"]
    assert 1 <= len(rows[0]["top_signals"]) <= 3 and rows[0]["top_signals"][0]["reason"]
    assert '=HYPERLINK("x")' in {r["account_id"] for r in rows}  # JSON keeps the raw value


def test_csv_to_a_file_neutralises_formulas(flagged, tmp_path):
    path = tmp_path / "flagged.csv"
    call_command("export_flagged", "--format", "csv", "-o", str(path))
    rows = list(csv.DictReader(path.open(newline="")))
    assert len(rows) == 6
    assert list(rows[0]) == [
        "account_id",
        "risk_score",
        "campaign_id",
        "case_id",
        "top_signals",
        "label_outcome",
        "label_reason",
    ]
    ids = {r["account_id"] for r in rows}
    assert '\'=HYPERLINK("x")' in ids and '=HYPERLINK("x")' not in ids
    assert all(r["case_id"] == str(flagged.pk) for r in rows)
    assert "reasoning_elicitation=" in rows[0]["top_signals"]


def test_nothing_flagged_exports_a_header_only():
    out = io.StringIO()
    call_command("export_flagged", "--format", "csv", stdout=out)
    assert out.getvalue().strip() == (
        "account_id,risk_score,campaign_id,case_id,top_signals,label_outcome,label_reason"
    )


def test_detect_command_prints_a_summary(flagged):
    out = io.StringIO()
    call_command("detect", stdout=out)
    text = out.getvalue()
    assert "flagged:   6 accounts in 1 campaigns" in text
    assert "cases:     0 opened" in text
