"""Indexes for the queue at scale (docs/benchmarks.md, "Pages").

- ``case_assignee_risk_idx``: "my open cases" and any assignee filter, walked in the queue's
  default order instead of walking every case by risk and skipping other people's.
- The sortable columns that had no index (title, priority), and the opened and due dates
  with the id added, as the queue sorts them: a sort or a page cursor starts an index scan
  instead of sorting every open case.
- On PostgreSQL only, trigram indexes for the queue's text search, which matches titles and
  note text anywhere in the string (``icontains``). Django writes ``icontains`` as
  ``UPPER(col) LIKE UPPER(%s)`` on PostgreSQL, so the indexes are on ``UPPER(col)``. They
  need the ``pg_trgm`` extension (trusted since PostgreSQL 13: the database owner may
  create it). Other databases get no index and the same results, more slowly. Migrating
  back drops the indexes but leaves the extension, which something else may use.
"""

from django.conf import settings
from django.db import migrations, models

# (index, table, column)
TRIGRAM_INDEXES = [
    ("case_title_trgm_idx", "cases_case", "title"),
    ("note_body_trgm_idx", "cases_note", "body"),
]


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for name, table, column in TRIGRAM_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin (UPPER("{column}") gin_trgm_ops)',
            params=None,
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in TRIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"', params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0002_auditevent_append_only"),
        ("detection", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="case",
            name="case_opened_idx",
        ),
        migrations.RemoveIndex(
            model_name="case",
            name="case_due_idx",
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(fields=["-opened_at", "-id"], name="case_opened_id_idx"),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(fields=["due_at", "id"], name="case_due_id_idx"),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(fields=["priority", "id"], name="case_priority_id_idx"),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(fields=["title", "id"], name="case_title_id_idx"),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                fields=["assignee", "-risk_score", "-id"], name="case_assignee_risk_idx"
            ),
        ),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
    ]
