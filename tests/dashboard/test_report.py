"""The period report: every figure rebuilt by hand from a fixture (tests/dashboard/
report_data.py) and compared on the page, in the PDF (read back with pypdf) and in the
workbook (read back with openpyxl); its links lead to exactly the cases behind each figure."""

import io
import re
from html import unescape
from urllib.parse import urlencode

import openpyxl
import pytest
from pypdf import PdfReader

from cases.models import AuditEvent, Case
from dashboard.reports.selectors import FIGURES, period_report
from tests.dashboard.report_data import EXPECTED, WORKLOAD, build, figures_in_pdf

pytestmark = pytest.mark.django_db
LABELS = {key: label for key, label, _ in FIGURES}


@pytest.fixture
def data(analyst, approver, approver2):
    return build(analyst, approver, approver2)


def _query(period) -> str:
    return urlencode({"range": "custom", "start": period.start, "end": period.end})


def _number(text: str):
    text = unescape(text).strip().replace(",", "")
    if text == "—":
        return None
    return float(text) if "." in text else int(text)


def test_selector_figures_match_the_hand_count(data):
    from django.utils import timezone

    # The first activity behind "first activity to detection", case by case.
    for name, first in data["first_activity"].items():
        data[name].refresh_from_db()
        assert data[name].first_activity_at == first, name
    report = period_report(Case.objects.all(), data["period"], now=timezone.now())
    got = {t.key: (t.now, t.before) for t in report.trends}
    assert got == EXPECTED
    assert [
        (w.username, w.open_now, w.cases_worked, w.notes, w.status_changes, w.proposals,
         w.decisions) for w in report.workload
    ] == WORKLOAD  # fmt: skip
    # The largest campaigns: A and B, by traffic, each told in plain language.
    assert [s.case.title for s in report.campaigns] == ["Northwind fleet", "Octo coding agents"]
    story = " ".join(report.campaigns[0].paragraphs)
    assert "3 accounts declaring 2 organisations" in story
    assert "45,000 requests" in story
    assert "asks for step-by-step reasoning" in story and "A ban on 3 accounts" in story


def test_every_number_on_the_page(manager_client, data):
    response = manager_client.get(f"/reports/?{_query(data['period'])}")
    assert response.status_code == 200
    html = response.content.decode()
    for key, (now, before) in EXPECTED.items():
        row = re.search(rf'<tr id="figure-{key}">(.*?)</tr>', html, re.S).group(1)
        cell_now = re.search(r'<td class="now"><a href="([^"]*)">([^<]*)</a>', row)
        cell_before = re.search(r'<td class="before">([^<]*)</td>', row)
        assert _number(cell_now.group(2)) == now, key
        assert _number(cell_before.group(1)) == before, key
        assert LABELS[key] in row
    workload = re.search(r'<table[^>]*id="report-workload">(.*?)</table>', html, re.S).group(1)
    for person, *numbers in WORKLOAD:
        row = re.search(rf"<tr><th scope=\"row\">{person}</th>(.*?)</tr>", workload).group(1)
        cells = [_number(re.sub("<[^>]+>", "", c)) for c in re.findall(r"<td>(.*?)</td>", row)]
        assert cells == numbers, person
    assert "Northwind fleet" in html and "Octo coding agents" in html


def _queue_ids(client, url: str) -> set[int]:
    html = client.get(url).content.decode()
    return {int(pk) for pk in re.findall(r'<tr data-row="case" data-href="/cases/(\d+)/"', html)}


@pytest.mark.parametrize(
    ("key", "cases"),
    [
        ("campaigns_found", {"a", "b"}),
        ("campaigns_stopped", {"a"}),
        ("cases_actioned", {"a", "c"}),
        ("accounts_actioned", {"a", "c"}),
        ("reversal_requests", {"c"}),
        ("cases_opened", {"a", "b"}),
        ("cases_closed", {"a", "c"}),
        ("exchanges_before_action", {"a", "c"}),
        ("output_tokens_before_action", {"a", "c"}),
        ("to_detection_days", {"a", "b"}),
        ("to_action_days", {"a", "c"}),
        ("reversals_done", {"c"}),
    ],
)
def test_each_figure_links_to_the_cases_behind_it(manager_client, data, key, cases):
    html = manager_client.get(f"/reports/?{_query(data['period'])}").content.decode()
    row = re.search(rf'<tr id="figure-{key}">(.*?)</tr>', html, re.S).group(1)
    url = unescape(re.search(r'<td class="now"><a href="([^"]*)"', row).group(1))
    assert url.startswith("/cases/?")
    assert _queue_ids(manager_client, url) == {data[name].pk for name in cases}


def test_every_number_in_the_pdf(manager_client, data):
    response = manager_client.post(f"/reports/export/pdf/?{_query(data['period'])}")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert figures_in_pdf(text, LABELS) == EXPECTED
    flat = " ".join(text.split())
    assert "The largest campaigns" in flat and "Northwind fleet" in flat
    assert "3 accounts declaring 2 organisations" in flat
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", flat), "snake_case in the PDF"
    assert "**" not in flat, "raw Markdown in the PDF"


def test_every_number_in_the_workbook(manager_client, data):
    response = manager_client.post(f"/reports/export/xlsx/?{_query(data['period'])}")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Report", "Figures", "Largest campaigns", "Workload"]
    figures = workbook["Figures"]
    assert figures.freeze_panes == "A2" and figures.auto_filter.ref == "A1:F13"
    rows = {r[0]: r for r in figures.iter_rows(min_row=2, values_only=True)}
    for key, (now, before) in EXPECTED.items():
        row = rows[LABELS[key]]
        assert (row[1], row[2]) == (now, before), key
    workload = [tuple(r) for r in workbook["Workload"].iter_rows(min_row=2, values_only=True)]
    assert workload == WORKLOAD
    campaigns = list(workbook["Largest campaigns"].iter_rows(min_row=2, values_only=True))
    assert [(c[0], c[3], c[4], c[5]) for c in campaigns] == [
        (data["a"].pk, 3, 2, 45_000),
        (data["b"].pk, 1, 0, 1_000),
    ]


def test_report_exports_are_posts_and_audited(manager_client, data):
    query = _query(data["period"])
    page = manager_client.get(f"/reports/export/pdf/?{query}")
    assert page.status_code == 200 and b"export-start" in page.content
    assert not AuditEvent.objects.filter(verb="export.created").exists()
    manager_client.post(f"/reports/export/xlsx/?{query}")
    event = AuditEvent.objects.get(verb="export.created")
    assert event.data["scope"] == "report" and event.data["format"] == "xlsx"
    period = data["period"]
    assert event.data["period"] == [period.start.isoformat(), period.end.isoformat()]


@pytest.mark.parametrize(
    ("who", "page", "export"),
    [("manager_client", 200, 200), ("approver_client", 200, 200),
     ("analyst_client", 200, 403), ("outsider_client", 403, 403)],
)  # fmt: skip
def test_roles(request, who, page, export):
    client = request.getfixturevalue(who)
    assert client.get("/reports/").status_code == page
    assert client.post("/reports/export/pdf/").status_code == export


def test_week_and_month_presets_and_bad_dates(manager_client):
    from django.utils import timezone

    from dashboard.reports.selectors import last_full

    today = timezone.localdate()
    html = manager_client.get("/reports/?range=week").content.decode()
    week = last_full("week", today)
    assert week.start.weekday() == 0 and week.days == 7
    assert f"{week.start:%Y-%m-%d} \N{EN DASH} {week.end:%Y-%m-%d}" in html
    month = last_full("month", today)
    html = manager_client.get("/reports/").content.decode()
    assert f"{month.start:%Y-%m-%d} \N{EN DASH} {month.end:%Y-%m-%d}" in html
    bad = manager_client.get("/reports/?range=custom&start=2026-05-01&end=2026-04-01")
    assert bad.status_code == 200
    assert "The start date is after the end date." in bad.content.decode()
    for start, end in [("0001-01-01", "0001-01-05"), ("9999-12-25", "9999-12-31")]:
        far = manager_client.get(f"/reports/?range=custom&start={start}&end={end}")
        assert far.status_code == 200
        assert "Choose dates from the year 2000" in far.content.decode()
        export = manager_client.post(f"/reports/export/pdf/?range=custom&start={start}&end={end}")
        assert export.status_code == 400
    assert not AuditEvent.objects.filter(verb="export.created").exists()


def test_htmx_gets_the_body_only(manager_client, htmx_headers):
    response = manager_client.get("/reports/?range=week", headers=htmx_headers)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="report-body"') and "<html" not in html


def test_page_queries_do_not_grow_with_data(manager_client, data):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import CaseFactory

    url = f"/reports/?{_query(data['period'])}"
    manager_client.get(url)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as small:
        manager_client.get(url)
    for i in range(12):
        CaseFactory(title=f"More {i}", kind=Case.Kind.CAMPAIGN, opened_at=data["a"].opened_at)
    with CaptureQueriesContext(connection) as large:
        manager_client.get(url)
    assert len(large) == len(small)
    assert len(small) <= 40
