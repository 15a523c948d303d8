"""Celery tasks for detection: thin adapters that take ids and call one service each."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from detection import services
from detection.backtest import backtest_execute, shadow_start
from detection.hooks import run_succeeded
from detection.ingest.parallel import WorkerLost
from detection.ingest.uploads import upload_ingest
from detection.models import DetectionRun, IngestReport
from detection.partitions import partitions_ensure
from detection.retention import telemetry_files_prune, telemetry_prune

# Transient database trouble (a restart, a dropped connection) is worth a retry; anything
# else is a bug or bad data, and fails the run with its message instead of looping.
TRANSIENT = (OperationalError, InterfaceError)
logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def detection_scheduled_run_task() -> int | None:
    """Beat's periodic run; None when another run is still in flight."""
    run = services.detection_run_start_scheduled()
    return run.pk if run is not None else None


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def detection_run_task(run_id: int) -> None:
    """Start a run: fix its window, split it into chunks, enqueue one task per chunk."""
    try:
        indexes = services.detection_run_prepare(run_id=run_id)
    except TRANSIENT:
        raise
    except Exception as exc:
        services.detection_run_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        raise
    if not indexes:
        # Nothing to compute (no accounts, or every chunk already done): finish now.
        detection_finalise_task.delay_on_commit(run_id)
        return
    for index in indexes:
        detection_chunk_task.delay_on_commit(run_id, index)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def detection_chunk_task(run_id: int, index: int) -> None:
    """Features of one chunk of accounts; the chunk that completes the set enqueues finalise."""
    try:
        last = services.detection_chunk_compute(run_id=run_id, index=index)
    except TRANSIENT:
        raise
    except Exception as exc:
        services.detection_run_fail(
            run_id=run_id, error=f"chunk {index}: {type(exc).__name__}: {exc}"
        )
        raise
    if last:
        detection_finalise_task.delay_on_commit(run_id)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def detection_finalise_task(run_id: int) -> None:
    """Score, cluster and persist the run; then tell whoever listens that it succeeded."""
    try:
        run = services.detection_run_finalise(run_id=run_id)
    except TRANSIENT:
        raise
    except Exception as exc:
        services.detection_run_fail(run_id=run_id, error=f"finalise: {type(exc).__name__}: {exc}")
        raise
    # Also when this delivery found the run already succeeded: the worker that finalised it
    # may have been lost before it got here, and then this redelivery is the hook's only
    # chance (the hook is at least once; its receivers are idempotent).
    if run.status == DetectionRun.Status.SUCCEEDED:
        shadow_start(run=run)
        run_succeeded.send(sender=DetectionRun, run=run)


@shared_task(
    acks_late=True, autoretry_for=(*TRANSIENT, WorkerLost), max_retries=3, retry_backoff=True
)
def ingest_file_task(report_id: int) -> None:
    """Ingest one staff-uploaded file; a retry resumes after the last committed batch.

    Anything but a transient database error or a lost parse worker (killed, say for memory)
    fails the report with its message (shown in the admin) instead of raising: the staff
    member reads why on the report, whether a worker or (with no broker) a thread of the web
    process ran it.
    """
    try:
        upload_ingest(report_id=report_id)
    except (*TRANSIENT, WorkerLost):
        raise
    except Exception as exc:
        logger.exception("ingest of upload report %s failed", report_id)
        IngestReport.objects.filter(pk=report_id).update(
            status=IngestReport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"
        )


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def prune_telemetry_task(older_than_days: int | None = None) -> int:
    """Delete exchanges, uploads and reject files past the retention period (daily, from the
    beat schedule); returns the number of exchanges deleted."""
    deleted = telemetry_prune(older_than_days=older_than_days).deleted
    telemetry_files_prune(older_than_days=older_than_days)
    return deleted


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def partition_exchanges_task() -> list[str]:
    """Make the coming months' exchange partitions (daily, from the beat schedule; nothing
    on SQLite); returns the names of those it created."""
    return partitions_ensure().created


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=True)
def backtest_task(backtest_id: int) -> str:
    """Run a queued backtest (a redelivered one that is already claimed does nothing)."""
    return backtest_execute(backtest_id=backtest_id).status
