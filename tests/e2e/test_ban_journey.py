"""The ban journey in a real browser: an analyst proposes a campaign-wide ban from the case
page, a second person (an approver) approves it from the approvals queue, delivery reaches a
real webhook receiver on localhost, and the case shows actioned with the whole history."""

import json
import os

import pytest
from playwright.sync_api import expect

from cases.enforcement.models import EnforcementAction, OutboxMessage
from cases.enforcement.services import outbox_deliver
from cases.evidence.services import evidence_snapshot_collect
from cases.models import Case, EvidenceSnapshot
from tests.cases.test_enforcement_delivery import SECRET, Receiver
from tests.cases.test_evidence_fixtures import make_campaign
from tests.e2e.conftest import choose_terms
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("E2E_SCREENSHOTS", "")


def _shot(locator, name: str) -> None:
    if SHOTS:
        locator.screenshot(path=os.path.join(SHOTS, f"{name}.png"))


@pytest.fixture
def receiver(settings, monkeypatch):
    from cases.enforcement.tasks import deliver_outbox_message_task

    # No worker in this test: the deliveries are run by hand between the steps below.
    monkeypatch.setattr(deliver_outbox_message_task, "apply_async", lambda *a, **kw: None)
    r = Receiver().start()
    settings.ENFORCEMENT_WEBHOOK_URL = r.url
    settings.ENFORCEMENT_WEBHOOK_SECRET = SECRET
    yield r
    r.stop()


def test_analyst_proposes_approver_approves_case_actioned(
    page, live_server, login, console_errors, receiver, enforcement_lists
):
    from dashboard.roles import ANALYST, APPROVER, ensure_roles

    ensure_roles()
    analyst = UserFactory(username="ana", roles=[ANALYST])
    approver = UserFactory(username="april", roles=[APPROVER])
    case, _, _ = make_campaign(6, days=2)
    Case.objects.filter(pk=case.pk).update(status=Case.Status.INVESTIGATING)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == "done"

    # The analyst proposes a ban of the whole fleet from the case page.
    login(analyst)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    section = page.locator("#case-enforcement")
    expect(section.get_by_text("No action has been proposed")).to_be_visible()
    section.get_by_role("link", name="Propose an action…").click()
    dialog = page.locator("dialog.enf-modal")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Blast radius")).to_be_visible()
    expect(dialog.locator(".lookalikes")).to_contain_text("organisation")  # shared org warning
    # The account picker shows only when the proposal is on a selection.
    picker = dialog.locator(".field-picked")
    expect(picker).to_be_hidden()
    dialog.get_by_label("Only the accounts I pick").check()
    expect(picker).to_be_visible()
    dialog.get_by_label("All accounts on the case").check()
    expect(picker).to_be_hidden()
    # Every account declares the one organisation: all look-alikes, so left out by default;
    # the analyst includes them and says why.
    expect(dialog.locator(".excluded-lookalikes")).to_contain_text("6 look-alikes")
    dialog.get_by_label("Include the 6 look-alikes").check()
    dialog.get_by_label("Why the look-alikes belong in this action").fill(
        "The organisation is the fleet's own: every account of it is on this case."
    )
    dialog.get_by_label("Ban").check()
    choose_terms(dialog)
    dialog.get_by_label("Reason").fill("Six accounts, one card, one shift: a harvesting fleet.")
    _shot(dialog, "ban-propose")
    dialog.get_by_role("button", name="Propose").click()
    expect(dialog).to_be_hidden()
    expect(section.locator("[data-action-status]")).to_have_text("Proposed")
    expect(section.locator(".pinned-evidence")).to_contain_text(f"snapshot #{snapshot.pk}")
    expect(page.locator("#case-header .badge.status-pending_approval")).to_be_visible()
    expect(section.get_by_text("another approver must decide")).to_be_visible()
    expect(section.get_by_role("link", name="Approve or reject…")).to_have_count(0)
    action = EnforcementAction.objects.get(case=case)
    assert action.accounts.count() == 6 and action.snapshot_id == snapshot.pk

    # The approver finds it in the approvals queue and approves it with a comment.
    page.get_by_role("button", name="Log out").click()
    login(approver)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    row = page.locator(f'tr[data-action="{action.pk}"]')
    expect(row).to_contain_text("6")
    row.get_by_role("link", name="Decide…").click()
    dialog = page.locator("dialog.enf-modal")
    expect(dialog).to_contain_text("Six accounts, one card")
    dialog.get_by_label("Approve").check()
    dialog.get_by_label("Comment").fill("Evidence is clear.")
    _shot(dialog, "ban-decide")
    dialog.get_by_role("button", name="Record decision").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f'tr[data-action="{action.pk}"]')).to_have_count(0)

    # Delivery (a Celery worker in production) runs now; the case page catches up by itself.
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    section = page.locator("#case-enforcement")
    expect(section.locator("[data-action-status]")).to_have_text("Approved, delivering")
    for message in OutboxMessage.objects.filter(action=action):
        assert outbox_deliver(message_id=message.pk) == "delivered"
    expect(section.locator("[data-action-status]")).to_have_text("Executed", timeout=15_000)
    expect(page.locator("#case-header .badge.status-actioned")).to_be_visible()
    expect(section.locator(".delivery-delivered")).to_have_count(2)
    timeline = page.locator("#case-timeline")
    n = action.pk
    for line in (f"proposed ban #{n} on 6 accounts", f"approved ban #{n}", f"ban #{n} in force"):
        expect(timeline.get_by_text(line).first).to_be_visible()
    _shot(section, "ban-executed")

    assert len(receiver.requests) == 1 and receiver.requests[0]["signed"]
    body = json.loads(receiver.requests[0]["body"])
    assert body["idempotency_key"] == str(action.idempotency_key) and body["account_count"] == 6
    assert console_errors == []
