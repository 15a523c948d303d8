"""Staff uploads: a file saved under ``DATA_DIR/uploads``, ingested by a Celery task.

The admin's "Upload telemetry" view calls :func:`upload_create`, which saves the file,
writes a QUEUED :class:`~detection.models.IngestReport` and enqueues
``detection.tasks.ingest_file_task`` by name once the transaction commits; with no broker a
thread of the web process runs it, never the request itself. (The task module imports this
one, so this one does not import it back.) The task calls
:func:`upload_ingest`, which runs exactly the code the ``ingest`` command runs. The report is
claimed with a compare-and-set, so a duplicate delivery of a finished upload does nothing;
a redelivery while the first delivery still runs finds its advisory lock and does nothing;
a redelivery after a crash resumes after the last committed batch (``lines_done``).
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from common.tasks import enqueue_on_commit
from detection.ingest.formats import (
    KINDS,
    Source,
    SourceError,
    data_suffix,
    kind_from_name,
    short_name,
)
from detection.ingest.service import ingest_source
from detection.models import IngestReport


def uploads_dir() -> Path:
    return Path(settings.DATA_DIR) / "uploads"


def upload_kind(name: str, kind: str | None) -> str:
    """The kind for an uploaded file: the one chosen, else from its name; ValueError if none."""
    path = Path(name)
    if not data_suffix(path):
        raise ValueError("the file must be .jsonl or .csv, optionally gzipped (.gz)")
    chosen = kind or kind_from_name(path)
    if chosen not in KINDS:
        raise ValueError(
            "choose the kind (accounts or exchanges): the file name does not start with either"
        )
    return chosen


@transaction.atomic
def upload_create(*, upload: UploadedFile, kind: str | None, user) -> IngestReport:
    """Save the uploaded file, record a queued report and enqueue its ingest after commit."""
    chosen = upload_kind(upload.name, kind)
    directory = uploads_dir()
    directory.mkdir(parents=True, exist_ok=True)
    # Never trust the client's name for a path: keep only its last component, prefixed so
    # two uploads of "exchanges.jsonl.gz" never overwrite each other, and short enough that
    # the prefix and, later, its reject file's name still fit a file name.
    safe_name = short_name(Path(upload.name).name.replace("\x00", ""), 150) or "upload"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = directory / f"{stamp}-{secrets.token_hex(4)}-{safe_name}"
    with target.open("wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    report = IngestReport.objects.create(
        path=str(target), kind=chosen, size=target.stat().st_size, created_by=user
    )
    # Never inside the request: with no broker a thread of the web process ingests it.
    enqueue_on_commit("detection.tasks.ingest_file_task", report.pk, off_request=True)
    return report


def uploads_unfinished() -> list[int]:
    """Uploads queued or interrupted (a worker or web process stopped mid-ingest), oldest
    first: what ``manage.py ingest_uploads`` takes up."""
    unfinished = [IngestReport.Status.QUEUED, IngestReport.Status.RUNNING]
    return list(
        IngestReport.objects.filter(status__in=unfinished, created_by__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# First key of the two-key advisory lock that marks "a worker is ingesting report N".
_LOCK_NAMESPACE = 0x1D6E57  # "ingest"


@contextmanager
def _exclusive(report_id: int):
    """Yield True if this process may work on the report, False if another one already is.

    Redis redelivers a task that runs longer than its visibility timeout while the first
    delivery is still working; a session-level advisory lock (released when the worker's
    connection closes, so a crashed worker never leaves it behind) keeps the second one
    from loading the same file alongside. SQLite has no concurrent workers to guard against.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, report_id])
        (locked,) = cursor.fetchone()
    if not locked:
        yield False
        return
    try:
        yield True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, report_id])


def upload_ingest(*, report_id: int) -> IngestReport | None:
    """Ingest the file of one report; None when it is finished or another worker has it."""
    with _exclusive(report_id) as mine:
        if not mine:
            return None
        return _upload_ingest(report_id)


def _upload_ingest(report_id: int) -> IngestReport | None:
    claimed = IngestReport.objects.filter(
        pk=report_id, status__in=[IngestReport.Status.QUEUED, IngestReport.Status.RUNNING]
    ).update(status=IngestReport.Status.RUNNING)
    if not claimed:
        return None
    report = IngestReport.objects.get(pk=report_id)
    source = Source(Path(report.path), report.kind)
    try:
        source.check()
    except (SourceError, OSError) as exc:
        report.status = IngestReport.Status.FAILED
        report.error = str(exc)
        report.finished_at = timezone.now()
        report.save(update_fields=["status", "error", "finished_at"])
        return report
    return ingest_source(source, report=report)
