"""Evidence reads "outside the case" counts from the run's stored reach, with the same
figures as scanning the window."""

import pytest

from cases.evidence.services import evidence_snapshot_collect
from cases.models import EvidenceSnapshot
from detection.models import ValueReach
from tests.cases.test_evidence_fixtures import make_campaign
from tests.factories import write_reach

pytestmark = pytest.mark.django_db
OUTSIDE_SECTIONS = ("templates", "traffic", "infrastructure")


def _sections(case) -> dict:
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="test")
    assert evidence_snapshot_collect(snapshot.pk) == EvidenceSnapshot.Status.DONE
    return {i.kind: i.data for i in snapshot.items.all() if i.kind in OUTSIDE_SECTIONS}


def test_stored_reach_gives_the_same_evidence_as_a_scan(django_assert_max_num_queries):
    case, _, _ = make_campaign(6)
    scanned = _sections(case)
    write_reach(case.last_run)
    assert ValueReach.objects.filter(run=case.last_run).exists()
    stored = _sections(case)
    assert stored == scanned
    ips = stored["infrastructure"]["ips"]
    assert any(ip["outside_accounts"] == 1 for ip in ips)  # the outsider's shared address
    models = stored["traffic"]["models"]
    assert all(m["first_seen_anywhere"] for m in models if m["model"] != "model-old")


def test_a_window_other_than_the_runs_scans_instead():
    case, _, _ = make_campaign(4)
    write_reach(case.last_run)
    ValueReach.objects.filter(run=case.last_run).update(accounts=999)  # would show if read
    case.last_run.window_end = case.last_run.window_end.replace(year=2099)
    case.last_run.save()
    infra = _sections(case)["infrastructure"]
    assert all(item["outside_accounts"] < 999 for item in infra["ips"] + infra["asns"])
