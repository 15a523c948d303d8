"""The account network in a real browser: each kind of shared thing has its own legend entry,
a click on a node opens that account's page, and the same network reads as a table."""

import pytest
from playwright.sync_api import expect

from cases.evidence.services import evidence_snapshot_collect
from cases.models import EvidenceSnapshot
from tests.cases.test_evidence_fixtures import make_campaign
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Where a trace's first point is drawn, in pixels from the chart's corner, and its URL.
FIRST_POINT = """(el, name) => {
  const trace = el.data.find((t) => t.name.startsWith(name));
  const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
  return {x: xa._offset + xa.l2p(trace.x[0]), y: ya._offset + ya.l2p(trace.y[0]),
          url: trace.customdata[0]};
}"""


def test_network_nodes_open_their_page_and_the_table_lists_them(
    page, live_server, login, console_errors
):
    from dashboard.roles import ANALYST, ensure_roles

    ensure_roles()
    analyst = UserFactory(username="erin", roles=[ANALYST])
    case, _, _ = make_campaign(6, days=2)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == "done"

    login(analyst)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.get_by_role("navigation", name="Case sections").get_by_role("link", name="Charts").click()
    chart = page.locator(f'[data-chart="fig-{snapshot.pk}-network"]')
    expect(chart.locator(".plot-container svg").first).to_be_attached(timeout=15_000)
    legend = chart.locator(".legend")
    for kind in ("IP", "ASN", "payment fingerprint"):
        expect(legend).to_contain_text(kind)
    # Accounts are filled by risk, with the scale drawn beside the chart.
    expect(legend).to_contain_text("accounts (colour: risk)")
    expect(chart.locator(".colorbar")).to_have_count(1)
    expect(chart.locator(".colorbar")).to_contain_text("risk")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#chart-network").screenshot(path=SCREENSHOTS / "network.png")
    table = page.locator("details.network-table")
    table.locator("summary").click()
    expect(table.locator("tbody tr").first).to_be_visible()
    expect(table.get_by_role("columnheader", name="Kind")).to_be_visible()
    # The table lists what the chart draws: one row per shared-thing node.
    nodes = chart.evaluate(
        "el => el.data.filter((t) => t.marker && t.marker.symbol && t.marker.symbol !== 'circle')"
        ".reduce((n, t) => n + t.x.length, 0)"
    )
    expect(table.locator("tbody tr")).to_have_count(nodes)
    expect(table.locator("summary")).to_contain_text(f"{nodes} shared thing")

    chart.scroll_into_view_if_needed()
    point = chart.evaluate(FIRST_POINT, "accounts")
    box = chart.bounding_box()
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    expect(page).to_have_url(live_server.url + point["url"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("Account")
    assert console_errors == []
