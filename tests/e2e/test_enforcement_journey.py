"""Structured enforcement in a real browser: an analyst proposes a ban under a policy and a
violation category, an approver sees both and approves, the analyst's notification bell counts
what happened; later an appeal is upheld for one account only (requested by the approver,
approved by a second approver), the rest of the fleet stays banned, and the analyst is told."""

import json
import os

import pytest
from playwright.sync_api import expect

from cases.enforcement.models import EnforcementAction, OutboxMessage
from cases.enforcement.services import outbox_deliver
from cases.labels.models import AccountLabel, AccountLabelRevision
from cases.models import Case
from detection.models import Account
from tests.cases.test_evidence_fixtures import make_campaign
from tests.e2e.test_ban_journey import receiver  # noqa: F401 (fixture)
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("E2E_SCREENSHOTS", "")


def _deliver(action) -> None:
    for message in OutboxMessage.objects.filter(action=action):
        assert outbox_deliver(message_id=message.pk) == "delivered"


def _switch(page, login, user) -> None:
    page.get_by_role("button", name="Log out").click()
    login(user)


def test_propose_with_terms_approve_appeal_one_account_and_the_proposer_is_told(
    page,
    live_server,
    login,
    console_errors,
    receiver,  # noqa: F811 (the fixture imported above)
    enforcement_lists,
):
    from dashboard.roles import ANALYST, APPROVER, ensure_roles

    ensure_roles()
    analyst = UserFactory(username="ana", roles=[ANALYST])
    approver = UserFactory(username="april", roles=[APPROVER])
    second = UserFactory(username="bruno", roles=[APPROVER])
    policy, category = enforcement_lists["policy"], enforcement_lists["category"]
    case, _, _ = make_campaign(4, days=2)
    Case.objects.filter(pk=case.pk).update(status=Case.Status.INVESTIGATING)

    # The analyst proposes a 90-day suspension; the form insists on a policy and a category.
    login(analyst)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    section = page.locator("#case-enforcement")
    section.get_by_role("link", name="Propose an action…").click()
    dialog = page.locator("dialog.enf-modal")
    expect(dialog.get_by_label("Policy")).to_have_attribute("required", "")
    expect(dialog.get_by_label("Violation category")).to_have_attribute("required", "")
    dialog.get_by_label("Suspend").check()
    dialog.get_by_label("Policy").select_option(label=policy.name)
    dialog.get_by_label("Violation category").select_option(label=category.name)
    dialog.get_by_label("Reason").fill("Four accounts, one card: a harvesting fleet.")
    dialog.get_by_role("button", name="Propose").click()  # permanent: refused for a suspension
    expect(dialog.locator(".field-length.has-error")).to_contain_text("needs a length")
    dialog.get_by_label("Length").select_option(label="90 days")
    # Every account of this campaign looks like a customer: acting on them takes a reason.
    dialog.get_by_label("Include the 4 look-alikes").check()
    dialog.get_by_label("Why the look-alikes belong in this action").fill("One card, one script.")
    dialog.get_by_role("button", name="Propose").click()
    expect(dialog).to_be_hidden()
    expect(section.locator("[data-term=policy]")).to_have_text(policy.name)
    expect(section.locator("[data-term=category]")).to_have_text(category.name)
    expect(section.locator("[data-term=length]")).to_have_text("90 days")
    action = EnforcementAction.objects.get(case=case)
    expect(page.locator(".notif-count")).to_have_count(0)

    # The approver sees the terms in the queue and in the decision dialog, and approves.
    _switch(page, login, approver)
    page.goto(f"{live_server.url}/cases/approvals/")
    row = page.locator(f'tr[data-action="{action.pk}"]')
    expect(row).to_contain_text(policy.name)
    expect(row).to_contain_text("90 days")
    row.get_by_role("link", name="Decide…").click()
    dialog = page.locator("dialog.enf-modal")
    expect(dialog.locator("[data-term=category]")).to_have_text(category.name)
    dialog.get_by_label("Approve").check()
    dialog.get_by_label("Reason code").select_option("shared-infrastructure")
    dialog.get_by_role("button", name="Record decision").click()
    expect(dialog).to_be_hidden()
    # Approving labels every account of the action: confirmed, with the reason and the person.
    labels = AccountLabel.objects.filter(account__in=action.accounts.all())
    assert labels.count() == 4
    assert {(x.outcome, x.reason.code, x.source, x.decided_by) for x in labels} == {
        ("confirmed", "shared-infrastructure", "action_approved", approver)
    }
    _deliver(action)
    body = json.loads(receiver.requests[-1]["body"])
    assert body["policy"]["code"] == policy.code and body["duration_days"] == 90

    # The analyst's bell counts two: approved, then delivered; the list opens the case.
    _switch(page, login, analyst)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator(".notif-count")).to_have_text("2")
    page.get_by_role("link", name="Notifications, 2 unread").click()
    items = page.locator("ol.notifications li")
    expect(items.nth(0)).to_contain_text(f"suspension #{action.pk} on case #{case.pk} is delivered")
    expect(items.nth(1)).to_contain_text("april approved your suspension")
    items.nth(0).get_by_role("button").click()
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator(".notif-count")).to_have_text("1")
    page.goto(f"{live_server.url}/cases/notifications/")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator(".notif-count")).to_have_count(0)

    # An appeal upheld for one account: the approver asks, a second approver agrees.
    appealed = action.accounts.order_by("account_id").first()
    _switch(page, login, approver)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    section = page.locator("#case-enforcement")
    section.get_by_role("link", name="Request reversal…").click()
    dialog = page.locator("dialog.enf-modal")
    expect(dialog).to_contain_text("4 accounts can be reversed")
    dialog.get_by_label("Only the accounts I pick (an appeal)").check()
    dialog.get_by_label(appealed.account_id).check()
    dialog.get_by_label("Reason").fill("Appeal: a university lab, verified.")
    if SHOTS:
        dialog.screenshot(path=os.path.join(SHOTS, "appeal-one-account.png"))
    dialog.get_by_role("button", name="Request reversal").click()
    expect(dialog).to_be_hidden()
    reversal = EnforcementAction.objects.get(kind="reverse")
    expect(section.locator(f"#action-{reversal.pk} [data-action-status]")).to_have_text("Proposed")
    expect(section.locator(f"#action-{reversal.pk} h3")).to_contain_text("1 account")

    _switch(page, login, second)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    section = page.locator("#case-enforcement")
    section.locator(f"#action-{reversal.pk}").get_by_role("link", name="Approve or reject…").click()
    dialog = page.locator("dialog.enf-modal")
    dialog.get_by_label("Approve").check()
    dialog.get_by_role("button", name="Record decision").click()
    expect(dialog).to_be_hidden()
    _deliver(reversal)
    expect(section.locator(f"#action-{reversal.pk} [data-action-status]")).to_have_text(
        "Executed", timeout=15_000
    )
    original = section.locator(f"#action-{action.pk}")
    expect(original.locator("[data-action-status]")).to_have_text("Executed")
    expect(original.locator("[data-partly-reversed]")).to_have_text(
        "1 of 4 accounts reversed; the rest stay suspended."
    )
    timeline = page.locator("#case-timeline")
    expect(timeline).to_contain_text(f"asked to reverse suspend #{action.pk} for 1 account")
    expect(timeline).to_contain_text(f"#{action.pk} reversed on 1 account (by #{reversal.pk})")
    statuses = set(
        Account.objects.filter(enforcement_actions=action)
        .exclude(pk=appealed.pk)
        .values_list("platform_status", flat=True)
    )
    assert statuses == {"suspended"}
    assert Account.objects.get(pk=appealed.pk).platform_status == "active"
    # The upheld appeal revises the appealed account's label, keeping the first in history.
    label = AccountLabel.objects.get(account=appealed)
    assert (label.outcome, label.reason.code, label.source, label.decided_by) == (
        "legitimate",
        "reversed-on-appeal",
        "reversal_approved",
        second,
    )
    history = AccountLabelRevision.objects.filter(account=appealed).order_by("pk")
    assert [(r.outcome, r.decided_by) for r in history] == [
        ("confirmed", approver),
        ("legitimate", second),
    ]
    assert json.loads(receiver.requests[-1]["body"])["accounts"] == [appealed.account_id]

    # The analyst who proposed the suspension hears that it was reversed for one account.
    _switch(page, login, analyst)
    page.goto(f"{live_server.url}/cases/notifications/")
    expect(page.locator("ol.notifications li").first).to_contain_text(
        "was reversed for 1 account(s) at april's request"
    )
    expect(page.locator(".notif-count")).to_have_text("1")
    assert console_errors == []
