"""Snapshots and their items are frozen once written."""

import pytest

from cases.evidence.models import ImmutableError
from cases.models import Evidence, EvidenceSnapshot
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def test_a_finished_snapshot_cannot_be_saved_again():
    snapshot = EvidenceSnapshot.objects.create(case=CaseFactory(), reason="refresh")
    snapshot.status = EvidenceSnapshot.Status.DONE
    snapshot.save()  # finishing it is allowed (it was running)

    fresh = EvidenceSnapshot.objects.get(pk=snapshot.pk)
    fresh.reason = "tampered"
    with pytest.raises(ImmutableError):
        fresh.save()
    assert EvidenceSnapshot.objects.get(pk=snapshot.pk).reason == "refresh"


def test_a_running_snapshot_can_still_be_saved():
    snapshot = EvidenceSnapshot.objects.create(case=CaseFactory(), reason="refresh")
    fresh = EvidenceSnapshot.objects.get(pk=snapshot.pk)
    fresh.progress = 40
    fresh.save()
    assert EvidenceSnapshot.objects.get(pk=snapshot.pk).progress == 40


def test_evidence_items_are_added_never_changed_or_deleted():
    snapshot = EvidenceSnapshot.objects.create(case=CaseFactory())
    item = Evidence.objects.create(snapshot=snapshot, kind="traffic", source="telemetry", data={})
    item.data = {"forged": True}
    with pytest.raises(ImmutableError):
        item.save()
    with pytest.raises(ImmutableError):
        item.delete()
    assert Evidence.objects.get(pk=item.pk).data == {}


def test_reason_label_reads_known_reasons_and_free_text():
    assert EvidenceSnapshot(reason="refresh").reason_label == "Refreshed by an analyst"
    assert EvidenceSnapshot(reason="nightly_sweep").reason_label == "nightly sweep"
