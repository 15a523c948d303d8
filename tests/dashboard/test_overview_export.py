"""The overview exported: the PDF and the workbook carry the page's own figures."""

import io
import re
from html import unescape

import openpyxl
import pytest
from pypdf import PdfReader

from cases.models import AuditEvent
from tests.dashboard.test_overview import world  # noqa: F401 (the overview's hand-built data)

pytestmark = pytest.mark.django_db
# The page's stat id, and the label both files give the figure.
STATS = [
    ("stat-open", "Open cases"),
    ("stat-unassigned", "Unassigned"),
    ("stat-overdue", "Overdue"),
    ("stat-opened", "Cases opened"),
    ("stat-closed", "Cases closed"),
    ("stat-bans", "Bans executed"),
    ("stat-reversed", "Of them reversed"),
]


def _page_numbers(client) -> dict[str, int]:
    html = client.get("/").content.decode()
    numbers = {}
    for stat, label in STATS:
        n = re.search(rf'id="{stat}"[^>]*><span class="n">([^<]*)</span>', html).group(1)
        numbers[label] = int(unescape(n).replace(",", ""))
    return numbers


def test_overview_pdf_has_the_page_figures(manager_client, world):  # noqa: F811
    expected = _page_numbers(manager_client)
    assert expected["Open cases"] == 5 and expected["Overdue"] == 2
    response = manager_client.post("/export/pdf/")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    for label, n in expected.items():
        assert re.search(rf"^{label} {n}$", text, re.M), (label, n)
    assert "Alpha" in text and "Bravo" in text


def test_overview_workbook_has_the_page_figures(manager_client, world):  # noqa: F811
    expected = _page_numbers(manager_client)
    response = manager_client.post("/export/xlsx/")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [
        "Overview", "Open by status", "Backlog age", "Weeks", "Campaigns"
    ]  # fmt: skip
    facts = {r[0]: r[1] for r in workbook["Overview"].iter_rows(values_only=True)}
    for label, n in expected.items():
        assert facts[label] == n, label
    by_status = list(workbook["Open by status"].iter_rows(min_row=2, values_only=True))
    assert sum(row[-1] for row in by_status) == expected["Open cases"]
    weeks = list(workbook["Weeks"].iter_rows(min_row=2, values_only=True))
    assert sum(w[1] for w in weeks) == expected["Cases opened"]
    assert workbook["Weeks"].auto_filter.ref == f"A1:C{len(weeks) + 1}"
    campaigns = list(workbook["Campaigns"].iter_rows(min_row=2, values_only=True))
    assert [c[0] for c in campaigns] == ["Bravo", "Alpha"]


def test_overview_export_is_a_post_audited_and_for_exporters(
    manager_client,
    analyst_client,
    world,  # noqa: F811
):
    assert manager_client.get("/export/pdf/").status_code == 200
    assert not AuditEvent.objects.filter(verb="export.created").exists()
    manager_client.post("/export/xlsx/?start=2026-01-01&end=2026-03-31")
    event = AuditEvent.objects.get(verb="export.created")
    assert event.data == {
        "format": "xlsx", "scope": "overview", "period": ["2026-01-01", "2026-03-31"], "rows": 1
    }  # fmt: skip
    assert analyst_client.post("/export/pdf/").status_code == 403
    assert manager_client.post("/export/csv/").status_code == 404
    bad = manager_client.post("/export/pdf/?start=2026-05-01&end=2026-04-01")
    assert bad.status_code == 400 and b"nothing exported" in bad.content
    assert AuditEvent.objects.filter(verb="export.created").count() == 1
