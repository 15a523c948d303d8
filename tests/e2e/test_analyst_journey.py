"""An analyst's day in a real browser: the queue, a case, a note, the workflow, the keys."""

import re

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from tests.factories import (
    PASSWORD,
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

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


@pytest.fixture
def analyst_user():
    from dashboard.roles import ANALYST, ensure_roles

    ensure_roles()
    return UserFactory(username="erin", roles=[ANALYST])


def make_case(title, risk, hostile=False):
    case = CaseFactory(
        title=title,
        risk_score=risk,
        campaign=CampaignFactory(label=f"{title} campaign"),
        account_count=2,
        explanation={"summary": f"{title}: fleet of look-alike accounts", "signals": SIGNALS},
    )
    for i in range(2):
        account = AccountFactory(
            email_domain='<img src=x onerror="window.pwned=1">' if hostile else "corp.example"
        )
        CaseAccountFactory(case=case, account=account)
        AccountScoreFactory(account=account, signals=SIGNALS, exchange_count=1000 + i)
    return case


def test_filter_open_note_assign_investigate_and_see_the_timeline(
    page, live_server, login, console_errors, analyst_user
):
    make_case("Beta fleet", 0.7)
    alpha = make_case("Alpha fleet", 0.9, hostile=True)
    login(analyst_user)

    page.goto(f"{live_server.url}/cases/")
    rows = page.locator("#queue-table tbody tr[data-row]")
    expect(rows).to_have_count(2)
    page.get_by_label("Search").fill("Alpha")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/cases/\?.*q=Alpha"))

    page.get_by_role("link", name=f"#{alpha.pk} Alpha fleet").click()
    expect(page).to_have_url(f"{live_server.url}/cases/{alpha.pk}/")
    expect(page.locator("#case-why")).to_contain_text("Asks for step-by-step reasoning")
    expect(page.locator("#case-accounts")).to_contain_text("onerror")  # shown as text
    assert page.evaluate("window.pwned") is None

    page.locator("#note-body").fill("Same card on every key; **fleet**. @erin")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#case-notes .note").first).to_contain_text("Same card on every key")
    expect(page.locator("#case-notes strong", has_text="fleet")).to_be_visible()

    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator("#case-header")).to_contain_text("erin")
    expect(page.get_by_role("button", name="Assign to me")).to_be_disabled()

    page.get_by_role("button", name="Move to Investigating").click()
    expect(page.locator("#case-header .badge.status-investigating")).to_have_text("Investigating")

    timeline = page.locator("#case-timeline")
    expect(timeline).to_contain_text("moved from New to Investigating")
    expect(timeline).to_contain_text("assigned to erin")
    expect(timeline).to_contain_text("added a note")
    first = timeline.locator("li.event").first
    expect(first).to_contain_text("Investigating")
    page.screenshot(path="var/screenshots/case-page.png", full_page=True)
    assert console_errors == []


def test_the_queue_works_from_the_keyboard(page, live_server, login, console_errors, analyst_user):
    cases = [make_case(name, risk) for name, risk in (("One", 0.9), ("Two", 0.8), ("Three", 0.7))]
    login(analyst_user)
    page.goto(f"{live_server.url}/cases/")
    rows = page.locator("#queue-table tbody tr[data-row]")
    expect(rows).to_have_count(3)

    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(rows.nth(1).locator("a.row-link")).to_be_focused()
    # The focus is visible: the keyboard-focused link draws the :focus-visible outline.
    outline = (
        rows.nth(1)
        .locator("a.row-link")
        .evaluate("el => [el.matches(':focus-visible'), getComputedStyle(el).outlineStyle]")
    )
    assert outline == [True, "solid"]
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))

    page.keyboard.press("x")
    expect(rows.nth(0).locator("input[name=cases]")).to_be_checked()

    page.keyboard.press("a")  # assign the current case to me; the queue reloads
    expect(rows.nth(0)).to_contain_text("erin")

    page.keyboard.press("?")
    expect(page.locator("#keys-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#keys-help")).to_be_hidden()

    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/cases/{cases[0].pk}/")
    expect(page.locator("#note-body")).to_be_visible()
    page.keyboard.press("n")
    expect(page.locator("#note-body")).to_be_focused()
    page.keyboard.type("typed without a mouse")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#case-notes .note").first).to_contain_text("typed without a mouse")
    page.keyboard.press("Tab")  # out of the note box, still without a mouse
    expect(page.locator("#note-body")).not_to_be_focused()
    page.keyboard.press("u")
    expect(page).to_have_url(f"{live_server.url}/cases/")
    page.screenshot(path="var/screenshots/queue.png", full_page=True)
    assert console_errors == []


def test_paging_the_queue_pushes_the_url_and_back_returns(
    page, live_server, login, console_errors, analyst_user
):
    for i in range(53):
        CaseFactory(title=f"Paged case {i:02d}", risk_score=1 - i / 100)
    login(analyst_user)
    page.goto(f"{live_server.url}/cases/")
    rows = page.locator("#queue-table tbody tr[data-row]")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Paged case 00")

    page.locator("a[rel=next]").click()  # htmx swaps the rows and pushes the URL
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Paged case 50")
    expect(page).to_have_url(re.compile(r"/cases/\?page=2&after=[^&]+~\d+$"))
    expect(page.get_by_text("Page 2")).to_be_visible()

    page.go_back()
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Paged case 00")
    assert console_errors == []


def test_back_restores_the_whole_queue_when_htmx_has_no_copy_of_the_page(
    page, live_server, login, console_errors, analyst_user
):
    """With nothing in htmx's history cache (it keeps ten pages; here none), Back asks the
    server for the page with HX-Request set: it must get the whole page, not the rows."""
    for i in range(53):
        CaseFactory(title=f"Paged case {i:02d}", risk_score=1 - i / 100)
    login(analyst_user)
    page.goto(f"{live_server.url}/cases/")
    page.evaluate("htmx.config.historyCacheSize = 0")
    rows = page.locator("#queue-table tbody tr[data-row]")
    page.locator("a[rel=next]").click()
    expect(rows).to_have_count(3)

    with page.expect_response(
        lambda r: r.request.headers.get("hx-history-restore-request") == "true"
    ):
        page.go_back()
    expect(rows).to_have_count(50)
    expect(page.locator("header.topbar")).to_have_count(1)
    expect(page.locator("#filter-form")).to_have_count(1)
    expect(page.locator("#queue-results")).to_have_count(1)
    assert console_errors == []


def test_after_the_session_ends_the_next_htmx_request_goes_to_the_login_page(
    page, live_server, login, console_errors, analyst_user
):
    CaseFactory(title="Seen before and after logging in again", priority=2)
    login(analyst_user)
    page.goto(f"{live_server.url}/cases/?status=open")
    Session.objects.all().delete()  # logged out elsewhere, or expired

    page.locator("#id_priority").select_option("2")  # htmx asks for the rows
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(page.locator("header.topbar")).to_have_count(1)
    page.get_by_label("Username").fill(analyst_user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Back on the page the user was on (htmx had not pushed the filter yet).
    expect(page).to_have_url(f"{live_server.url}/cases/?status=open")
    expect(page.get_by_text("Seen before and after logging in again")).to_be_visible()
    assert console_errors == []
