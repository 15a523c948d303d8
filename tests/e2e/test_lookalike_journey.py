"""Look-alikes in a real browser: the queue counts them, the case marks them, the account page
says why, and a proposal leaves them out by default, saying how many."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.enforcement.models import EnforcementAction
from cases.models import Case
from tests.e2e.conftest import choose_terms
from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(monkeypatch):
    from cases.enforcement.tasks import deliver_outbox_message_task
    from dashboard.roles import ANALYST, ensure_roles

    monkeypatch.setattr(deliver_outbox_message_task, "apply_async", lambda *a, **kw: None)
    ensure_roles()
    case = CaseFactory(
        title="Reasoning extraction via templated prompts, 3 accounts",
        campaign=CampaignFactory(label="Reasoning extraction via templated prompts"),
        status=Case.Status.INVESTIGATING,
        account_count=3,
        risk_score=0.9,
    )
    for i in range(2):
        fleet = AccountFactory(account_id=f"fleet-{i}", plan="free")
        CaseAccountFactory(case=case, account=fleet)
        AccountScoreFactory(account=fleet, exchange_count=500)
    customer = AccountFactory(
        account_id="customer-1",
        plan="enterprise",
        created_at=timezone.now() - timedelta(days=700),
    )
    CaseAccountFactory(case=case, account=customer)
    AccountScoreFactory(account=customer, exchange_count=80)
    return {"analyst": UserFactory(username="erin", roles=[ANALYST]), "case": case}


def test_proposing_with_look_alikes_left_out(
    page, live_server, login, console_errors, world, enforcement_lists
):
    case = world["case"]
    login(world["analyst"])
    page.goto(f"{live_server.url}/cases/")
    row = page.locator("#queue-table tbody tr[data-row]", has_text="Reasoning extraction")
    expect(row.locator(".badge.lookalike")).to_have_text("1")

    row.locator("a.row-link").click()
    accounts = page.locator("#case-accounts")
    marked = accounts.locator("tr", has=page.locator(".badge.lookalike"))
    expect(marked).to_have_count(1)
    expect(marked).to_contain_text("customer-1")

    marked.get_by_role("link", name="customer-1", exact=True).click()
    expect(page.locator("#account-lookalike")).to_contain_text("on the paid plan enterprise")
    page.go_back()

    section = page.locator("#case-enforcement")
    section.get_by_role("link", name="Propose an action…").click()
    dialog = page.locator("dialog.enf-modal")
    expect(dialog.locator(".excluded-lookalikes")).to_contain_text("1 look-alike")
    expect(dialog.get_by_label("All accounts on the case, except 1 look-alike")).to_be_checked()
    expect(dialog.get_by_label("Include the 1 look-alike")).not_to_be_checked()
    dialog.get_by_label("Ban").check()
    choose_terms(dialog)
    dialog.get_by_label("Reason").fill("Two free accounts harvesting reasoning from one card.")
    dialog.get_by_role("button", name="Propose").click()
    expect(dialog).to_be_hidden()
    expect(section.locator("[data-action-status]")).to_have_text("Proposed")
    action = EnforcementAction.objects.get(case=case)
    expect(page.locator("#case-timeline")).to_contain_text(f"proposed ban #{action.pk} on 2")
    assert sorted(action.accounts.values_list("account_id", flat=True)) == ["fleet-0", "fleet-1"]
    assert console_errors == []
