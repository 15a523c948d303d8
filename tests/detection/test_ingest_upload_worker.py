"""A big upload ingested by a real Celery worker: worker processes and the bulk path there."""

import time

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from detection.ingest import parallel, service
from detection.ingest.uploads import upload_create
from detection.models import Exchange, IngestReport
from tests.detection.test_ingest_support import account_row, exchange_row

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _finished(report: IngestReport, seconds: float = 180.0) -> IngestReport:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.status in (IngestReport.Status.DONE, IngestReport.Status.FAILED):
            return report
        time.sleep(0.5)
    raise AssertionError(f"report {report.pk} still {report.status}")


@pytest.mark.parametrize("celery_worker_process", ["solo", "prefork"], indirect=True)
def test_a_big_upload_is_parsed_by_worker_processes_inside_the_celery_worker(
    celery_worker_process, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's COPY path")
    staff = get_user_model().objects.create_user("staff", is_staff=True)
    accounts = b"".join(orjson.dumps(account_row(n)) + b"\n" for n in range(50))
    accounts_report = upload_create(
        upload=SimpleUploadedFile("accounts.jsonl", accounts), kind=None, user=staff
    )
    assert _finished(accounts_report).status == IngestReport.Status.DONE
    # Big enough (on disk) for both the worker processes and the bulk path.
    lines, size, n = [], 0, 0
    while size < max(parallel.MIN_FILE_BYTES, service.BULK_MIN_BYTES) + 100_000:
        line = orjson.dumps(exchange_row(n, account=n % 50, prompt=f"Tell me {n} " * 20)) + b"\n"
        lines.append(line)
        size += len(line)
        n += 1
    report = upload_create(
        upload=SimpleUploadedFile("exchanges.jsonl", b"".join(lines)), kind=None, user=staff
    )

    report = _finished(report)

    log = celery_worker_process.log
    assert report.status == IngestReport.Status.DONE, (report.error, log[-3000:])
    assert (report.loaded, report.rows_read, report.rejected) == (n, n, 0)
    assert Exchange.objects.count() == n
    assert "parsing in" in log and "worker processes" in log, log[-3000:]
    assert "loading first and building the indexes after" in log, log[-3000:]
