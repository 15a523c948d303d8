"""Celery tasks that wire detection into cases (thin adapters over ``dashboard.pipeline``)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from dashboard import pipeline
from detection.models import DetectionRun

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def cases_sync_task(run_id: int) -> dict:
    """Open or update the cases for a succeeded run.

    Enqueued by ``dashboard.receivers`` when a run succeeds, at least once: a redelivery (a
    worker lost mid-sync) or a second enqueue finds the cases it already synced naming this
    run and leaves them alone.
    """
    run = DetectionRun.objects.get(pk=run_id)
    return pipeline.cases_sync(run=run).as_dict()
