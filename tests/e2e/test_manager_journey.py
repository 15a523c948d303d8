"""A manager's morning: the overview, a number clicked through to the queue, a CSV export."""

import csv
import io
import os
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import CampaignFactory, CaseFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("E2E_SCREENSHOTS", "")


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_overview_to_filtered_queue_to_csv(page, live_server, login, console_errors):
    from dashboard.roles import MANAGER, ensure_roles

    ensure_roles()
    manager = UserFactory(username="mona", roles=[MANAGER])
    now = timezone.now()
    camp = CampaignFactory(label="=Northwind", member_count=120, exchange_count=45000)
    CaseFactory(title="=HYPERLINK(1)", priority=1, campaign=camp, traffic_share=0.04,
                opened_at=now - timedelta(days=2))  # fmt: skip
    CaseFactory(title="Octo fleet", priority=1, opened_at=now - timedelta(days=9))
    CaseFactory(title="Campus NAT", priority=3, status="triage", opened_at=now - timedelta(days=1))
    CaseFactory(title="Closed one", priority=1, status="dismissed", decided_at=now)

    login(manager)
    expect(page.locator("#stat-open .n")).to_have_text("3")
    expect(page.locator("#chart-status .main-svg").first).to_be_attached()
    expect(page.get_by_text("Where the open work sits")).to_be_visible()
    _shot(page, "overview")

    # The P1 total in the status x priority table: open P1 cases.
    page.locator("#status-matrix tfoot a").first.click()
    page.wait_for_url("**/cases/?status=open&priority=1")
    rows = page.locator("#queue-table tbody tr[data-row]")
    expect(rows).to_have_count(2)
    expect(page.locator("#queue-table")).not_to_contain_text("Campus NAT")

    # Narrow further with the queue's own filter (htmx swaps the table and pushes the URL);
    # the export link follows what is on screen now.
    page.locator("#id_q").fill("Octo")
    page.wait_for_url("**q=Octo**")
    expect(rows).to_have_count(1)
    _shot(page, "queue")
    with page.expect_download() as info:
        page.locator("#export-csv").click()
    download = info.value
    assert download.suggested_filename.startswith("cases-")
    text = open(download.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    lines = list(csv.reader(io.StringIO(text, newline="")))
    assert lines[0][:3] == ["id", "title", "campaign"]
    assert [line[1] for line in lines[1:]] == ["Octo fleet"]

    # Back to all open P1 cases and export again: the hostile title arrives inert.
    page.goto(f"{live_server.url}/cases/?status=open&priority=1&sort=title")
    with page.expect_download() as info:
        page.locator("#export-csv").click()
    text = open(info.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    lines = list(csv.reader(io.StringIO(text, newline="")))
    assert [line[1] for line in lines[1:]] == ["'=HYPERLINK(1)", "Octo fleet"]
    assert lines[1][2] == "'=Northwind"
    assert console_errors == []
