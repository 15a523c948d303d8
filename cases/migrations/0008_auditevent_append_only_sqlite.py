"""On SQLite (the embedded default), refuse UPDATE and DELETE on the audit log in the database
itself, as 0002 does on PostgreSQL: raw SQL and any future code path are caught there too.

SQLite's row triggers also fire for a ``DELETE FROM`` without a WHERE (it has no TRUNCATE),
so ``manage.py flush`` refuses on a database with audit events, as it should.
"""

from django.db import migrations

FORWARD = [
    """
    CREATE TRIGGER IF NOT EXISTS auditevent_append_only_update
    BEFORE UPDATE ON cases_auditevent
    BEGIN
        SELECT RAISE(ABORT, 'cases_auditevent is append-only (UPDATE refused)');
    END;
    """,
    """
    CREATE TRIGGER IF NOT EXISTS auditevent_append_only_delete
    BEFORE DELETE ON cases_auditevent
    BEGIN
        SELECT RAISE(ABORT, 'cases_auditevent is append-only (DELETE refused)');
    END;
    """,
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS auditevent_append_only_update;",
    "DROP TRIGGER IF EXISTS auditevent_append_only_delete;",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in FORWARD:
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in BACKWARD:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("cases", "0007_case_assignee_open_risk_index")]

    operations = [migrations.RunPython(forward, backward)]
