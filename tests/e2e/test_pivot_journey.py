"""Widening a campaign in a real browser: from a case to one of its accounts, from the
account to the accounts sharing its card, and those outside the case added to it."""

import re

import pytest
from playwright.sync_api import expect

from tests.cases.accounts_data import CARD, make_world
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def analyst_user():
    from dashboard.roles import ANALYST, ensure_roles

    ensure_roles()
    return UserFactory(username="piper", roles=[ANALYST])


def test_pivot_on_a_shared_card_and_add_the_accounts_outside_the_case(
    page, live_server, login, console_errors, analyst_user
):
    world = make_world()
    case = world.case
    login(analyst_user)

    page.goto(f"{live_server.url}/cases/{case.pk}/")
    accounts = page.locator("#case-accounts")
    expect(accounts.locator("#accounts-table")).to_be_visible()
    accounts.get_by_role("link", name="fleet-000", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/accounts/fleet-000/?case={case.pk}")
    expect(page.get_by_role("heading", name=re.compile("Account fleet-000"))).to_be_visible()

    page.get_by_role("link", name=CARD, exact=True).click()
    expect(page.locator("#pivot-counts")).to_contain_text("2 on case")
    expect(page.locator("#pivot-counts")).to_contain_text("2 outside it")
    page.get_by_role("link", name="Outside the case").click()
    rows = page.locator("#account-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("outside-card-000")

    page.get_by_label("Select all").check()
    expect(page.get_by_label("Select outside-card-001")).to_be_checked()
    expect(page.get_by_label("Case to add them to")).to_have_value(str(case.pk))
    page.get_by_label("Reason").fill("Same card as the fleet")
    page.get_by_role("button", name="Add selected to case").click()

    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("#messages")).to_contain_text("Added 2 accounts")
    table = page.locator("#case-accounts #accounts-table")
    expect(table).to_contain_text("outside-card-000")
    expect(table).to_contain_text("outside-card-001")
    timeline = page.locator("#case-timeline")
    expect(timeline).to_contain_text("added account outside-card-000")
    expect(timeline).to_contain_text("Same card as the fleet")
    assert console_errors == []
