"""Django signal receivers (in this project "signal" alone means a detection signal).

Detection announces a succeeded background run through ``detection.hooks.run_succeeded`` and
names no other app; the dashboard, which may import both detection and cases, answers it by
enqueueing the case sync for that run. Connected in ``DashboardConfig.ready``.
"""

from dashboard.tasks import cases_sync_task
from detection.hooks import run_succeeded
from detection.models import DetectionRun


def _cases_sync_enqueue(sender, *, run: DetectionRun, **kwargs) -> None:
    # The hook may come more than once for a run (a redelivered finalise task); the sync is
    # idempotent, so each time simply enqueues it. After commit: the task reads the run.
    cases_sync_task.delay_on_commit(run.pk)


def connect() -> None:
    run_succeeded.connect(
        _cases_sync_enqueue, sender=DetectionRun, dispatch_uid="dashboard.cases_sync_enqueue"
    )
