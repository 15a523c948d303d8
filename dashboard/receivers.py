"""Django signal receivers (in this project "signal" alone means a detection signal).

Detection announces a succeeded background run through ``detection.hooks.run_succeeded`` and
names no other app; the dashboard, which may import both detection and cases, answers it by
enqueueing the case sync for that run. Admin pages (of detection, cases and the users) announce
each change through ``common.admin.admin_changed``; the dashboard writes it to cases' audit
log. Connected in ``DashboardConfig.ready``.
"""

from cases import audit
from common.admin import admin_changed
from dashboard.tasks import cases_sync_task
from detection.hooks import run_succeeded
from detection.models import DetectionRun


def _cases_sync_enqueue(sender, *, run: DetectionRun, **kwargs) -> None:
    # The hook may come more than once for a run (a redelivered finalise task); the sync is
    # idempotent, so each time simply enqueues it. After commit: the task reads the run.
    cases_sync_task.delay_on_commit(run.pk)


def _admin_change_audit(sender, *, actor, obj, action: str, changes: dict, **kwargs) -> None:
    # Inside the admin's transaction: the change and its audit event commit together.
    audit.record(
        f"admin.{action}",
        actor=actor,
        target=obj,
        data={"model": obj._meta.label_lower, "object": str(obj)[:200], "changes": changes},
    )


def connect() -> None:
    admin_changed.connect(_admin_change_audit, dispatch_uid="dashboard.admin_change_audit")
    run_succeeded.connect(
        _cases_sync_enqueue, sender=DetectionRun, dispatch_uid="dashboard.cases_sync_enqueue"
    )
