"""The case page and the queue hold at a desktop, a small laptop and a phone width: nothing
scrolls the page sideways, the navigation is all on screen, the queue's Due column shows at
1024 px. Screenshots of each go to ``SCREENSHOTS`` (CI keeps ``test-results/``)."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS
from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    NoteFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (1440, 1024, 390)
SIGNALS = [
    {
        "name": "reasoning_elicitation",
        "value": 0.62,
        "threshold": 0.25,
        "norm": 0.03,
        "contribution": 0.4,
        "reason": "62% of prompts ask for full step-by-step reasoning; typical: 3%",
    }
]


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width[0]} px in {width[1]} px"


def _nav_on_screen(page, width: int) -> None:
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    assert links.count() >= 2
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, links.nth(i)


def _top_bar_names_on_one_line(page) -> None:
    """The console's name and the user's name and roles never break over lines."""
    for selector in (".topbar .brand", ".topbar .user"):
        height, font = page.locator(selector).evaluate(
            "el => [el.getBoundingClientRect().height, parseFloat(getComputedStyle(el).fontSize)]"
        )
        assert height < 2 * font, f"{selector} breaks over lines ({height:.0f} px high)"


def _title_whole(chart, drawn: dict, name: str) -> None:
    """The chart's title is shown whole: Plotly's own inside the chart, or on a narrow chart
    a line of text above it that wraps."""
    above = chart.locator(".chart-title")
    title = above if above.count() else chart.locator(".gtitle")
    assert title.count() == 1 and title.text_content().strip(), f"{name} has no title"
    box = title.bounding_box()
    assert box["x"] >= drawn["x"] - 1, f"{name}'s title starts outside its chart"
    assert box["x"] + box["width"] <= drawn["x"] + drawn["width"] + 1, f"{name}'s title is cut"


def _sections_jump_under_a_sticky_header(page) -> None:
    """Each section link scrolls its section into view, below the header, which stays at the
    top with its actions."""
    header = page.locator("#case-header")
    sections = page.get_by_role("navigation", name="Case sections")
    for name, target in (
        ("Enforcement", "#case-enforcement"),
        ("Watch list", "#case-intel"),
        ("Summary", "#case-summary"),
    ):
        sections.get_by_role("link", name=name).click()
        expect(page.locator(target)).to_be_in_viewport()
        heading = page.locator(f"{target} h2").bounding_box()
        bottom = header.bounding_box()
        assert heading["y"] >= bottom["y"] + bottom["height"] - 1, f"{name} is under the header"
    sections.get_by_role("link", name="Enforcement").click()
    assert abs(header.bounding_box()["y"]) <= 1, "the header scrolled away"
    expect(header.get_by_role("button", name="Assign to me")).to_be_in_viewport()


def test_case_page_and_queue_hold_at_three_widths(page, live_server, login, console_errors):
    from dashboard.roles import ANALYST, ensure_roles

    ensure_roles()
    user = UserFactory(username="erin-lindqvist", roles=[ANALYST])
    campaign = CampaignFactory(label="Reasoning harvest across a proxy network")
    case = CaseFactory(
        title="Fleet harvesting step-by-step reasoning through residential proxies",
        campaign=campaign,
        risk_score=0.93,
        account_count=6,
        explanation={"summary": "Fleet of look-alike accounts", "signals": SIGNALS},
    )
    for i in range(6):
        account = AccountFactory(
            account_id=f"acct-{i:04d}-7f3a9c2e51b04d8e", email_domain="mail.example"
        )
        CaseAccountFactory(case=case, account=account)
        AccountScoreFactory(account=account, signals=SIGNALS, exchange_count=1000 + i)
    NoteFactory(case=case, author=user, body="Same card on every key.")
    for i in range(8):
        CaseFactory(title=f"Another open case {i}", risk_score=0.5 + i / 100)

    login(user)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})

        page.goto(f"{live_server.url}/cases/{case.pk}/")
        expect(page.locator("#case-accounts table")).to_be_visible()
        expect(page.locator("#case-timeline ol.timeline li").first).to_be_visible()
        expect(page.locator("#case-enforcement .section-head")).to_be_visible()
        _no_sideways_scroll(page)
        _nav_on_screen(page, width)
        _top_bar_names_on_one_line(page)
        if width >= 1024:
            # Every column of the case's accounts, Remove included, in its card unscrolled.
            remove = page.locator("#case-accounts tbody tr").first.get_by_role("link").last
            expect(remove).to_have_text("Remove…")
            shown = page.locator("#case-accounts .table-container").bounding_box()
            box = remove.bounding_box()
            widths = page.evaluate(
                "[...document.querySelectorAll('#case-accounts thead th')]"
                ".map(e => e.textContent.trim().slice(0, 12) + ' ' + e.offsetWidth)"
            )
            assert box["x"] + box["width"] <= shown["x"] + shown["width"], widths
        page.screenshot(path=SCREENSHOTS / f"case-{width}.png", full_page=True)
        _sections_jump_under_a_sticky_header(page)

        page.goto(f"{live_server.url}/cases/")
        expect(page.locator("#queue-table tbody tr[data-row]")).to_have_count(9)
        _no_sideways_scroll(page)
        _nav_on_screen(page, width)
        if width >= 1024:
            # Not scrolled out of the table's own container either.
            due = page.locator("#queue-table thead th", has_text="Due").bounding_box()
            shown = page.locator("#queue-results .table-container").bounding_box()
            assert due["x"] + due["width"] <= shown["x"] + shown["width"], "Due is off screen"
        page.screenshot(path=SCREENSHOTS / f"queue-{width}.png", full_page=True)
    assert console_errors == []


# Every figure the page shows under one name, with the values shown for it.
FIGURES = """() => {
  const seen = {};
  for (const el of document.querySelectorAll('[data-figure]')) {
    (seen[el.dataset.figure] ||= []).push(el.textContent.trim());
  }
  return seen;
}"""


def test_case_page_with_its_charts_holds_at_three_widths(page, live_server, login, console_errors):
    """A case drawn from telemetry (an evidence snapshot with every chart): at each width the
    charts fit their card, nothing scrolls the page sideways, and every figure shown in more
    than one place shows one value."""
    from cases.evidence.services import evidence_snapshot_collect
    from cases.models import EvidenceSnapshot
    from dashboard.roles import ANALYST, ensure_roles
    from tests.cases.test_evidence_fixtures import make_campaign

    ensure_roles()
    user = UserFactory(username="erin", roles=[ANALYST])
    case, _, _ = make_campaign(8, days=3)
    case.explanation = {"summary": "8 accounts sharing one card", "signals": SIGNALS}
    case.save()
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == "done"

    login(user)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/cases/{case.pk}/")
        expect(page.locator("#case-accounts table")).to_be_visible()
        charts = page.locator("#case-charts")
        page.get_by_role("navigation", name="Case sections").get_by_role(
            "link", name="Charts"
        ).click()
        for name in ("network", "activity", "volume", "registrations", "shares"):
            box = charts.locator(f"#chart-{name} .chart-box")
            expect(box).to_have_attribute("data-ready", "1", timeout=15_000)
            drawn = box.bounding_box()
            assert drawn["x"] >= 0 and drawn["x"] + drawn["width"] <= width, name
            _title_whole(charts.locator(f"#chart-{name}"), drawn, name)
        _no_sideways_scroll(page)
        seen = page.evaluate(FIGURES)
        assert len(seen["accounts"]) >= 2
        assert {name: v for name, v in seen.items() if len(set(v)) > 1} == {}
        page.screenshot(path=SCREENSHOTS / f"case-charts-{width}.png", full_page=True)
    assert console_errors == []
