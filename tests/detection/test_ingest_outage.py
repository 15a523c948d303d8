"""``manage.py ingest`` when PostgreSQL goes away mid-file, as in a restart or a failover.

The fault is made in the database, not in the ingest: the server ends the ingest's
connection (``pg_terminate_backend``) while it writes a batch, and refuses new connections to
the database (``ALLOW_CONNECTIONS false``) until the "restart" is over. The report must end
as failed, with where it stopped and how to finish, when the database is back within
``INGEST_RECONNECT_SECONDS``; and be shown as interrupted once stale when it is not. Either
way a second run loads every row exactly once.
"""

import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from detection.ingest.loaders import connect_params
from detection.models import Exchange, IngestReport
from tests.detection.test_ingest_support import exchange_row, run_ingest, write_rows

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the outage ends the test's own connection
    pytest.mark.usefixtures("data_dir"),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="cuts a PostgreSQL server's connections"
    ),
]
REPORT_UPDATE = f'UPDATE "{IngestReport._meta.db_table}"'


class Outage:
    """The test database down: its connections ended and new ones refused until ``end``."""

    def __init__(self):
        self.database = connection.settings_dict["NAME"]
        self.admin = psycopg.connect(**{**connect_params(), "dbname": "postgres"}, autocommit=True)

    def _allow(self, allowed: bool) -> None:
        self.admin.execute(
            f'ALTER DATABASE "{self.database}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}'
        )

    def begin(self, pid: int) -> None:
        self._allow(False)
        self.admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    def end(self) -> None:
        self._allow(True)


@pytest.fixture
def outage():
    down = Outage()
    try:
        yield down
    finally:
        down.end()
        down.admin.close()


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of two rows, so the file commits in steps (a real file's batches are MBs)."""
    import detection.ingest.service as service

    monkeypatch.setattr(
        service.ingest_source,
        "__kwdefaults__",
        {**service.ingest_source.__kwdefaults__, "batch_rows": 2},
    )


def cut_during_second_batch(outage: Outage, lasting: float | None):
    """An execute wrapper: the database goes down as the second batch is saved (after the
    first committed), for ``lasting`` seconds (None: until the test ends it)."""
    seen = {"updates": 0}

    def wrapper(execute, sql, params, many, context):
        if sql.startswith(REPORT_UPDATE):
            seen["updates"] += 1
            if seen["updates"] == 3:  # the start, the first batch, then the second batch
                outage.begin(context["connection"].connection.info.backend_pid)
                if lasting is not None:
                    threading.Timer(lasting, outage.end).start()
        return execute(sql, params, many, context)

    return wrapper


def test_an_ingest_cut_by_a_restart_records_where_it_stopped_and_a_rerun_loads_the_rest(
    tmp_path, outage, small_batches, settings
):
    settings.INGEST_RECONNECT_SECONDS = 30
    path = write_rows(tmp_path / "exchanges.jsonl", [exchange_row(n) for n in range(5)])
    with connection.execute_wrapper(cut_during_second_batch(outage, lasting=2.0)):
        code, _, err = run_ingest(path, "--workers", "1")

    assert code == 2
    assert "recording it on the report" in err and "after line 2" in err
    report = IngestReport.objects.get()
    assert report.status == "failed"
    assert "stopped by OperationalError" in report.error
    assert "after line 2; the rows before it are loaded" in report.error
    assert "run the same command again" in report.error
    assert (report.loaded, report.lines_done) == (2, 2)
    assert Exchange.objects.count() == 2
    assert not report.is_interrupted(now=timezone.now() + timedelta(days=1))

    code, out, _ = run_ingest(path, "--workers", "1")
    assert code == 0 and "3 loaded, 2 duplicates skipped" in out
    assert sorted(Exchange.objects.values_list("exchange_id", flat=True)) == [
        exchange_row(n)["exchange_id"] for n in range(5)
    ]


def test_an_ingest_whose_database_stays_away_is_shown_interrupted_once_stale(
    tmp_path, outage, small_batches, settings, admin_client
):
    settings.INGEST_RECONNECT_SECONDS = 1
    settings.INGEST_STALE_MINUTES = 15
    path = write_rows(tmp_path / "exchanges.jsonl", [exchange_row(n) for n in range(5)])
    with connection.execute_wrapper(cut_during_second_batch(outage, lasting=None)):
        code, _, err = run_ingest(path, "--workers", "1")
    assert code == 2 and "its report could not be updated" in err
    outage.end()  # the database is back, but the ingest has exited

    report = IngestReport.objects.get()
    assert report.status == "running" and report.lines_done == 2
    assert not report.is_interrupted()  # it made progress a moment ago
    assert report.is_interrupted(now=timezone.now() + timedelta(minutes=16))

    IngestReport.objects.update(progress_at=timezone.now() - timedelta(minutes=16))
    listing = admin_client.get("/admin/detection/ingestreport/").content.decode()
    assert "Interrupted" in listing
    page = admin_client.get(f"/admin/detection/ingestreport/{report.pk}/change/")
    text = page.content.decode()
    assert "Interrupted: no progress since" in text
    assert text.count("<label>Status:</label>") == 1
    assert "rows up to line 2 are loaded; run the same ingest again" in text

    code, out, _ = run_ingest(path, "--workers", "1")
    assert code == 0 and "3 loaded, 2 duplicates skipped" in out
    assert Exchange.objects.count() == 5
