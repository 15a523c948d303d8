import pytest
from django.db import DatabaseError, connection, transaction

from cases import audit
from cases.models import AuditEvent
from cases.models.audit import AppendOnlyError


@pytest.mark.django_db
def test_audit_events_cannot_be_changed_or_deleted_through_the_orm(analyst):
    event = audit.record("case.viewed", actor=analyst, data={"why": "test"})

    event.verb = "something.else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(verb="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).verb == "case.viewed"


@pytest.mark.django_db
def test_the_database_refuses_raw_updates_and_deletes_on_postgresql(analyst):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    event = audit.record("case.viewed", actor=analyst)
    for sql in (
        "UPDATE cases_auditevent SET verb = 'x' WHERE id = %s",
        "DELETE FROM cases_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, verb="case.viewed").exists()


@pytest.mark.django_db
def test_the_admin_offers_no_add_change_or_delete(admin_client_, analyst):
    event = audit.record("case.viewed", actor=analyst)
    assert admin_client_.get(f"/admin/cases/auditevent/{event.pk}/delete/").status_code == 403
    assert admin_client_.get("/admin/cases/auditevent/add/").status_code == 403
    response = admin_client_.post(f"/admin/cases/auditevent/{event.pk}/change/", {"verb": "x"})
    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).verb == "case.viewed"


SQLITE_PROBE = """
import django
django.setup()
from django.core.management import call_command
from django.db import DatabaseError, connection
call_command("migrate", verbosity=0)
with connection.cursor() as cursor:
    cursor.execute("INSERT INTO cases_auditevent (at, verb, target_type, target_id, data) "
                   "VALUES ('2026-01-01', 'case.viewed', '', '', '{}')")
    pk = cursor.lastrowid
    for sql in ("UPDATE cases_auditevent SET verb = 'x' WHERE id = %s",
                "DELETE FROM cases_auditevent WHERE id = %s"):
        try:
            cursor.execute(sql, [pk])
        except DatabaseError as exc:
            print("refused:", exc)
    cursor.execute("SELECT verb FROM cases_auditevent WHERE id = %s", [pk])
    print("kept:", cursor.fetchone()[0])
"""


def test_the_database_refuses_raw_updates_and_deletes_on_sqlite(tmp_path):
    """The embedded default (a SQLite file) has the same protection, through triggers."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_PROBE],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "refused: cases_auditevent is append-only (UPDATE refused)",
        "refused: cases_auditevent is append-only (DELETE refused)",
    ]
    assert lines[2] == "kept: case.viewed"
