"""A manager's report: from the overview to the period report, its figures, a campaign's
case, the exports of both pages and the email subscription, in a real browser."""

import io

import openpyxl
import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from dashboard.reports.models import ReportSubscription
from tests.dashboard.report_data import EXPECTED, build
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _workbook(path) -> openpyxl.Workbook:
    # A download's temporary path has no extension, which openpyxl insists on.
    with open(path, "rb") as f:
        return openpyxl.load_workbook(io.BytesIO(f.read()))


def test_overview_to_report_to_case(page, live_server, login, console_errors):
    from dashboard.roles import ANALYST, APPROVER, MANAGER, ensure_roles

    ensure_roles()
    manager = UserFactory(username="mona", roles=[MANAGER])
    analyst = UserFactory(username="ana", roles=[ANALYST])
    approver = UserFactory(username="april", roles=[APPROVER])
    approver2 = UserFactory(username="aaron", roles=[APPROVER])
    data = build(analyst, approver, approver2)
    period = data["period"]

    login(manager)
    # The overview exports its own figures, as a PDF and a workbook.
    with page.expect_download() as info:
        page.locator("#overview-pdf").click()
    assert open(info.value.path(), "rb").read(4) == b"%PDF"  # noqa: SIM115
    with page.expect_download() as info:
        page.locator("#overview-xlsx").click()
    assert _workbook(info.value.path()).sheetnames[0] == "Overview"

    page.locator("#to-report").click()
    page.wait_for_url("**/reports/")
    expect(page.locator("#chart-comparison .main-svg").first).to_be_attached()

    # The presets, then chosen dates: the body is swapped by htmx and the URL follows.
    page.locator("#range-week").click()
    page.wait_for_url("**/reports/?range=week")
    expect(page.locator("#report-period")).to_contain_text("(7 days")
    expect(page.locator("#id_start")).not_to_have_value("")
    page.locator("#range-month").click()
    page.wait_for_url("**/reports/?range=month")
    page.locator("#id_start").fill(period.start.isoformat())
    page.locator("#id_end").fill(period.end.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**end={period.end.isoformat()}**")
    for key, (now, _before) in EXPECTED.items():
        expect(page.locator(f"#figure-{key} td.now a")).to_have_text(f"{now:,}" if now else "—")
    expect(page.locator("#report-period")).to_contain_text(period.start.isoformat())

    # A figure leads to exactly the cases it counts.
    page.locator("#figure-campaigns_stopped td.now a").click()
    page.wait_for_url("**/cases/?**enforced_after=**")
    rows = page.locator("#queue-table tbody tr[data-row]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Northwind fleet")
    page.go_back()

    # Its exports: the same figures in a PDF and a workbook.
    with page.expect_download() as info:
        page.locator("#report-pdf").click()
    pdf = PdfReader(info.value.path())
    assert "Campaigns found" in pdf.pages[0].extract_text()
    with page.expect_download() as info:
        page.locator("#report-xlsx").click()
    figures = _workbook(info.value.path())["Figures"]
    assert figures["A2"].value == "Campaigns found" and figures["B2"].value == 2

    # Subscribe to the weekly email.
    page.locator("#id_frequency").select_option("week")
    page.locator("#subscribe").click()
    expect(page.locator("#messages")).to_contain_text("weekly report will be emailed to")
    assert ReportSubscription.objects.get(user=manager).frequency == "week"

    # The largest campaign, in plain language, and its case.
    story = page.locator(f"#story-{data['a'].pk}")
    expect(story).to_contain_text("This case covers 3 accounts declaring 2 organisations")
    story.get_by_role("link").click()
    page.wait_for_url(f"**/cases/{data['a'].pk}/")
    expect(page.locator("h1")).to_contain_text("Northwind fleet")
    assert console_errors == []
