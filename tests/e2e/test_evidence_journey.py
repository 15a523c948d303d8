"""An analyst opens a campaign case and sees its evidence and every chart drawn by plotly.js."""

import re

import pytest
from playwright.sync_api import expect

from cases.evidence.services import evidence_snapshot_collect
from cases.models import EvidenceSnapshot
from tests.cases.test_evidence_fixtures import make_campaign
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARTS = ["network", "activity", "volume", "registrations", "shares"]


@pytest.fixture
def analyst_user():
    from dashboard.roles import ANALYST, ensure_roles

    ensure_roles()
    return UserFactory(username="erin", roles=[ANALYST])


def test_the_case_page_shows_evidence_and_draws_every_chart(
    page, live_server, login, console_errors, analyst_user
):
    case, _, _ = make_campaign(12)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == "done"
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    login(analyst_user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")

    evidence = page.locator("#case-evidence")
    expect(evidence.get_by_role("heading", name="Shared prompt templates")).to_be_visible()
    expect(evidence.get_by_text(f"#{snapshot.pk}", exact=True).first).to_be_visible()
    # Hostile prompt text shows as text, never as markup.
    hostile = re.compile(r"<script>alert\('x'\)</script>|<img src=x onerror=")
    expect(evidence.locator(".sample").first).to_contain_text(hostile)
    expect(evidence.locator(".sample script, .sample img")).to_have_count(0)
    for name in CHARTS:
        chart = page.locator(f'[data-chart="fig-{snapshot.pk}-{name}"]')
        expect(chart).to_have_attribute("data-ready", "1", timeout=15_000)
        expect(chart.locator(".plot-container svg").first).to_be_attached()
        # The title, in the chart or (too wide for it) on a line of its own above it.
        title = page.locator(f'.chart:has([data-chart="fig-{snapshot.pk}-{name}"]) .chart-title')
        if not title.count():
            title = chart.locator(".gtitle")
        expect(title).not_to_be_empty()
    page.locator("#case-charts").screenshot(path="var/evidence-journey-charts.png")
    page.locator("#case-evidence").screenshot(path="var/evidence-journey-evidence.png")
    assert dialogs == []
    assert console_errors == []


def test_the_sections_load_while_plotly_is_still_on_its_way_and_the_charts_follow(
    page, live_server, login, console_errors, analyst_user
):
    """plotly.js (1.5 MB, its cartesian bundle) is the page's heaviest read: the sections do
    not wait for it, and charts that arrived first are drawn once it has run."""
    case, _, _ = make_campaign(6, days=2)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == "done"
    held: list = []
    page.route("**/vendor/plotly-*.js", lambda route: held.append(route))

    login(analyst_user)
    # Not "load": the window's load waits for the held script.
    page.goto(f"{live_server.url}/cases/{case.pk}/", wait_until="domcontentloaded")
    expect(page.locator("#accounts-table")).to_be_visible()
    chart = page.locator(f'[data-chart="fig-{snapshot.pk}-network"]')
    expect(chart).to_be_attached()
    assert page.evaluate("() => typeof window.Plotly") == "undefined"
    expect(chart).not_to_have_attribute("data-drawn", "1")

    assert len(held) == 1  # asked for, and held back until now
    held[0].continue_()
    for name in CHARTS:
        drawn = page.locator(f'[data-chart="fig-{snapshot.pk}-{name}"]')
        expect(drawn).to_have_attribute("data-ready", "1", timeout=15_000)
    assert console_errors == []


def test_full_prompt_text_opens_in_place(page, live_server, login, console_errors, analyst_user):
    case, _, _ = make_campaign(3, days=2)
    snapshot = EvidenceSnapshot.objects.create(case=case)
    evidence_snapshot_collect(snapshot.pk)

    login(analyst_user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.locator("#case-evidence").get_by_role("link", name="Full text").first.click()
    expect(page.locator(".prompt-full").first).to_contain_text("recorded in the audit log")
    assert console_errors == []


def test_refresh_shows_progress_then_the_new_snapshot(
    page, live_server, login, console_errors, analyst_user, celery_worker_process
):
    case, _, _ = make_campaign(4, days=2)
    first = EvidenceSnapshot.objects.create(case=case)
    evidence_snapshot_collect(first.pk)

    login(analyst_user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator(".snapshot-meta")).to_contain_text(f"#{first.pk}")
    page.get_by_role("button", name="Refresh evidence").click()

    # The real worker collects it; the section polls and reloads with the new snapshot.
    newest = f"#{first.pk + 1}"
    expect(page.locator(".snapshot-meta")).to_contain_text(newest, timeout=30_000)
    expect(
        page.locator(f'[data-chart="fig-{first.pk + 1}-volume"] .plot-container')
    ).to_be_attached(timeout=15_000)
    page.locator(".snapshot-history summary").click()
    expect(page.locator(".snapshot-history tbody tr")).to_have_count(2)
    assert console_errors == []
