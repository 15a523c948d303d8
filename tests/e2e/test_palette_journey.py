"""The command palette in a real browser: Ctrl-K opens it anywhere, typing finds cases by their
campaign and accounts by id prefix, the arrow keys and Enter open one; on a case page it offers
the case's own steps (Propose opens its dialog right there); Escape closes it."""

import pytest
from playwright.sync_api import expect

from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_ctrl_k_finds_a_case_an_account_and_an_action(
    page, live_server, login, console_errors, enforcement_lists
):
    from dashboard.roles import ANALYST, ensure_roles

    ensure_roles()
    analyst = UserFactory(username="ana", roles=[ANALYST])
    case = CaseFactory(title="Reasoning harvest", campaign=CampaignFactory(label="Coding agents"))
    CaseFactory(title="Benchmark suite", campaign=CampaignFactory(label="University lab"))
    account = AccountFactory(account_id="acct-pal-42", email_domain="fleet.example")
    CaseAccountFactory(case=case, account=account)

    login(analyst)
    page.goto(f"{live_server.url}/cases/")
    palette = page.locator("#palette")
    expect(palette).to_be_hidden()

    # A case, found by its campaign's name; Enter on the first result opens it.
    page.keyboard.press("Control+k")
    expect(palette).to_be_visible()
    query = palette.get_by_role("combobox")
    expect(query).to_be_focused()
    query.press_sequentially("coding ag")
    option = palette.get_by_role("option", name=f"#{case.pk} Reasoning harvest")
    expect(option).to_be_visible()
    expect(palette.get_by_role("option", name="Benchmark suite")).to_have_count(0)
    expect(palette.locator("[role=option][aria-selected=true]")).to_have_count(1)
    expect(palette.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    query.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    expect(palette).to_be_hidden()

    # On the case page: an account by id prefix, picked with the arrow keys (Cmd-K as on a Mac).
    # The page's sections load first (they hold the browser's connections to the server).
    page.wait_for_load_state("networkidle")
    page.keyboard.press("Meta+k")
    expect(palette).to_be_visible()
    query.press_sequentially("acct-pal")
    expect(palette.get_by_role("option", name="acct-pal-42")).to_be_visible(timeout=15_000)
    options = palette.get_by_role("option")
    target = next(i for i in range(options.count()) if "acct-pal-42" in options.nth(i).inner_text())
    for _ in range(target):
        query.press("ArrowDown")
    expect(options.nth(target)).to_have_attribute("aria-selected", "true")
    query.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/accounts/acct-pal-42/")

    # The case's own steps: "propose" offers Propose on this case, which opens its dialog.
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("#propose-action")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.keyboard.press("Control+k")
    query.press_sequentially("propose")
    palette.get_by_role("option", name=f"Propose an action on case #{case.pk}…").click()
    expect(palette).to_be_hidden()
    dialog = page.locator("dialog.enf-modal")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Policy")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_have_count(0)

    # Escape closes it; nothing found says so; the top bar's button opens it too.
    page.keyboard.press("Control+k")
    query.press_sequentially("no such thing anywhere")
    expect(palette.locator(".palette-empty")).to_contain_text("Nothing found")
    page.keyboard.press("Escape")
    expect(palette).to_be_hidden()
    page.get_by_role("link", name="Go to… Ctrl K").click()
    expect(palette).to_be_visible()
    query.press_sequentially("go to queue")
    query.press("Enter")  # at once: it waits for the results of what was typed
    expect(page).to_have_url(f"{live_server.url}/cases/")
    assert console_errors == []
