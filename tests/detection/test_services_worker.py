"""A small detection run end to end on a real Celery worker: fan-out, finalise, the success
hook, cases."""

import time

import pytest

from cases.models import Case
from detection.models import DetectionRun
from detection.services import detection_run_start
from tests.detection.cohorts import Cohort

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, seconds=120.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_detection_run_on_a_real_worker_opens_the_campaign_case(celery_worker_process):
    cohort = Cohort(seed=51)
    cohort.fleet(n=8)
    cohort.ordinary(20)
    cohort.save()
    run = detection_run_start()
    finished = _wait_for(
        lambda: (
            DetectionRun.objects.get(pk=run.pk).status
            in (DetectionRun.Status.SUCCEEDED, DetectionRun.Status.FAILED)
        )
    )
    assert finished, celery_worker_process.log[-3000:]
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.SUCCEEDED, run.error
    assert run.chunks_done == run.chunks_total >= 1
    assert _wait_for(lambda: Case.objects.filter(last_run=run).exists()), celery_worker_process.log[
        -3000:
    ]
    case = Case.objects.get()
    assert case.kind == Case.Kind.CAMPAIGN and case.account_count == 8
