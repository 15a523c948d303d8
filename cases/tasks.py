"""Celery tasks of the cases app (exports, notification mail): thin adapters over one service.

Enforcement's and evidence's tasks live in their own packages (``cases.enforcement.tasks``,
``cases.evidence.tasks``) under the ``cases.tasks.*`` names they were first registered with.
"""

from celery import shared_task

from cases.services.exports import export_build, export_files_prune
from cases.services.notifications import notification_email_send


@shared_task(acks_late=True)
def export_build_task(export_id: int) -> str:
    """Write a long queue export to its file. Idempotent: the service claims the row with a
    compare-and-set update, so a redelivered task does nothing; a failure marks it failed."""
    return export_build(export_id)


@shared_task(acks_late=True, ignore_result=True)
def prune_exports_task(older_than_days: int | None = None) -> int:
    """Daily (celery beat): delete export files past ``EXPORT_RETENTION_DAYS``. Idempotent:
    a file already gone is not counted again."""
    return export_files_prune(older_than_days=older_than_days)


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=60,
    max_retries=5,
)
def send_notification_email_task(notification_id: int) -> str:
    """Mail one notification. Idempotent: the service claims the row (``emailed_at``) with a
    compare-and-set update; a mail server that is down is retried with backoff."""
    return notification_email_send(notification_id)
