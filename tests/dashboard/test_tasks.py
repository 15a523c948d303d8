"""The wiring from a succeeded background run to its cases: the hook, the receiver, the task."""

import io

import pytest
from django.contrib import admin
from django.core.management import call_command

from cases.models import Case
from dashboard import tasks
from detection import services
from detection.admin import DetectionRunAdmin
from detection.config import DetectionParams, config_new_version, current_config
from detection.models import DetectionRun
from detection.tasks import detection_finalise_task
from tests.detection.cohorts import Cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet():
    cohort = Cohort(seed=21)
    cohort.fleet(n=6)
    cohort.ordinary(10)
    cohort.save()
    return cohort


@pytest.fixture
def syncs(monkeypatch):
    """The case syncs the receiver enqueues, by run id, instead of sending them to a broker."""
    calls = []
    monkeypatch.setattr(tasks.cases_sync_task, "delay_on_commit", calls.append)
    return calls


def _finalised_on_a_worker() -> DetectionRun:
    """A run taken through the worker's steps up to, not including, the finalise task."""
    run = services.detection_run_create()
    for index in services.detection_run_prepare(run_id=run.pk):
        services.detection_chunk_compute(run_id=run.pk, index=index)
    return run


def test_a_background_run_opens_its_cases_through_the_success_hook(
    fleet, monkeypatch, django_capture_on_commit_callbacks
):
    """With no broker every task runs in-process: start, chunks, finalise, hook, case sync."""
    from dashboard.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.detection_run_start()
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.SUCCEEDED
    case = Case.objects.get()
    assert case.last_run == run and case.account_count == 6


def test_the_finalise_task_enqueues_the_sync_again_when_redelivered(fleet, syncs):
    run = _finalised_on_a_worker()
    detection_finalise_task(run.pk)
    assert syncs == [run.pk]
    # A worker lost after finalising but before the hook: the redelivery sends it again.
    detection_finalise_task(run.pk)
    assert syncs == [run.pk, run.pk]
    assert tasks.cases_sync_task(run.pk)["opened"] == 1
    assert tasks.cases_sync_task(run.pk) == {
        "opened": 0,
        "updated": 0,
        "reopened": 0,
        "unchanged": 1,
    }
    assert Case.objects.count() == 1


def test_a_redelivered_chunk_of_a_complete_set_asks_for_the_finalise_step_again(fleet):
    """The worker that stored the last chunk may be lost before it enqueued finalise: the
    chunk's redelivery finds it stored and, the set being complete, asks again."""
    current_config()
    config_new_version(params=DetectionParams(chunk_size=4), reason="several chunks")
    run = services.detection_run_create()
    indexes = list(services.detection_run_prepare(run_id=run.pk))
    assert len(indexes) >= 2
    assert services.detection_chunk_compute(run_id=run.pk, index=indexes[0]) is False
    # Stored, but the set is not complete yet: a redelivery asks for nothing.
    assert services.detection_chunk_compute(run_id=run.pk, index=indexes[0]) is False
    results = [services.detection_chunk_compute(run_id=run.pk, index=i) for i in indexes[1:]]
    assert results[-1] is True and not any(results[:-1])
    assert services.detection_chunk_compute(run_id=run.pk, index=indexes[-1]) is True
    assert services.detection_chunk_compute(run_id=run.pk, index=indexes[0]) is True
    detection_finalise_task(run.pk)
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.SUCCEEDED
    # Once the run is finished, a late redelivery asks for nothing.
    assert services.detection_chunk_compute(run_id=run.pk, index=indexes[-1]) is False


def test_a_run_that_did_not_succeed_enqueues_no_sync(syncs):
    run = services.detection_run_create()
    services.detection_run_fail(run_id=run.pk, error="chunk 0: ValueError: bad frame")
    detection_finalise_task(run.pk)
    assert syncs == []
    assert tasks.cases_sync_task(run.pk)["opened"] == 0
    assert not Case.objects.exists()


def test_detect_command_syncs_in_process_without_the_hook(fleet, syncs):
    out = io.StringIO()
    call_command("detect", stdout=out)
    assert "cases:     1 opened, 0 updated, 0 reopened, 0 unchanged" in out.getvalue()
    assert syncs == []  # nothing left for a worker: the command did the cases itself
    call_command("detect", stdout=(again := io.StringIO()))
    assert "cases:     0 opened, 0 updated, 0 reopened, 1 unchanged" in again.getvalue()
    assert Case.objects.count() == 1


def test_detection_admin_is_detections_own():
    # Nothing re-registers the run admin to bolt cases on: the hook does that job.
    assert type(admin.site.get_model_admin(DetectionRun)) is DetectionRunAdmin
