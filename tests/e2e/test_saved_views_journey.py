"""Saved views in a real browser: an analyst filters the queue, saves the filter as a named view
shared with the team, a colleague opens it from the queue; the owner renames it, points it at
a new filter, makes it private, and deletes it."""

import pytest
from playwright.sync_api import expect

from cases.models import Case, SavedView
from tests.factories import CaseFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_save_share_open_edit_and_delete_a_view(page, live_server, login, console_errors):
    from dashboard.roles import ANALYST, APPROVER, ensure_roles

    ensure_roles()
    analyst = UserFactory(username="ana", roles=[ANALYST])
    approver = UserFactory(username="april", roles=[APPROVER])
    urgent = CaseFactory(
        title="Urgent coding fleet", priority=Case.Priority.CRITICAL, risk_score=0.9
    )
    routine = CaseFactory(title="Routine benchmark", priority=Case.Priority.MEDIUM, risk_score=0.5)
    queue = f"{live_server.url}/cases/"

    login(analyst)
    page.goto(queue)
    results = page.locator("#queue-results")
    page.locator("#id_priority").select_option(label="P1 critical")
    expect(results).not_to_contain_text(routine.title)
    expect(results).to_contain_text(urgent.title)
    page.get_by_role("button", name="Save this view…").click()
    dialog = page.locator("#modal-root dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill("Urgent fleets")
    dialog.get_by_label("Share with the team").check()
    dialog.get_by_role("button", name="Save view").click()
    expect(page).to_have_url(f"{queue}?status=open&priority=1")
    expect(page.locator("#messages")).to_contain_text("Saved the view “Urgent fleets”")
    views = page.get_by_role("navigation", name="Saved views")
    chip = views.get_by_role("link", name="Urgent fleets")
    expect(chip).to_have_attribute("aria-current", "page")
    expect(chip).to_contain_text("shared")

    # A colleague sees it under the team's views and opens the same filter.
    page.get_by_role("button", name="Log out").click()
    login(approver)
    page.goto(queue)
    expect(page.locator("#queue-results")).to_contain_text(routine.title)
    page.get_by_role("navigation", name="Saved views").get_by_role(
        "link", name="Urgent fleets"
    ).click()
    expect(page.locator("#queue-results")).not_to_contain_text(routine.title)
    expect(page.locator("#queue-results")).to_contain_text(urgent.title)
    expect(page.get_by_role("button", name="Edit the view Urgent fleets")).to_have_count(0)

    # The owner points it at another filter, renames it and makes it private.
    page.get_by_role("button", name="Log out").click()
    login(analyst)
    page.goto(queue)
    page.locator("#id_priority").select_option(label="P3 medium")
    expect(page.locator("#queue-results")).not_to_contain_text(urgent.title)
    page.get_by_role("button", name="Edit the view Urgent fleets").click()
    dialog = page.locator("#modal-root dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill("Routine work")
    dialog.get_by_label("Share with the team").uncheck()
    dialog.get_by_label("Replace its filter with the queue's current one").check()
    dialog.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(f"{queue}?status=open&priority=3")
    view = SavedView.objects.get()
    assert (view.name, view.shared, view.query) == ("Routine work", False, "status=open&priority=3")
    chip = page.get_by_role("navigation", name="Saved views").get_by_role(
        "link", name="Routine work"
    )
    expect(chip).to_have_attribute("aria-current", "page")
    expect(chip).not_to_contain_text("shared")

    page.get_by_role("button", name="Edit the view Routine work").click()
    page.locator("#modal-root dialog").get_by_role("button", name="Delete").click()
    expect(page).to_have_url(queue)
    expect(page.locator("#messages")).to_contain_text("Deleted the view “Routine work”")
    expect(page.get_by_role("navigation", name="Saved views")).not_to_contain_text("Routine work")
    assert not SavedView.objects.exists()
    assert console_errors == []
