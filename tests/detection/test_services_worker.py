"""A small detection run end to end on a real Celery worker: fan-out, finalise, the success
hook, cases."""

import time

import pytest

from cases.models import Case
from detection.config import DetectionParams, config_new_version, current_config
from detection.models import AccountScore, DetectionRun
from detection.services import detection_run_create, detection_run_execute, detection_run_start
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


def _outcome(run: DetectionRun) -> tuple[set, set]:
    """(flagged accounts, campaigns as sets of their flagged members) of ``run``."""
    flagged = AccountScore.objects.filter(run=run, flagged=True)
    members: dict[int, set[int]] = {}
    for account, campaign in flagged.values_list("account_id", "campaign_id"):
        if campaign is not None:
            members.setdefault(campaign, set()).add(account)
    return set(flagged.values_list("account_id", flat=True)), {
        frozenset(m) for m in members.values()
    }


@pytest.mark.parametrize(
    "celery_worker_process",
    [{"pool": "solo", "concurrency": 1}, {"pool": "prefork", "concurrency": 2}],
    indirect=True,
    ids=["one-process", "two-processes"],
)
def test_one_or_two_worker_processes_flag_the_same_accounts_and_campaigns(
    celery_worker_process,
):
    cohort = Cohort(seed=61)
    cohort.fleet(n=10, name="fleet-a")
    cohort.fleet(n=7, name="fleet-b")
    cohort.campus(25)
    cohort.ordinary(30)
    cohort.save()
    current_config()
    config_new_version(params=DetectionParams(chunk_size=12), reason="many small chunks")
    # The same data in this process, chunk after chunk: what every fan-out must give.
    alone = detection_run_execute(run=detection_run_create())
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
    assert run.chunks_done == run.chunks_total >= 6
    flagged, campaigns = _outcome(run)
    assert (flagged, campaigns) == _outcome(alone)
    assert len(campaigns) == 2 and len(flagged) >= 17
