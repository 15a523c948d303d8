"""The whole life of a ban against a real receiver on localhost: proposed, approved by a second
person, delivered signed and once, then reversed by two other people and delivered the same
way; every step is on the case timeline as the page renders it."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from cases.enforcement.models import EnforcementAction, OutboxMessage
from cases.enforcement.services import (
    action_decide,
    action_propose,
    action_request_reversal,
    outbox_deliver,
)
from cases.models import Case
from detection.models import Account
from tests.cases.test_enforcement_delivery import SECRET, Receiver
from tests.factories import enforcement_terms

pytestmark = pytest.mark.django_db
A = EnforcementAction.Status


@pytest.fixture
def receiver(settings, monkeypatch):
    from cases.enforcement.tasks import deliver_outbox_message_task

    # No worker: each delivery is run by hand, so the test sees every step.
    monkeypatch.setattr(deliver_outbox_message_task, "apply_async", lambda *a, **kw: None)
    r = Receiver().start()
    settings.ENFORCEMENT_WEBHOOK_URL = r.url
    settings.ENFORCEMENT_WEBHOOK_SECRET = SECRET
    settings.ENFORCEMENT_WEBHOOK_TIMEOUT = 2
    yield r
    r.stop()


def deliver_all(action) -> None:
    for pk in OutboxMessage.objects.filter(action=action).values_list("pk", flat=True):
        assert outbox_deliver(message_id=pk) == "delivered"


def test_ban_and_its_reversal_reach_the_receiver_signed_once_each_and_show_on_the_timeline(
    receiver, make_case, analyst, approver, approver2, manager
):
    case = make_case(accounts=3)
    accounts = sorted(
        Account.objects.filter(case_links__case=case).values_list("account_id", flat=True)
    )

    ban = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="Harvesting fleet"
    )
    with pytest.raises(PermissionDenied):
        action_decide(action=ban, by=analyst, approve=True)
    action_decide(action=ban, by=approver, approve=True, comment="Clear evidence")
    deliver_all(ban)
    ban.refresh_from_db()
    assert ban.status == A.EXECUTED
    assert set(ban.accounts.values_list("platform_status", flat=True)) == {"banned"}

    # The approver who approved the ban asks for its reversal; they cannot approve that.
    reversal = action_request_reversal(action=ban, by=approver, reason="Customer proved identity")
    with pytest.raises(PermissionDenied):
        action_decide(action=reversal, by=approver, approve=True)
    assert set(ban.accounts.values_list("platform_status", flat=True)) == {"banned"}
    action_decide(action=reversal, by=approver2, approve=True, comment="Agreed")
    deliver_all(reversal)

    ban.refresh_from_db()
    reversal.refresh_from_db()
    case.refresh_from_db()
    assert (ban.status, reversal.status) == (A.REVERSED, A.EXECUTED)
    assert set(ban.accounts.values_list("platform_status", flat=True)) == {"active"}
    assert case.status == Case.Status.INVESTIGATING

    # The receiver saw two requests, both signed, each with its own stable key, once each.
    assert [r["signed"] for r in receiver.requests] == [True, True]
    ban_body, reversal_body = (json.loads(r["body"]) for r in receiver.requests)
    assert [r["key"] for r in receiver.requests] == [
        str(ban.idempotency_key),
        str(reversal.idempotency_key),
    ]
    assert dict(receiver.applied) == {str(ban.idempotency_key): 1, str(reversal.idempotency_key): 1}
    assert (ban_body["action"], ban_body["platform_status"]) == ("ban", "banned")
    assert (reversal_body["action"], reversal_body["platform_status"]) == ("reverse", "active")
    assert reversal_body["reverses"]["idempotency_key"] == str(ban.idempotency_key)
    assert ban_body["accounts"] == reversal_body["accounts"] == accounts
    assert (reversal_body["proposed_by"], reversal_body["approved_by"]) == ("april", "aaron")

    # Every step is on the case timeline (newest first), as a manager reading it sees it.
    client = Client()
    client.force_login(manager)
    html = client.get(reverse("cases:case_timeline", args=[case.pk])).content.decode()
    b, r = ban.pk, reversal.pk
    steps = [
        f"proposed ban #{b} on 3 accounts",
        "to Pending approval",
        f"approved ban #{b}",
        f"#{b} delivered to webhook (HTTP 200)",
        f"ban #{b} in force on 3 accounts",
        "moved from Pending approval to Actioned",
        f"asked to reverse ban #{b} (reversal #{r})",
        f"approved reversal #{r} of #{b}",
        f"ban #{b} reversed on 3 accounts (by #{r})",
        "reopened from Actioned to Investigating",
    ]
    positions = [html.rfind(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p < 0]
    assert positions == sorted(positions, reverse=True)  # newest first, in the order they ran
    for who in ("ana", "april", "aaron"):
        assert f'<span class="actor">{who}</span>' in html
    assert "Customer proved identity" in html


WEBHOOK = {"action": 7, "backend": "webhook"}
NEXT = "2026-11-30T03:00:00+00:00"
STEPS = [
    (
        "action.superseded",
        {"action": 4, "by_action": 7, "kind": "suspend"},
        "suspend #4 replaced by #7",
    ),
    (
        "action.proposed",
        {"action": 7, "kind": "rate_limit", "accounts": 1, "supersedes": 4},
        "proposed rate-limit #7 on 1 account, replacing #4",
    ),
    ("action.rejected", {"action": 7, "kind": "ban", "reason": "weak"}, "rejected ban #7"),
    (
        "action.delivery_failed",
        {**WEBHOOK, "attempt": 2, "next_attempt_at": NEXT},
        "delivery of #7 to webhook failed, attempt 2, will retry",
    ),
    (
        "action.delivery_dead_lettered",
        {**WEBHOOK, "attempts": 8},
        "delivery of #7 to webhook gave up after 8 attempts",
    ),
    ("action.delivery_retried", WEBHOOK, "delivery of #7 to webhook retried by hand"),
    ("action.something_new", {"action": 7}, "action: something new"),
]


@pytest.mark.parametrize(("verb", "data", "line"), STEPS)
def test_each_enforcement_step_reads_as_a_sentence_on_the_timeline(verb, data, line):
    from types import SimpleNamespace

    from cases.templatetags.cases_extras import describe_event

    assert describe_event(SimpleNamespace(verb=verb, data=data)) == line
