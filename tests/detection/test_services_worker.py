"""A small detection run end to end on a real Celery worker: fan-out, finalise, the success
hook, cases; and a worker killed mid-run (SIGKILL), after which the run still completes with
the results of an uninterrupted one."""

import signal
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
        time.sleep(0.1)
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


def _results(run: DetectionRun) -> tuple[dict, set]:
    """What a run concluded: each account's score and flag, and who is in a campaign with
    whom (campaign ids may differ between runs; their members may not)."""
    scores = AccountScore.objects.filter(run=run).select_related("account")
    per_account = {s.account.account_id: (round(s.risk_score, 9), s.flagged) for s in scores}
    members: dict[int, set[str]] = {}
    for score in scores:
        if score.campaign_id is not None:
            members.setdefault(score.campaign_id, set()).add(score.account.account_id)
    return per_account, {frozenset(m) for m in members.values()}


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
    assert _results(run) == _results(alone)
    scores, campaigns = _results(run)
    assert len(campaigns) == 2 and sum(flagged for _, flagged in scores.values()) >= 17


@pytest.fixture
def quick_redelivery(monkeypatch):
    """The worker the test starts gives a lost task back to the queue after 5 s instead of
    an hour (CELERY_VISIBILITY_TIMEOUT), looking for one every second rather than every 100
    (CELERY_UNACKED_RESTORE_SECONDS): what a killed worker's task waits for in Redis."""
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "5")
    monkeypatch.setenv("CELERY_UNACKED_RESTORE_SECONDS", "1")


def test_a_worker_killed_mid_run_leaves_a_run_that_completes_with_the_same_results(
    quick_redelivery, celery_worker_process
):
    cohort = Cohort(seed=52)
    cohort.fleet(n=8)
    cohort.ordinary(20)
    cohort.save()
    current_config()
    config_new_version(params=DetectionParams(chunk_size=1), reason="one account a chunk")
    run = detection_run_start()
    assert _wait_for(lambda: DetectionRun.objects.get(pk=run.pk).chunks_done >= 2, 60)

    celery_worker_process.stop(signal.SIGKILL)
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.RUNNING
    assert run.chunks_done < run.chunks_total  # killed mid-run, not after it

    celery_worker_process.start()
    assert _wait_for(
        lambda: DetectionRun.objects.get(pk=run.pk).status != DetectionRun.Status.RUNNING, 120
    ), celery_worker_process.log[-3000:]
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.SUCCEEDED, run.error
    assert run.chunks_done == run.chunks_total

    again = detection_run_execute(run=detection_run_create())  # uninterrupted, in this process
    assert _results(run) == _results(again)
    flagged = {a for a, (_, f) in _results(run)[0].items() if f}
    assert len(flagged) >= 8
