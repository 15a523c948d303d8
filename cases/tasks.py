"""Celery tasks of the cases app: thin adapters that take ids and call one service each."""

from celery import shared_task

# --- evidence snapshots (issue 5) ------------------------------------------------------------

EVIDENCE_MAX_RETRIES = 3


@shared_task(bind=True, max_retries=EVIDENCE_MAX_RETRIES, acks_late=True)
def evidence_snapshot_task(self, snapshot_id: int) -> str:
    """Collect one evidence snapshot; retried (boundedly, with backoff) on transient errors.

    Idempotent: the service claims the snapshot with a compare-and-set update, so a second
    delivery of this task, or a second task for the same snapshot, does nothing.
    """
    from cases.services.evidence import TransientEvidenceError, evidence_snapshot_collect

    try:
        return evidence_snapshot_collect(
            snapshot_id, final_attempt=self.request.retries >= self.max_retries
        )
    except TransientEvidenceError as exc:
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc


# --- exports (issue 7) -------------------------------------------------------------------------


@shared_task(acks_late=True)
def export_build_task(export_id: int) -> str:
    """Write a long queue export to its file. Idempotent: the service claims the row with a
    compare-and-set update, so a redelivered task does nothing; a failure marks it failed."""
    from cases.services.exports import export_build

    return export_build(export_id)


@shared_task(acks_late=True, ignore_result=True)
def prune_exports_task(older_than_days: int | None = None) -> int:
    """Daily (celery beat): delete export files past ``EXPORT_RETENTION_DAYS``. Idempotent:
    a file already gone is not counted again."""
    from cases.services.exports import export_files_prune

    return export_files_prune(older_than_days=older_than_days)


# --- enforcement outbox (issue 6) ----------------------------------------------------------------


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox_message_task(message_id: int) -> str:
    """Deliver one outbox message. Idempotent: the service claims the message with a
    compare-and-set update, so a redelivered or duplicate task does nothing; retries are
    scheduled by the service (exponential backoff) and by the sweeper, not by Celery."""
    from cases.services.enforcement import outbox_deliver

    return outbox_deliver(message_id=message_id)


@shared_task(ignore_result=True)
def sweep_outbox_task() -> dict:
    """Every minute (celery beat): recover deliveries whose worker died, enqueue due ones."""
    from cases.services.enforcement import outbox_sweep

    return outbox_sweep()
