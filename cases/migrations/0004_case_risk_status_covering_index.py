"""A covering index for a page of the default queue typed by number (docs/benchmarks.md, "Pages").

``?page=1000`` first reads the sort key of the row before the page (``cases/paging.py``):
``SELECT risk_score, id ... WHERE status NOT IN (closed) ORDER BY risk_score DESC, id DESC
OFFSET 49949 LIMIT 1``. With the status in the index that is an index-only scan (about 20 ms
at 100,000 cases) instead of a visit to the table for each of the 50,000 rows before the
page (about 90 ms, or a sort of every open case). ``INCLUDE`` is PostgreSQL's (11+), so the
index is made on PostgreSQL only, like the trigram indexes of 0003, and is not in the
model's ``Meta.indexes`` (Django would warn that other databases cannot make it).
"""

from django.db import migrations

NAME = "case_risk_id_status_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "cases_case" '
        '("risk_score" DESC, "id" DESC) INCLUDE ("status")',
        params=None,
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX IF EXISTS "{NAME}"', params=None)


class Migration(migrations.Migration):
    dependencies = [("cases", "0003_queue_search_indexes")]

    operations = [migrations.RunPython(create_index, drop_index)]
