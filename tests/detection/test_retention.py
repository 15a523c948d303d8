"""Telemetry pruning: the service, the command and the beat task, and the files that go too."""

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from detection.models import Account, Exchange, IngestReport
from detection.retention import telemetry_files_prune, telemetry_prune
from detection.tasks import prune_telemetry_task
from tests.factories import AccountFactory, ExchangeFactory

# Every test gets its own DATA_DIR: the tasks and commands prune files there too.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]


@pytest.fixture
def traffic():
    """Three exchanges an hour apart at each of 8 ages (1 to 400 days), gaps between."""
    now = timezone.now()
    account = AccountFactory()
    ages = [1, 10, 100, 179, 181, 200, 365, 400]
    for age in ages:
        for hour in range(3):
            # Half an hour off the day, so no exchange sits exactly on a cutoff.
            ExchangeFactory(account=account, ts=now - timedelta(days=age, minutes=30 + 60 * hour))
    return now, account


def ages_left(now):
    return sorted({(now - ts).days for ts in Exchange.objects.values_list("ts", flat=True)})


def test_the_default_retention_deletes_only_older_exchanges(settings, traffic):
    now, account = traffic
    settings.TELEMETRY_RETENTION_DAYS = 180

    result = telemetry_prune(now=now)

    assert result.deleted == 12
    assert ages_left(now) == [1, 10, 100, 179]
    assert Account.objects.filter(pk=account.pk).exists()  # accounts are kept


def test_small_batches_walk_through_gaps_and_delete_the_same(traffic):
    now, _ = traffic
    result = telemetry_prune(older_than_days=50, batch_size=1, now=now)
    assert result.deleted == 18
    assert result.batches > 1
    assert ages_left(now) == [1, 10]
    assert telemetry_prune(older_than_days=50, now=now).deleted == 0  # idempotent


def test_a_dry_run_counts_and_deletes_nothing(traffic):
    now, _ = traffic
    result = telemetry_prune(older_than_days=150, dry_run=True, now=now)
    assert (result.deleted, result.dry_run) == (15, True)
    assert Exchange.objects.count() == 24


def test_the_command_reports_what_it_did(traffic):
    out = io.StringIO()
    call_command("prune_telemetry", "--older-than-days", "300", "--dry-run", stdout=out)
    assert "dry run: 6 exchanges older than" in out.getvalue()
    assert Exchange.objects.count() == 24
    call_command("prune_telemetry", "--older-than-days", "300", stdout=out)
    assert "deleted 6 exchanges older than" in out.getvalue()
    assert Exchange.objects.count() == 18


def test_the_command_refuses_a_negative_period(traffic):
    from django.core.management import CommandError

    with pytest.raises(CommandError) as caught:
        call_command("prune_telemetry", "--older-than-days", "-1")
    assert caught.value.returncode == 2
    assert Exchange.objects.count() == 24


def test_the_beat_task_prunes_with_the_setting(settings, traffic):
    settings.TELEMETRY_RETENTION_DAYS = 366
    assert prune_telemetry_task() == 3
    assert Exchange.objects.count() == 21
    assert "detection.tasks.prune_telemetry_task" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


# --- files under DATA_DIR --------------------------------------------------------------------


def aged(path: Path, days: float, text: str = "raw prompt\n") -> Path:
    """A real file whose modification time is ``days`` ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    when = (timezone.now() - timedelta(days=days)).timestamp()
    os.utime(path, (when, when))
    return path


@pytest.fixture
def files(data_dir, settings):
    """Uploads and reject files either side of a 180-day cutoff, and things that must stay."""
    settings.TELEMETRY_RETENTION_DAYS = 180
    uploads, rejects = data_dir / "uploads", data_dir / "rejects"
    outside = aged(data_dir.parent / "elsewhere" / "20240101T000000Z-deadbeef-x.jsonl", 400)
    link = uploads / "20240101T000000Z-cafecafe-link.jsonl"
    made = {
        "old upload": aged(uploads / "20240101T000000Z-0a0b0c0d-exchanges.jsonl.gz", 200),
        "new upload": aged(uploads / "20250101T000000Z-1a1b1c1d-exchanges.jsonl", 10),
        "old rejects": aged(rejects / "20240101T000000Z-7-exchanges.jsonl.rejects.jsonl", 181),
        "new rejects": aged(rejects / "20250101T000000Z-8-exchanges.jsonl.rejects.jsonl", 179),
        "queued upload": aged(uploads / "20240101T000000Z-2a2b2c2d-accounts.csv", 300),
        "running upload": aged(uploads / "20240101T000000Z-3a3b3c3d-exchanges.csv", 300),
        "running rejects": aged(rejects / "20240101T000000Z-9-exchanges.csv.rejects.jsonl", 300),
        "not the app's": aged(uploads / "README.txt", 400),
        "in a subfolder": aged(uploads / "old" / "20240101T000000Z-4a4b4c4d-a.jsonl", 400),
        "at the root": aged(data_dir / "20240101T000000Z-5a5b5c5d-a.jsonl", 400),
        "outside": outside,
        "link": link,
    }
    link.symlink_to(outside)
    os.utime(link, (0, 0), follow_symlinks=False)  # the link itself is old, too
    IngestReport.objects.create(path=str(made["queued upload"]), kind="accounts")
    IngestReport.objects.create(
        path=str(made["running upload"]),
        kind="exchanges",
        status=IngestReport.Status.RUNNING,
        reject_path=str(made["running rejects"]),
    )
    IngestReport.objects.create(  # finished: its files go with the rest
        path=str(made["old upload"]),
        kind="exchanges",
        status=IngestReport.Status.DONE,
        reject_path=str(made["old rejects"]),
    )
    return made


def left(made: dict[str, Path]) -> set[str]:
    return {name for name, path in made.items() if os.path.lexists(path)}


def test_old_uploads_and_reject_files_go_everything_else_stays(files):
    result = telemetry_files_prune()

    assert (result.uploads, result.rejects) == (1, 1)
    assert left(files) == set(files) - {"old upload", "old rejects"}
    assert files["link"].is_symlink() and files["outside"].read_text() == "raw prompt\n"
    assert telemetry_files_prune().uploads == 0  # idempotent


def test_a_finished_ingest_lets_its_upload_go(files):
    IngestReport.objects.filter(status=IngestReport.Status.RUNNING).update(
        status=IngestReport.Status.FAILED
    )
    result = telemetry_files_prune()
    assert (result.uploads, result.rejects) == (2, 2)
    assert "running upload" not in left(files) and "queued upload" in left(files)


def test_a_files_dry_run_counts_and_deletes_nothing(files):
    result = telemetry_files_prune(older_than_days=5, dry_run=True)
    assert (result.uploads, result.rejects, result.dry_run) == (2, 2, True)
    assert left(files) == set(files)


def test_missing_folders_have_nothing_to_prune(data_dir):
    assert not data_dir.exists()
    result = telemetry_files_prune(older_than_days=0)
    assert (result.uploads, result.rejects) == (0, 0)


def test_the_command_reports_the_files_too(files):
    out = io.StringIO()
    call_command("prune_telemetry", "--dry-run", stdout=out)
    assert "dry run: 1 upload files and 1 reject files older than" in out.getvalue()
    assert left(files) == set(files)
    call_command("prune_telemetry", stdout=out)
    assert "deleted 1 upload files and 1 reject files older than" in out.getvalue()
    assert left(files) == set(files) - {"old upload", "old rejects"}


def test_the_beat_task_prunes_the_files_too(files):
    prune_telemetry_task()
    assert left(files) == set(files) - {"old upload", "old rejects"}


def test_the_admin_says_a_reject_file_was_pruned(client, admin_user, files):
    client.force_login(admin_user)
    report = IngestReport.objects.get(status=IngestReport.Status.DONE)
    telemetry_files_prune()

    page = client.get(reverse("admin:detection_ingestreport_change", args=[report.pk]))
    assert b"pruned (" in page.content and b"download</a>" not in page.content

    response = client.get(
        reverse("admin:detection_ingestreport_rejects", args=[report.pk]), follow=True
    )
    assert response.redirect_chain == [
        (reverse("admin:detection_ingestreport_change", args=[report.pk]), 302)
    ]
    assert response.status_code == 200
    text = response.content.decode()
    assert f"The reject file of report {report.pk} was pruned" in text
    assert "deleted 180 days after they were written" in text
