"""Celery tasks of enforcement: thin adapters over the outbox services.

They keep the names they were registered under before enforcement had a package of its own,
so messages already queued (and the beat schedule) still find them.
"""

from celery import shared_task

from cases.enforcement.services import outbox_deliver, outbox_sweep
from cases.enforcement.services.delivery import DELIVER_TASK


@shared_task(name=DELIVER_TASK, acks_late=True, ignore_result=True)
def deliver_outbox_message_task(message_id: int) -> str:
    """Deliver one outbox message. Idempotent: the service claims the message with a
    compare-and-set update, so a redelivered or duplicate task does nothing; retries are
    scheduled by the service (exponential backoff) and by the sweeper, not by Celery."""
    return outbox_deliver(message_id=message_id)


@shared_task(name="cases.tasks.sweep_outbox_task", ignore_result=True)
def sweep_outbox_task() -> dict:
    """Every minute (celery beat): recover deliveries whose worker died, enqueue due ones."""
    return outbox_sweep()
