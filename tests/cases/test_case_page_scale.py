"""The case page and every section it loads cost the same whatever the case's size: the same
queries, the same rows fetched and about the same bytes sent for a case 2x and 10x the
accounts (and traffic) of another. What grows with the case is counted in the database or
capped, and a capped list or chart says so; sizes here are past every cap (the caps are
lowered so the cases stay small)."""

from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import connection
from django.db.models.sql import compiler
from django.test.utils import CaptureQueriesContext

from cases.evidence import figures, telemetry
from cases.evidence.services import evidence_snapshot_collect
from cases.intel import selectors as intel
from cases.models import EvidenceSnapshot
from detection.indicators.services import external_flag_record, indicators_import
from detection.models import Account, Exchange
from tests.cases.test_evidence_fixtures import make_campaign

pytestmark = pytest.mark.django_db

SECTIONS = [
    "",
    "summary/",
    "why/",
    "accounts/",
    "accounts/?removed=1",
    "evidence/",
    "evidence/charts/",
    "watch-list/",
    "enforcement/",
    "notes/",
    "timeline/",
]
# Past the accounts table's page (25): the smallest case fills a page.
BASE = 30


@contextmanager
def fetched():
    """How many rows the ORM's queries fetched, and how many characters their values hold
    (``fetchone`` reads aside: aggregates and counts, one row each, so bounded by the query
    count)."""
    counted = {"rows": 0, "chars": 0}
    real = compiler.cursor_iter

    def counting(*args, **kwargs):
        for rows in real(*args, **kwargs):
            counted["rows"] += len(rows)
            counted["chars"] += sum(len(str(value)) for row in rows for value in row)
            yield rows

    with mock.patch.object(compiler, "cursor_iter", counting):
        yield counted


def _case(n: int):
    """A campaign case of ``n`` accounts with a finished snapshot, every account on a
    partner's list and flagged by another system."""
    Exchange.objects.all().delete()
    Account.objects.all().delete()
    case, accounts, _ = make_campaign(n, days=2, per_day=2)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == EvidenceSnapshot.Status.DONE
    indicators_import(
        data=b"indicator_type,indicator_value\npayment_fingerprint,card-abc\n", file_name="p.csv"
    )
    for account in accounts:
        external_flag_record(source="billing", reason="chargeback", account_id=account.account_id)
    return case


def _measure(client, case) -> dict[str, tuple[int, int, int, int]]:
    """Per section: queries, rows fetched, characters fetched, bytes sent (after one request
    to warm up)."""
    measured = {}
    for suffix in SECTIONS:
        url = f"/cases/{case.pk}/{suffix}"
        headers = {"HX-Request": "true"} if suffix else {}
        assert client.get(url, headers=headers).status_code == 200
        with CaptureQueriesContext(connection) as queries, fetched() as read:
            response = client.get(url, headers=headers)
        assert response.status_code == 200
        measured[suffix] = (
            len(queries.captured_queries),
            read["rows"],
            read["chars"],
            len(response.content),
        )
    return measured


@pytest.fixture
def low_caps(monkeypatch):
    """The caps a case of thousands of accounts meets, lowered to meet them here."""
    monkeypatch.setattr(figures, "NETWORK_ACCOUNTS_DRAWN", 20)
    monkeypatch.setattr(telemetry, "HEATMAP_MAX_ROWS", 20)
    monkeypatch.setattr(intel, "MAX_CASE_FLAGS", 10)


def test_the_page_and_every_section_cost_the_same_for_a_case_2x_and_10x_bigger(
    analyst_client, low_caps
):
    sizes = {}
    for n in (BASE, 2 * BASE, 10 * BASE):
        case = _case(n)
        sizes[n] = _measure(analyst_client, case)
    small, double, tenfold = sizes[BASE], sizes[2 * BASE], sizes[10 * BASE]
    for suffix in SECTIONS:
        q1 = small[suffix][0]
        (q2, r2, c2, b2), (q10, r10, c10, b10) = double[suffix], tenfold[suffix]
        assert q1 == q2 == q10, (suffix, q1, q2, q10)
        assert r2 == r10, (suffix, r2, r10)
        # What is read and sent: the same, with bigger numbers in it (counts, ids, hovers).
        assert c10 <= c2 * 1.05 + 500, (suffix, c2, c10)
        assert b10 <= b2 * 1.05 + 500, (suffix, b2, b10)


def test_capped_lists_and_charts_say_so(analyst_client, low_caps):
    case = _case(BASE)
    htmx = {"HX-Request": "true"}
    accounts = analyst_client.get(f"/cases/{case.pk}/accounts/", headers=htmx).content.decode()
    assert accounts.count('class="account-cell"') == 25 and "Next" in accounts
    intel_html = analyst_client.get(f"/cases/{case.pk}/watch-list/", headers=htmx).content
    assert f"Showing the newest 10 of {BASE} flags." in intel_html.decode()
    assert f"and {BASE - 5} more" in intel_html.decode()
    charts = analyst_client.get(f"/cases/{case.pk}/evidence/charts/", headers=htmx).content
    assert f"groups of {BASE} accounts" in charts.decode()
    assert "more than 20 accounts or 8,000 links" in charts.decode()
    assert f"20 bands of {BASE} accounts" in charts.decode()
