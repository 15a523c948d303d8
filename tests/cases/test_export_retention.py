"""Export files expire: the daily prune, its command, and the pages of an expired export."""

import io
import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.http import QueryDict
from django.test import Client
from django.utils import timezone

from cases.models import Export
from cases.services.exports import export_files_prune, export_queue_start
from cases.tasks import prune_exports_task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def exports_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.EXPORT_RETENTION_DAYS = 30
    return settings.DATA_DIR / "exports"


def age(path, days: float) -> None:
    when = (timezone.now() - timedelta(days=days)).timestamp()
    os.utime(path, (when, when), follow_symlinks=False)


def built(
    user, days: float, status=Export.Status.DONE, part: bool = False, query: str = "status=any"
) -> Export:
    """An export whose file (or, while building, its ``.part``) was written ``days`` ago."""
    export = Export.objects.create(
        created_by=user, format="xlsx", query=query, status=status, total=3, rows=3
    )
    path = export.path.with_suffix(".part") if part else export.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK spreadsheet")
    age(path, days)
    return export


@pytest.fixture
def files(manager, exports_dir, tmp_path):
    outside = tmp_path / "elsewhere.xlsx"
    outside.write_bytes(b"not ours")
    age(outside, 400)
    made = {
        "old": built(manager, 31).path,
        "new": built(manager, 29).path,
        "pending": built(manager, 40, Export.Status.PENDING).path,
        "building": built(manager, 40, Export.Status.RUNNING, part=True).path.with_suffix(".part"),
        "failed part": built(manager, 40, Export.Status.FAILED, part=True).path.with_suffix(
            ".part"
        ),
        "not the app's": exports_dir / "notes.txt",
        "link": exports_dir / "0b5e8b8e-1111-4111-8111-111111111111.xlsx",
        "outside": outside,
    }
    made["not the app's"].write_text("keep me")
    age(made["not the app's"], 400)
    made["link"].symlink_to(outside)
    age(made["link"], 400)
    return made


def left(made) -> set[str]:
    return {name for name, path in made.items() if os.path.lexists(path)}


def test_old_export_files_go_and_the_rest_stays(files):
    assert export_files_prune() == 2
    assert left(files) == set(files) - {"old", "failed part"}
    assert files["outside"].read_bytes() == b"not ours"
    assert Export.objects.count() == 5  # the rows (and their audit events) stay
    assert export_files_prune() == 0  # idempotent


def test_a_dry_run_counts_and_deletes_nothing(files):
    assert export_files_prune(older_than_days=10, dry_run=True) == 3
    assert left(files) == set(files)


def test_a_missing_folder_is_fine(exports_dir):
    assert export_files_prune(older_than_days=0) == 0


def test_the_command_and_the_beat_task(files, settings):
    out = io.StringIO()
    call_command("prune_exports", "--older-than-days", "10", "--dry-run", stdout=out)
    assert "dry run: 3 export files would be deleted" in out.getvalue()
    assert left(files) == set(files)
    call_command("prune_exports", stdout=out)
    assert "deleted 2 export files" in out.getvalue()
    settings.EXPORT_RETENTION_DAYS = 10
    assert prune_exports_task() == 1
    assert left(files) == set(files) - {"old", "failed part", "new"}
    assert "cases.tasks.prune_exports_task" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


def test_an_expired_export_says_so_and_can_be_made_again(manager_client, manager, exports_dir):
    export = built(manager, 31)
    fresh = built(manager, 1, query="status=open")
    export_files_prune()

    page = manager_client.get(f"/cases/exports/{export.pk}/").content.decode()
    assert "Expired:" in page and "deleted 30 days after they are made" in page
    assert 'href="/cases/?status=any"' in page and "export-download" not in page
    assert "<td>Expired</td>" in page and "<td>Ready</td>" in page  # the recent list
    fragment = manager_client.get(f"/cases/exports/{export.pk}/", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content and b"Expired:" in fragment.content

    download = manager_client.get(f"/cases/exports/{export.pk}/download/")
    assert download.status_code == 410
    assert b"Expired:" in download.content and b"the queue with these filters" in download.content
    assert manager_client.get(f"/cases/exports/{fresh.pk}/download/").status_code == 200

    # Asking for the same export again builds a new one rather than handing back the expired.
    again = export_queue_start(user=manager, query=QueryDict("status=any"), fmt="xlsx", total=3)
    assert again.pk not in (export.pk, fresh.pk)


def test_an_expired_export_stays_private(analyst_client, manager, roles, exports_dir):
    export = built(manager, 31)
    export_files_prune()
    assert analyst_client.get(f"/cases/exports/{export.pk}/download/").status_code == 403
    other = UserFactory(username="mina", roles=["manager"])
    client = Client()
    client.force_login(other)
    assert client.get(f"/cases/exports/{export.pk}/download/").status_code == 404
    assert client.get(f"/cases/exports/{export.pk}/").status_code == 404
