"""Celery tasks that wire detection into cases (thin adapters over ``dashboard.pipeline``)."""

from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from dashboard import pipeline
from detection.models import DetectionRun

TRANSIENT = (OperationalError, InterfaceError)
# A run still queued or running after this long is presumed dead (its worker was lost) and
# no longer blocks the schedule.
STALE_AFTER = timedelta(hours=6)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def scheduled_detection_run_task() -> int | None:
    """Beat's periodic run. Skipped while another run is in flight, so runs never pile up."""
    busy = DetectionRun.objects.filter(
        status__in=[DetectionRun.Status.QUEUED, DetectionRun.Status.RUNNING],
        created_at__gte=timezone.now() - STALE_AFTER,
    ).exists()
    if busy:
        return None
    return pipeline.detection_start().pk


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def cases_sync_task(run_id: int) -> dict:
    """Open or update the cases for a finished run (idempotent: safe to run again)."""
    run = DetectionRun.objects.select_related("config").get(pk=run_id)
    return pipeline.cases_sync(run=run).as_dict()
