"""Celery tasks of evidence: a thin adapter over ``cases.evidence.services``.

The task keeps the name it was registered under before evidence had a package of its own, so
messages already queued under that name still find it.
"""

from celery import shared_task

from cases.evidence.services import (
    COLLECT_TASK,
    TransientEvidenceError,
    evidence_snapshot_collect,
)

EVIDENCE_MAX_RETRIES = 3


@shared_task(name=COLLECT_TASK, bind=True, max_retries=EVIDENCE_MAX_RETRIES, acks_late=True)
def evidence_snapshot_task(self, snapshot_id: int) -> str:
    """Collect one evidence snapshot; retried (boundedly, with backoff) on transient errors.

    Idempotent: the service claims the snapshot with a compare-and-set update, so a second
    delivery of this task, or a second task for the same snapshot, does nothing.
    """
    try:
        return evidence_snapshot_collect(
            snapshot_id, final_attempt=self.request.retries >= self.max_retries
        )
    except TransientEvidenceError as exc:
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc
