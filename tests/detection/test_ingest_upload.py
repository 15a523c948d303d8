"""Staff uploads through the IngestReport admin, and the task that ingests them."""

import io
import threading
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from detection.models import Account, Exchange, IngestReport
from detection.tasks import ingest_file_task
from tests.detection.test_ingest_support import (
    account_row,
    exchange_row,
    read_rejects,
    write_rows,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]


def upload(name: str, path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, path.read_bytes(), content_type="application/octet-stream")


def test_an_upload_is_saved_recorded_and_enqueued_after_commit(
    client, admin_user, tmp_path, data_dir, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    rows = [exchange_row(n, account=3) for n in range(3)] + [exchange_row(9, ip="nope")]
    source = write_rows(tmp_path / "exchanges.jsonl.gz", rows)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("admin:detection_ingestreport_upload"),
            {"file": upload("../../etc/exchanges.jsonl.gz", source), "kind": ""},
        )

    report = IngestReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:detection_ingestreport_change", args=[report.pk])
    assert (report.kind, report.status, report.created_by) == ("exchanges", "queued", admin_user)
    saved = Path(report.path)
    assert saved.parent == data_dir / "uploads"  # the client's "../.." is not a path
    assert saved.read_bytes() == source.read_bytes()
    assert len(callbacks) == 1
    assert not Exchange.objects.exists()  # nothing ingested until the task runs

    ingest_file_task(report.pk)  # what the worker does with the enqueued id

    report.refresh_from_db()
    assert (report.status, report.loaded, report.rejected, report.placeholders) == (
        "done",
        3,
        1,
        1,
    )
    assert Exchange.objects.count() == 3
    assert Account.objects.get().is_placeholder
    page = client.get(reverse("admin:detection_ingestreport_change", args=[report.pk]))
    assert page.status_code == 200
    assert b"Done" in page.content
    rejects = client.get(reverse("admin:detection_ingestreport_rejects", args=[report.pk]))
    assert rejects.status_code == 200
    body = b"".join(rejects.streaming_content)
    assert b"ip: not an IPv4 or IPv6 address" in body


def test_the_kind_can_be_chosen_and_a_second_delivery_does_nothing(client, admin_user, tmp_path):
    client.force_login(admin_user)
    # An accounts CSV whose name says no kind: the form's choice decides.
    source = write_rows(tmp_path / "accounts.csv", [account_row(1)])
    client.post(
        reverse("admin:detection_ingestreport_upload"),
        {"file": upload("export.csv", source), "kind": "accounts"},
    )
    report = IngestReport.objects.get()

    ingest_file_task(report.pk)
    ingest_file_task(report.pk)  # redelivered after it finished

    report.refresh_from_db()
    assert (report.kind, report.status, report.loaded, report.duplicates) == (
        "accounts",
        "done",
        1,
        0,
    )
    assert Account.objects.get().account_id == "acct-1"


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("export.csv", "", "choose the kind"),
        ("exchanges.xlsx", "", "must be .jsonl or .csv"),
    ],
)
def test_an_upload_without_a_usable_kind_or_format_is_refused(
    client, admin_user, tmp_path, name, kind, message
):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:detection_ingestreport_upload"),
        {"file": SimpleUploadedFile(name, b"{}\n"), "kind": kind},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not IngestReport.objects.exists()


def test_the_upload_page_needs_the_add_permission(client, roles, tmp_path):
    from tests.factories import UserFactory

    staff = UserFactory(username="viewer", is_staff=True)
    client.force_login(staff)
    response = client.get(reverse("admin:detection_ingestreport_upload"))
    assert response.status_code == 403
    response = client.post(
        reverse("admin:detection_ingestreport_upload"),
        {"file": SimpleUploadedFile("accounts.jsonl", b"{}\n")},
    )
    assert response.status_code == 403
    assert not IngestReport.objects.exists()


def test_the_changelist_offers_the_upload(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("admin:detection_ingestreport_changelist"))
    assert response.status_code == 200
    assert reverse("admin:detection_ingestreport_upload").encode() in response.content
    form = client.get(reverse("admin:detection_ingestreport_upload"))
    assert form.status_code == 200 and b'enctype="multipart/form-data"' in form.content


def test_a_vanished_upload_fails_with_its_reason(tmp_path):
    report = IngestReport.objects.create(path=str(tmp_path / "gone.jsonl"), kind="accounts")
    ingest_file_task(report.pk)
    report.refresh_from_db()
    assert report.status == "failed"
    assert "gone.jsonl" in report.error


def test_a_redelivered_task_resumes_after_the_last_committed_line(tmp_path):
    path = write_rows(tmp_path / "accounts.jsonl", [account_row(n) for n in range(5)])
    report = IngestReport.objects.create(path=str(path), kind="accounts")
    # A worker died after committing the first three lines.
    for n in range(3):
        Account.objects.create(account_id=f"acct-{n}", created_at="2026-01-01T00:00:00Z")
    IngestReport.objects.filter(pk=report.pk).update(
        status="running", lines_done=3, rows_read=3, loaded=3
    )

    ingest_file_task(report.pk)

    report.refresh_from_db()
    assert (report.status, report.rows_read, report.loaded, report.duplicates) == (
        "done",
        5,
        5,
        0,
    )
    assert Account.objects.count() == 5
    assert report.reject_path == "" or read_rejects(report.reject_path) == []


def test_an_unexpected_error_fails_the_report_without_raising(tmp_path, monkeypatch):
    import detection.tasks

    path = write_rows(tmp_path / "accounts.jsonl", [account_row(1)])
    report = IngestReport.objects.create(path=str(path), kind="accounts")

    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(detection.tasks, "upload_ingest", broken)
    ingest_file_task(report.pk)

    report.refresh_from_db()
    assert (report.status, report.error) == ("failed", "RuntimeError: disk on fire")


@pytest.mark.django_db(transaction=True)
def test_with_no_broker_a_thread_ingests_the_upload_after_the_page_answers(
    client, admin_user, tmp_path, monkeypatch
):
    """The embedded default: no ingest inside the request. The page answers with the report
    queued while the ingest waits (here, for the test's go), then a thread of the web
    process loads the file."""
    from common import tasks
    from dashboard.celery import app
    from detection.ingest import uploads

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    go, threads = threading.Event(), []
    ingest_now = uploads.upload_ingest

    def held_ingest(*, report_id):
        assert go.wait(60), "the page never answered"
        return ingest_now(report_id=report_id)

    monkeypatch.setattr("detection.tasks.upload_ingest", held_ingest)
    run_in_thread = tasks.run_in_thread
    monkeypatch.setattr(tasks, "run_in_thread", lambda *a: threads.append(run_in_thread(*a)))
    client.force_login(admin_user)
    source = write_rows(tmp_path / "accounts.csv.gz", [account_row(n) for n in range(4)])

    response = client.post(
        reverse("admin:detection_ingestreport_upload"),
        {"file": upload("accounts.csv.gz", source)},
        follow=True,
    )

    assert response.status_code == 200
    assert b"ingest queued as report" in response.content
    report = IngestReport.objects.get()
    assert report.status == "queued"
    go.set()
    (thread,) = threads
    thread.join(60)
    report.refresh_from_db()
    assert (report.status, report.loaded) == ("done", 4)
    assert Account.objects.count() == 4


def test_an_upload_over_the_size_limit_is_refused_and_nothing_is_kept(
    client, admin_user, tmp_path, data_dir, settings
):
    settings.UPLOAD_MAX_BYTES = 1000
    client.force_login(admin_user)
    source = tmp_path / "exchanges.jsonl"
    source.write_bytes(b"x" * 5000)

    response = client.post(
        reverse("admin:detection_ingestreport_upload"),
        {"file": upload("exchanges.jsonl", source), "kind": ""},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "larger than the upload limit of 1000\xa0bytes (UPLOAD_MAX_BYTES)" in html
    assert not IngestReport.objects.exists()
    assert not list((data_dir / "uploads").glob("*")) if (data_dir / "uploads").exists() else True
    page = client.get(reverse("admin:detection_ingestreport_upload"))
    assert "At most 1000\xa0bytes." in page.content.decode()


def test_ingest_uploads_takes_up_queued_and_interrupted_uploads(client, admin_user, tmp_path):
    """What a restart of the embedded default leaves: one upload never started, one cut
    short mid-file; the command finishes both, and a second run finds nothing."""
    client.force_login(admin_user)
    for name in ("accounts-a.csv", "accounts-b.csv"):
        rows = [account_row(n) for n in range(3)] if name.endswith("a.csv") else [account_row(9)]
        source = write_rows(tmp_path / name, rows)
        client.post(reverse("admin:detection_ingestreport_upload"), {"file": upload(name, source)})
    first, second = IngestReport.objects.order_by("pk")
    IngestReport.objects.filter(pk=second.pk).update(status="running")
    out = io.StringIO()

    call_command("ingest_uploads", stdout=out)

    assert f"report {first.pk}: done, 3 loaded" in out.getvalue()
    assert f"report {second.pk}: done, 1 loaded" in out.getvalue()
    assert Account.objects.count() == 4
    out = io.StringIO()
    call_command("ingest_uploads", stdout=out)
    assert out.getvalue().strip() == "no upload waiting"


def test_a_delivery_while_another_worker_holds_the_report_does_nothing(tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the worker lock is a PostgreSQL advisory lock")
    import psycopg

    from detection.ingest.uploads import _LOCK_NAMESPACE

    path = write_rows(tmp_path / "accounts.jsonl", [account_row(1)])
    report = IngestReport.objects.create(path=str(path), kind="accounts", status="running")
    db = connection.settings_dict
    other = psycopg.connect(
        dbname=db["NAME"],
        host=db["HOST"] or "localhost",
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, report.pk])
        ingest_file_task(report.pk)  # Redis redelivered it while the first worker runs
        report.refresh_from_db()
        assert (report.status, report.rows_read) == ("running", 0)
        assert not Account.objects.exists()
    finally:
        other.close()  # the first worker's connection goes: its lock with it
    _wait_until_released(connection, report.pk)

    ingest_file_task(report.pk)
    report.refresh_from_db()
    assert (report.status, report.loaded) == ("done", 1)


def _wait_until_released(connection, report_id: int) -> None:
    """The server drops a closed session's locks when its backend notices the close, a moment
    after the client's ``close()`` returns: wait for that (a condition, not a timing)."""
    from detection.ingest.uploads import _LOCK_NAMESPACE

    for _ in range(200):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s AND objid = %s",
                [_LOCK_NAMESPACE, report_id],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the closed session's advisory lock was never released")


@pytest.mark.parametrize(
    "name", ["exchanges-" + "x" * 230 + ".jsonl.gz", "exchanges-" + "é" * 115 + ".jsonl.gz"]
)
def test_a_long_file_name_is_shortened_not_refused_with_an_error(
    client, admin_user, tmp_path, data_dir, name
):
    """A name near the file system's limit would not fit with the upload's prefix, nor its
    reject file's name with the report's: both keep the start and the data suffix."""
    client.force_login(admin_user)
    rows = [exchange_row(1, account=3), exchange_row(2, ip="nope")]
    source = write_rows(tmp_path / "exchanges.jsonl.gz", rows)
    response = client.post(
        reverse("admin:detection_ingestreport_upload"), {"file": upload(name, source), "kind": ""}
    )
    assert response.status_code == 302
    report = IngestReport.objects.get()
    saved = Path(report.path)
    assert saved.name.endswith(".jsonl.gz") and name[:20] in saved.name
    assert len(saved.name.encode()) < 255

    ingest_file_task(report.pk)

    report.refresh_from_db()
    assert (report.status, report.loaded, report.rejected) == ("done", 1, 1)
    assert len(Path(report.reject_path).name.encode()) < 255
    assert "not an IPv4 or IPv6 address" in read_rejects(report.reject_path)[-1]["reason"]
