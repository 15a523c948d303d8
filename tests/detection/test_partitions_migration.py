"""Migration 0011: today's table partitioned by month without losing a row, and back.

Run with real ``migrate`` commands on the test database (back to 0010, rows written into the
unpartitioned table, forward again), so it checks exactly what an operator's upgrade does.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from detection.models import Exchange
from detection.partitions import is_partitioned
from tests.factories import AccountFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's"),
]

BEFORE = "0011_ingest_report_progress_at"
AFTER = "0012_exchange_partitioned_by_month"
COLUMNS = "id, exchange_id, account_id, ts, ip, asn, user_agent, model, prompt, prompt_hash, "
COLUMNS += "input_tokens, output_tokens, tool_use, text_flags, text_originals"


def migrate(target: str) -> None:
    call_command("migrate", "detection", target, verbosity=0)


def every_row() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS} FROM detection_exchange ORDER BY id")  # noqa: S608
        return cursor.fetchall()


def where_rows_are() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, count(*) FROM detection_exchange GROUP BY 1"
        )
        return dict(cursor.fetchall())


@pytest.fixture
def unpartitioned():
    """The table as it was before 0011, holding rows over 14 months, the far future and the
    distant past; the latest schema again afterwards, whatever the test did."""
    migrate(BEFORE)
    try:
        assert not is_partitioned()
        account = AccountFactory()
        now = datetime.now(UTC)
        times = [now - timedelta(days=30 * k, hours=k) for k in range(14)]
        times += [datetime(2099, 1, 1, tzinfo=UTC), datetime(1970, 1, 2, tzinfo=UTC)]
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO detection_exchange (exchange_id, account_id, ts, ip, asn, "
                "user_agent, model, prompt, prompt_hash, input_tokens, output_tokens, tool_use) "
                "VALUES (%s, %s, %s, %s, 64500, 'ua', 'atlas-large-2', %s, %s, 10, 20, %s)",
                [
                    (
                        f"ex-{n}-{k}",
                        account.pk,
                        ts + timedelta(minutes=n),
                        "203.0.113.7",
                        f"prompt {n}",
                        n,
                        n % 2 == 0,
                    )
                    for k, ts in enumerate(times)
                    for n in range(25)
                ],
            )
            # The newest row deleted: its id must never be given again.
            cursor.execute(
                "DELETE FROM detection_exchange WHERE id = (SELECT max(id) FROM "
                "detection_exchange) RETURNING id"
            )
            (account.deleted_exchange,) = cursor.fetchone()
        yield account
    finally:
        migrate(AFTER)


def test_the_migration_keeps_every_row_and_partitions_them_by_month(unpartitioned):
    rows = every_row()
    assert len(rows) == 16 * 25 - 1
    migrate(AFTER)

    assert is_partitioned()
    assert every_row() == rows  # every row, every value, the same ids
    places = where_rows_are()
    assert places.pop("detection_exchange_default") >= 50  # 2099, 1970 and past retention
    assert len(places) >= 6  # the months since the retention cut-off, each its partition
    assert all(name.startswith("detection_exchange_p") for name in places)
    # The sequence carries on past the deleted row: no id is given twice.
    new = Exchange.objects.create(
        exchange_id="new", account=unpartitioned, ts=datetime.now(UTC), ip="203.0.113.8"
    )
    assert new.pk > unpartitioned.deleted_exchange


def test_going_back_keeps_every_row_too(unpartitioned):
    migrate(AFTER)
    rows = every_row()

    migrate(BEFORE)

    assert not is_partitioned()
    assert every_row() == rows
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = 'exchange_exchange_id_uniq'"
        )
        assert cursor.fetchone()[0] == "UNIQUE (exchange_id)"


def test_going_back_is_refused_while_an_id_is_stored_with_two_times(unpartitioned):
    migrate(AFTER)
    first = Exchange.objects.get(exchange_id="ex-1-1")
    Exchange.objects.create(
        exchange_id="ex-1-1", account=unpartitioned, ts=first.ts + timedelta(days=1), ip="::1"
    )
    with pytest.raises(RuntimeError, match="1 exchange ids are stored with more than one time"):
        migrate(BEFORE)
    assert is_partitioned()  # nothing changed
    assert Exchange.objects.filter(exchange_id="ex-1-1").count() == 2
