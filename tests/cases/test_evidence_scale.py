"""A snapshot's cost and size do not grow with the case's traffic: the case's exchanges are
read once and grouped in the database, and what the snapshot fetches and draws is capped."""

from collections import Counter
from datetime import UTC, timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.evidence.figures import build_figures
from cases.evidence.registrations import bucket_starts
from cases.evidence.services import case_accounts_for, window_for
from cases.evidence.telemetry import HEATMAP_MAX_ROWS, TelemetrySource, case_traffic, heatmap
from detection.charts import activity_bands
from detection.models import Account, Exchange
from tests.cases.test_evidence_fixtures import make_campaign
from tests.factories import BASE_TIME, write_reach

pytestmark = pytest.mark.django_db
EXCHANGES = Exchange._meta.db_table


def _clear():
    """Room for another campaign: make_campaign names its accounts the same each time."""
    Exchange.objects.all().delete()
    Account.objects.all().delete()


def _collect(case):
    accounts = case_accounts_for(case)
    window = window_for(case, accounts)
    with CaptureQueriesContext(connection) as queries:
        sections = TelemetrySource().collect(accounts, window)
    return sections, [q["sql"] for q in queries.captured_queries]


def test_a_snapshot_reads_the_cases_exchanges_once_whatever_its_size(
    django_assert_max_num_queries,
):
    small, _, _ = make_campaign(6, days=4, per_day=3)
    # "Outside the case" from the run's reach, as after a run (else each kind scans the window).
    write_reach(small.last_run)
    _, small_sql = _collect(small)
    _clear()
    big, _, _ = make_campaign(12, days=8, per_day=6)  # twice the accounts, 8x the traffic
    write_reach(big.last_run)
    with django_assert_max_num_queries(75):
        sections, big_sql = _collect(big)

    assert sections["traffic"]["totals"]["exchanges"] == 12 * 8 * 6
    # Every grouped figure from one read; the only other read of the case's exchanges is
    # the template samples' (the newest day of each shown template).
    reads = [sql for sql in big_sql if f'"{EXCHANGES}"' in sql or f" {EXCHANGES} " in sql]
    assert len(reads) == 2
    # PostgreSQL groups every kind in the one read; SQLite runs a GROUP BY per kind in it.
    assert any(
        ("GROUPING SETS" if connection.vendor == "postgresql" else "UNION ALL") in sql
        for sql in reads
    )
    assert len(big_sql) == len(small_sql)


def test_sections_count_what_the_case_sent():
    case, accounts, _ = make_campaign(12, days=4, per_day=4)
    sections, _ = _collect(case)
    # The same figures counted in Python from the rows, as the old per-section reads did.
    rows = list(Exchange.objects.filter(account__in=accounts).values("account_id", "ip"))
    users_of_ip = Counter(ip for _, ip in {(r["account_id"], r["ip"]) for r in rows})

    templates = sections["templates"]
    assert templates["exchanges"] == templates["with_prompt"] == len(rows) == 12 * 4 * 4
    # The templated prompt and the coding one each fold (digits) to one text.
    assert templates["distinct_templates"] == 2
    assert [t["accounts"] for t in templates["templates"]] == [12, 12]
    infra = sections["infrastructure"]
    assert infra["distinct"] == {"ips": len(users_of_ip), "asns": 1, "user_agents": 1}
    assert {ip["value"]: ip["accounts"] for ip in infra["ips"]} == dict(users_of_ip)
    assert sum(ip["exchanges"] for ip in infra["ips"]) == len(rows)
    assert next(ip for ip in infra["ips"] if ip["value"] == "203.0.113.1")["outside_accounts"] == 1
    traffic = sections["traffic"]
    assert traffic["per_account"]["median"] == traffic["per_account"]["max"] == 16
    assert len(traffic["per_account"]["top"]) == 12
    assert traffic["totals"]["tool_use"] == 0  # tool use is k == 5, past per_day
    assert traffic["totals"]["active_accounts"] == 12
    assert sum(traffic["output_tokens"]) == len(rows) * 900
    network = sections["network"]
    kinds = Counter(k[0] for k in network["keys"])
    assert kinds == {"ip": len(users_of_ip), "asn": 1, "user_agent": 1, "template": 2,
                     "payment": 1, "org": 1}  # fmt: skip
    # Each account: the addresses it used, one ASN, client, card and organisation, two texts.
    assert len(network["memberships"]) == sum(users_of_ip.values()) + 12 * (1 + 1 + 2 + 1 + 1)


def _points(figure: dict) -> int:
    """Numbers a figure ships: every x, y and z value of every trace."""
    total = 0
    for trace in figure.get("data", []):
        for axis in ("x", "y"):
            total += len(trace.get(axis) or [])
        total += sum(len(row) for row in trace.get("z") or [])
    return total


def test_figures_of_a_case_twice_as_big_are_no_bigger():
    small, _, _ = make_campaign(450, days=2, per_day=2)
    small_figures = build_figures(_collect(small)[0])
    _clear()
    big, _, _ = make_campaign(900, days=2, per_day=2)
    sections, _ = _collect(big)
    big_figures = build_figures(sections)

    assert len(sections["traffic"]["heatmap"]["labels"]) == HEATMAP_MAX_ROWS
    for kind, charts in small_figures.items():
        for name, figure in charts.items():
            small_points = _points(figure)
            big_points = _points(big_figures[kind][name])
            # Registrations spread over twice the minutes add a few hour buckets.
            assert big_points <= small_points * 1.3 + 50, (name, small_points, big_points)


def _full_matrix(case, accounts):
    """The heatmap's matrix as the old code built it: every account's every hour."""
    ca = case_accounts_for(case)
    window = window_for(case, ca)
    start = max(window.start, window.end - timedelta(days=14))
    buckets = bucket_starts(start, window.end, "hour")
    index = {b: i for i, b in enumerate(buckets)}
    row_of = {pk: i for i, pk in enumerate(ca.pks)}
    matrix = np.zeros((len(ca.pks), len(buckets)))
    for account_id, ts in Exchange.objects.filter(account_id__in=ca.pks).values_list(
        "account_id", "ts"
    ):
        hour = ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if hour in index:
            matrix[row_of[account_id], index[hour]] += 1
    return ca, window, buckets, matrix


@pytest.mark.parametrize("n_accounts", [12, HEATMAP_MAX_ROWS + 40])
def test_the_heatmap_summed_in_the_database_is_the_full_matrix_banded(n_accounts):
    case, accounts, _ = make_campaign(n_accounts, days=3, per_day=2)
    # Three shifts, so the order by daily phase has something to sort.
    for i, account in enumerate(accounts):
        Exchange.objects.filter(account=account).update(
            ts=BASE_TIME + timedelta(hours=8 * (i % 3), minutes=i % 50)
        )
        Exchange.objects.create(
            exchange_id=f"late-{i}",
            account=account,
            ts=BASE_TIME + timedelta(days=2, hours=(5 * i) % 24),
            ip="198.51.100.9",
            model="m",
        )
    ca, window, buckets, matrix = _full_matrix(case, accounts)
    expected = activity_bands(
        matrix, ca.account_ids, first_hour=buckets[0].hour, max_rows=HEATMAP_MAX_ROWS
    ).as_dict()

    with case_traffic(ca, window) as agg:
        got = heatmap(ca, window, agg)

    assert got["labels"] == expected["labels"]
    assert got["sizes"] == expected["sizes"]
    assert got["z"] == expected["z"]
    assert got["n_accounts"] == n_accounts
