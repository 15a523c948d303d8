"""Exchanges partitioned by month on PostgreSQL: partitions, ingest keys, retention, pruning.

The migration itself (rows kept, sequence continued, and back) is in
test_partitions_migration.py.
"""

import io
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from detection import partitions, services
from detection.ingest import Source, ingest_source, loaders, parallel, report_for, service
from detection.ingest.loaders import make_loader
from detection.models import Exchange
from detection.partitions import (
    DEFAULT,
    month_partition,
    partition_create,
    partitions_ensure,
    partitions_list,
)
from detection.retention import telemetry_prune
from detection.services import load_exchanges
from detection.tasks import partition_exchanges_task
from tests.detection.test_ingest_loaders import rows_for
from tests.detection.test_ingest_support import exchange_row, write_jsonl
from tests.factories import AccountFactory, ExchangeFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's"),
]

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def where(exchange_id: str) -> list[str]:
    """The partition (or partitions) holding the rows of one exchange id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM detection_exchange WHERE exchange_id = %s "
            "ORDER BY ts",
            [exchange_id],
        )
        return [name for (name,) in cursor.fetchall()]


def exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def test_the_table_is_partitioned_by_month_with_a_default_partition():
    assert partitions.is_partitioned()
    months = partitions_list()
    assert months, "the migration made the months around now"
    for earlier, later in pairwise(months):
        assert earlier.end == later.start  # contiguous
    assert exists(DEFAULT)


def test_rows_land_in_their_month_and_anything_else_in_the_default_partition():
    partition_create(month_partition(NOW))
    account = AccountFactory()
    ExchangeFactory(account=account, exchange_id="now", ts=NOW)
    ExchangeFactory(account=account, exchange_id="far", ts=datetime(2099, 1, 1, tzinfo=UTC))
    ExchangeFactory(account=account, exchange_id="old", ts=datetime(1970, 1, 2, tzinfo=UTC))

    assert where("now") == ["detection_exchange_p2026_12"]
    assert where("far") == [DEFAULT]  # no partition for 2099 is ever made for a timestamp
    assert where("old") == [DEFAULT]


def test_ensure_makes_the_coming_months_once_and_moves_rows_out_of_default(settings):
    settings.TELEMETRY_RETENTION_DAYS = 30
    # A row of a month that has no partition yet: the DEFAULT partition takes it.
    ExchangeFactory(exchange_id="ahead", ts=datetime(2027, 8, 15, tzinfo=UTC))
    assert where("ahead") == [DEFAULT]

    result = partitions_ensure(ahead=9, now=NOW)

    names = {p.name for p in partitions_list()}
    assert {"detection_exchange_p2026_11", "detection_exchange_p2027_09"} <= names
    assert "detection_exchange_p2027_08" in result.created
    assert result.moved == 1
    assert where("ahead") == ["detection_exchange_p2027_08"]
    assert Exchange.objects.filter(exchange_id="ahead").count() == 1  # moved, not copied
    again = partitions_ensure(ahead=9, now=NOW)
    assert again.created == [] and again.moved == 0  # idempotent


def test_a_new_partition_gets_the_tables_indexes():
    partition_create(month_partition(datetime(2031, 5, 1, tzinfo=UTC)))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'detection_exchange_p2031_05'::regclass"
            " AND indisvalid"
        )
        assert cursor.fetchone()[0] == 4  # (id, ts), (exchange_id, ts), (account, ts), BRIN


def test_the_command_reports_and_is_idempotent(settings):
    settings.TELEMETRY_PARTITIONS_AHEAD = 2
    out = io.StringIO()
    call_command("partition_exchanges", "--ahead", "14", stdout=out)
    first = out.getvalue()
    assert "created detection_exchange_p" in first
    out = io.StringIO()
    call_command("partition_exchanges", "--ahead", "14", stdout=out)
    assert out.getvalue().startswith("0 partitions created, 0 rows moved")


def test_the_beat_task_makes_the_setting_s_months(settings):
    settings.TELEMETRY_PARTITIONS_AHEAD = 20
    far = month_partition(partitions.add_months(partitions.month_start(timezone.now()), 20))
    assert not exists(far.name)
    assert far.name in partition_exchanges_task()
    assert exists(far.name)
    assert partition_exchanges_task() == []


# ---------------------------------------------------------------------------- ingest keys


def load(method, rows):
    loader = make_loader(method)
    try:
        with transaction.atomic():
            return loader.load_exchanges(rows)
    finally:
        loader.close()


@pytest.mark.parametrize("method", ["copy", "staging", "portable"])
def test_a_reloaded_row_loads_once(method):
    partition_create(month_partition(datetime(2026, 3, 1, tzinfo=UTC)))
    assert load(method, rows_for(range(6)))[0] == 6
    assert load(method, rows_for(range(6)))[0] == 0  # same ids, same times: duplicates
    assert load(method, rows_for(range(4, 9)))[0] == 3  # an overlapping file adds the rest
    assert Exchange.objects.count() == 9
    assert where("ex-1") == ["detection_exchange_p2026_03"]


@pytest.mark.parametrize("method", ["copy", "staging", "portable"])
def test_a_stored_id_at_another_time_is_a_duplicate(method):
    """The exchange id is unique across the table, as the contract says, though the
    partitioned table's key is (exchange_id, ts) (PostgreSQL has no index across
    partitions): the same id at another time, in another month or the same one, is not
    new data."""
    for month in (3, 4):
        partition_create(month_partition(datetime(2026, month, 1, tzinfo=UTC)))
    first = rows_for([1, 2])
    assert load(method, first)[0] == 2
    later = [
        first[0]._replace(ts=first[0].ts + timedelta(days=40)),  # April
        first[1]._replace(ts=first[1].ts + timedelta(hours=1)),  # March still
        *rows_for([3]),
    ]
    assert load(method, later)[0] == 1
    assert load(method, later)[0] == 0
    assert where("ex-1") == where("ex-2") == where("ex-3") == ["detection_exchange_p2026_03"]
    assert Exchange.objects.get(exchange_id="ex-1").ts == first[0].ts  # the first one kept


def probed(queries) -> set[str]:
    """The tables the ingest's id lookups read, from the statements run."""
    names = set()
    for query in queries:
        if "LATERAL" in query["sql"]:
            names.update(re.findall(r"FROM (detection_exchange\w*) e WHERE", query["sql"]))
    return names


@pytest.mark.parametrize("method", ["copy", "staging", "portable"])
def test_a_batch_probes_only_the_months_that_hold_rows(method):
    """An id can only be stored in a partition that holds rows: the empty months (those made
    ahead, most of them) and an empty DEFAULT partition are not probed, and a month is probed
    from the moment it holds a row, whatever the batch's times."""
    for month in (3, 4):
        partition_create(month_partition(datetime(2026, month, 1, tzinfo=UTC)))
    assert load(method, rows_for([1, 2]))[0] == 2  # March

    later = rows_for([1, 3])
    later[0] = later[0]._replace(ts=later[0].ts + timedelta(days=40))  # ex-1 again, in April
    with CaptureQueriesContext(connection) as queries:
        assert load(method, later)[0] == 1
    assert probed(queries) == {"detection_exchange_p2026_03"}

    far = rows_for([4])[0]._replace(ts=datetime(2099, 1, 1, tzinfo=UTC))
    assert load(method, [far])[0] == 1  # the DEFAULT partition now holds a row
    again = rows_for([4, 5])  # ex-4 at a March time
    with CaptureQueriesContext(connection) as queries:
        assert load(method, again)[0] == 1
    assert probed(queries) == {"detection_exchange_p2026_03", DEFAULT}
    assert where("ex-4") == [DEFAULT]


def test_finding_the_months_with_rows_reads_their_keys_not_their_rows():
    """Whether a month holds rows is read from the first entry of its key: a scan of its
    rows would wade, on every batch, through the dead or emptied pages at the start of the
    month retention trims."""
    partition_create(month_partition(datetime(2026, 3, 1, tzinfo=UTC)))
    load("copy", rows_for(range(3000)))  # enough pages that the planner has a choice
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        assert loaders.probed_tables(cursor) == ["detection_exchange_p2026_03"]
        cursor.execute("EXPLAIN " + queries[-1]["sql"])
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Index Only Scan using detection_exchange_p2026_03_" in plan, plan
    assert "Seq Scan on detection_exchange_p2026_03" not in plan, plan


@pytest.fixture
def workers(monkeypatch, settings, tmp_path):
    """What ingest does to big files, done to small ones: two parse workers, small pieces."""
    settings.DATA_DIR = tmp_path / "data"
    monkeypatch.setattr(parallel, "MIN_FILE_BYTES", 0)
    monkeypatch.setattr(service, "BULK_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 600)  # a few rows a piece
    monkeypatch.setattr(parallel, "MERGE_BYTES", 2000)  # a few pieces a COPY
    settings.INGEST_WORKERS = 2


def ingest_rows(path, rows, **options):
    source = Source(write_jsonl(path, rows), "exchanges")
    return ingest_source(source, report=report_for(source), **options)


def at(n: int, days: int = 0, prompt: str = "") -> dict:
    """Exchange ``ex-n`` in March 2026, or ``days`` later."""
    ts = datetime(2026, 3, 1, 12, n % 60, tzinfo=UTC) + timedelta(days=days)
    return exchange_row(n, ts=ts.isoformat(), prompt=prompt or f"Explain step {n}.")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bulk", ["auto", "on", "off"])
@pytest.mark.parametrize("parse", ["workers", "in-process"])
def test_ids_repeated_at_other_times_are_counted_as_duplicates(tmp_path, workers, bulk, parse):
    """Through the ingest itself, on each of its paths: the bulk load (into the empty table;
    with ``on``, into one with rows too), batch by batch with the indexes kept, COPY data
    from the parse workers (whose joined pieces may repeat an id) and rows parsed
    in-process; a file repeating its own ids, then later files partly and wholly made of
    stored ids."""
    for month in (3, 4):
        partition_create(month_partition(datetime(2026, month, 1, tzinfo=UTC)))
    AccountFactory(account_id="acct-0")
    options = {"bulk": bulk, "workers": 2 if parse == "workers" else 1}
    # ex-0..ex-29, then ex-0..ex-9 again 40 days later (April) and ex-10..ex-14 an hour later.
    rows = [at(n) for n in range(30)]
    rows += [at(n, days=40, prompt="again") for n in range(10)]
    rows += [
        at(n, days=0, prompt="again") | {"ts": f"2026-03-01T13:{n:02d}:00+00:00"}
        for n in range(10, 15)
    ]

    report = ingest_rows(tmp_path / "exchanges.jsonl", rows, **options)

    assert report.bulk == (bulk != "off")
    assert (report.rows_read, report.loaded, report.duplicates) == (45, 30, 15)
    assert Exchange.objects.count() == 30
    assert not Exchange.objects.filter(prompt="again").exists()  # the first of each id kept

    later = [at(n, days=40, prompt="later") for n in range(20, 40)]  # ex-20..29 stored
    report = ingest_rows(tmp_path / "exchanges-later.jsonl", later, **options)
    assert (report.loaded, report.duplicates) == (10, 10)
    again = [at(n, days=35, prompt="again") for n in range(40)]  # every id stored
    report = ingest_rows(tmp_path / "exchanges-again.jsonl", again, **options)
    assert (report.loaded, report.duplicates) == (0, 40)
    assert Exchange.objects.count() == 40
    assert len(set(Exchange.objects.values_list("exchange_id", flat=True))) == 40


@pytest.mark.django_db(transaction=True)
def test_the_bulk_path_keeps_ids_that_only_share_a_hash(tmp_path, workers, monkeypatch):
    """The bulk load looks for repeated ids among those whose 64-bit hash repeats: here
    the hash is made the id's length, so ex-0..ex-9 share one and ex-10..ex-29 another;
    every id stays, and only the later rows of the ids really repeated go."""
    for month in (3, 4):
        partition_create(month_partition(datetime(2026, month, 1, tzinfo=UTC)))
    AccountFactory(account_id="acct-0")
    monkeypatch.setattr(loaders, "_ID_HASH", "length(exchange_id)::bigint")
    rows = [at(n) for n in range(30)]
    rows += [at(3, days=40, prompt="again"), at(15, prompt="again") | {"ts": at(16)["ts"]}]

    report = ingest_rows(tmp_path / "exchanges.jsonl", rows, workers=2)

    assert report.bulk
    assert (report.rows_read, report.loaded, report.duplicates) == (32, 30, 2)
    assert sorted(Exchange.objects.values_list("exchange_id", flat=True)) == sorted(
        f"ex-{n}" for n in range(30)
    )
    assert not Exchange.objects.filter(prompt="again").exists()


@pytest.mark.django_db(transaction=True)
def test_two_ingests_of_overlapping_files_at_once_store_each_id_once(
    tmp_path, monkeypatch, settings
):
    """Each batch looks its ids up and writes them under one advisory lock. Here both
    ingests stop after their lookup until the other has looked up too or waits for the
    lock: without the lock both would find ex-5..ex-9 unstored and store them twice (at two
    times, which the (exchange_id, ts) key lets in)."""
    for month in (3, 4):
        partition_create(month_partition(datetime(2026, month, 1, tzinfo=UTC)))
    AccountFactory(account_id="acct-0")
    settings.DATA_DIR = tmp_path / "data"
    first = [at(n) for n in range(10)]
    second = [at(n, days=40) for n in range(5, 15)]
    monitor = psycopg.connect(**loaders.connect_params(), autocommit=True)
    monitor_lock = threading.Lock()

    def waiting_for_the_lock() -> bool:
        with monitor_lock:
            (waiting,) = monitor.execute(
                # A bigint advisory key shows as its high and low 32 bits.
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = %s "
                "AND l.objid = %s AND d.datname = current_database()",
                [loaders.ID_LOCK >> 32, loaders.ID_LOCK & 0xFFFFFFFF],
            ).fetchone()
        return waiting > 0

    looked_up = []
    lookup = loaders.stored_ids

    def meet(cursor, ids):
        found = lookup(cursor, ids)
        looked_up.append(ids)
        deadline = time.monotonic() + 60
        while len(looked_up) < 2 and not waiting_for_the_lock():
            assert time.monotonic() < deadline, "the other ingest never came"
            time.sleep(0.01)
        return found

    monkeypatch.setattr(loaders, "stored_ids", meet)
    reports: dict = {}

    def run(name, rows):
        try:
            reports[name] = ingest_rows(tmp_path / name, rows, workers=1, bulk="off")
        except BaseException as exc:
            reports[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("exchanges-1.jsonl", first)),
        threading.Thread(target=run, args=("exchanges-2.jsonl", second)),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        monitor.close()

    one, two = reports["exchanges-1.jsonl"], reports["exchanges-2.jsonl"]
    assert not isinstance(one, BaseException), one
    assert not isinstance(two, BaseException), two
    assert len(looked_up) == 2
    assert (one.loaded + two.loaded, one.duplicates + two.duplicates) == (15, 5)
    ids = list(Exchange.objects.values_list("exchange_id", flat=True))
    assert sorted(ids) == sorted(f"ex-{n}" for n in range(15))


def test_the_bulk_path_builds_every_partitions_indexes_again(tmp_path, monkeypatch, settings):
    settings.DATA_DIR = tmp_path / "data"
    monkeypatch.setattr(service, "BULK_MIN_BYTES", 0)
    stamp = timezone.now().replace(microsecond=0)
    rows = [exchange_row(n, ts=(stamp - timedelta(days=n)).isoformat()) for n in range(40)]
    rows.append(exchange_row(3, ts=(stamp - timedelta(days=3)).isoformat()))  # a repeat
    path = write_jsonl(tmp_path / "exchanges.jsonl", rows)

    call_command("ingest", str(path), "--bulk", "on", stdout=io.StringIO())

    assert Exchange.objects.count() == 40
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, count(x.indexrelid) FILTER (WHERE x.indisvalid)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            LEFT JOIN pg_index x ON x.indrelid = c.oid
            WHERE i.inhparent = 'detection_exchange'::regclass GROUP BY 1
            """
        )
        counts = dict(cursor.fetchall())
        cursor.execute(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'detection_exchange'::regclass "
            "AND indisvalid"
        )
        assert cursor.fetchone()[0] == 4
    assert set(counts.values()) == {4}, counts


# ----------------------------------------------------------------------------- retention


def test_retention_drops_whole_months_and_trims_the_one_on_the_cutoff(settings):
    settings.TELEMETRY_RETENTION_DAYS = 180
    for month in (6, 7, 8, 9):
        partition_create(month_partition(datetime(2026, month, 1, tzinfo=UTC)))
    account = AccountFactory()
    ExchangeFactory(account=account, exchange_id="june", ts=datetime(2026, 6, 10, tzinfo=UTC))
    ExchangeFactory(account=account, exchange_id="july", ts=datetime(2026, 7, 20, tzinfo=UTC))
    ExchangeFactory(account=account, exchange_id="aug-old", ts=datetime(2026, 8, 2, tzinfo=UTC))
    ExchangeFactory(account=account, exchange_id="aug-new", ts=datetime(2026, 8, 30, tzinfo=UTC))
    ExchangeFactory(account=account, exchange_id="ancient", ts=datetime(1999, 1, 1, tzinfo=UTC))
    now = datetime(2027, 2, 15, tzinfo=UTC)  # cutoff 2026-08-19: inside August

    result = telemetry_prune(now=now)

    assert result.partitions == 2  # June and July, whole
    assert not exists("detection_exchange_p2026_06")
    assert not exists("detection_exchange_p2026_07")
    assert exists("detection_exchange_p2026_08")  # straddles the cutoff: trimmed row by row
    assert result.deleted == 4  # june, july, aug-old, and the DEFAULT partition's ancient
    assert set(Exchange.objects.values_list("exchange_id", flat=True)) == {"aug-new"}
    assert telemetry_prune(now=now).deleted == 0


def test_a_dry_run_drops_no_partition(settings):
    partition_create(month_partition(datetime(2026, 6, 1, tzinfo=UTC)))
    ExchangeFactory(exchange_id="june", ts=datetime(2026, 6, 10, tzinfo=UTC))
    result = telemetry_prune(older_than_days=30, dry_run=True, now=NOW)
    assert result.deleted == 1 and result.partitions == 0
    assert exists("detection_exchange_p2026_06")


# ------------------------------------------------------------------------------- pruning


def scanned(sql: str, params) -> set[str]:
    """The relations a query's plan reads."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    found: set[str] = set()

    def walk(node):
        if "Relation Name" in node:
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


@pytest.fixture
def months():
    """A year of partitions, a row in each."""
    account = AccountFactory()
    for month in range(1, 13):
        start = datetime(2026, month, 1, tzinfo=UTC)
        partition_create(month_partition(start))
        ExchangeFactory(account=account, exchange_id=f"m{month}", ts=start + timedelta(days=3))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE detection_exchange")
    return account


def test_the_detection_window_reads_only_its_months(months, monkeypatch):
    start, end = datetime(2026, 9, 20, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)
    statements = []
    real_copy = services._copy_exchanges

    def spy(table, where, params):
        statements.append((f"SELECT * FROM {table} {where}", params))  # noqa: S608
        return real_copy(table, where, params)

    monkeypatch.setattr(services, "_copy_exchanges", spy)
    frame = load_exchanges(0, 10**12, start, end)

    assert frame.height == 1  # October's row; September's is before the window
    ((sql, params),) = statements
    assert scanned(sql, params) == {"detection_exchange_p2026_09", "detection_exchange_p2026_10"}


def test_the_exchanges_per_account_that_split_a_run_read_only_its_months(months):
    start, end = datetime(2026, 9, 20, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)
    with CaptureQueriesContext(connection) as queries:
        counts = services.window_exchange_counts(start, end)
    assert counts == {months.pk: 1}  # October's row; September's is before the window
    assert scanned(queries[-1]["sql"], None) == {
        "detection_exchange_p2026_09",
        "detection_exchange_p2026_10",
    }


def test_an_evidence_query_reads_only_its_months(months):
    start, end = datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    query = Exchange.objects.filter(account_id__in=[months.pk], ts__gte=start, ts__lt=end)
    sql, params = query.query.sql_with_params()
    assert scanned(sql, params) == {"detection_exchange_p2026_03"}
    assert list(query.values_list("exchange_id", flat=True)) == []  # m3 is on the 4th: out
    plausible = Exchange.objects.plausible(now=datetime(2026, 2, 10, tzinfo=UTC))
    sql, params = plausible.query.sql_with_params()
    reads = scanned(sql, params)
    assert "detection_exchange_p2026_01" in reads and "detection_exchange_p2026_06" not in reads


def test_the_overviews_estimate_adds_up_the_partitions():
    """Autovacuum analyses partitions, never the partitioned table itself: the overview's
    estimate must come from the partitions, not the parent's last manual ANALYZE."""
    from dashboard.selectors import telemetry_size

    partition_create(month_partition(datetime(2026, 3, 1, tzinfo=UTC)))
    account = AccountFactory()
    for n in range(5):
        ExchangeFactory(account=account, ts=datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=n))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE detection_exchange")  # the parent and every partition: 5
    for n in range(7):
        ExchangeFactory(account=account, ts=datetime(2026, 3, 9, tzinfo=UTC) + timedelta(hours=n))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE detection_exchange_p2026_03")  # what autovacuum would do

    assert telemetry_size().exchanges == 12
