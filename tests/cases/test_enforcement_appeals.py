"""Per-account reversal (an appeal upheld for some accounts): four eyes, audited, delivered to
the platform and the ban list for those accounts only, while the rest stay banned."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from cases.enforcement import banlist
from cases.enforcement.models import EnforcementAction
from cases.enforcement.services import (
    action_decide,
    action_propose,
    action_request_reversal,
    reversible_accounts,
)
from cases.models import AuditEvent, Case, Notification
from detection.models import Account
from tests.cases.test_enforcement_reversal import deliver_all, receiver  # noqa: F401 (fixture)
from tests.factories import enforcement_terms

pytestmark = pytest.mark.django_db
A = EnforcementAction.Status


@pytest.fixture
def executed_ban(receiver, make_case, analyst, approver):  # noqa: F811 (fixture)
    case = make_case(accounts=3)
    ban = action_propose(case=case, by=analyst, kind="ban", reason="fleet", **enforcement_terms())
    action_decide(action=ban, by=approver, approve=True)
    deliver_all(ban)
    ban.refresh_from_db()
    assert ban.status == A.EXECUTED
    return ban


def _accounts(ban) -> list[Account]:
    return list(ban.accounts.order_by("account_id"))


def test_reversing_one_account_leaves_the_rest_banned(
    executed_ban,
    receiver,  # noqa: F811 (the fixture imported above)
    analyst2,
    approver2,
    analyst,
):
    ban = executed_ban
    appealed, *others = _accounts(ban)
    reversal = action_request_reversal(
        action=ban, by=analyst2, reason="Customer appeal upheld", account_ids=[appealed.pk]
    )
    event = AuditEvent.objects.get(verb="action.reversal_requested")
    assert event.data["accounts"] == 1 and event.data["all_accounts"] is False
    assert event.data["account_ids"] == [appealed.account_id]
    # The same account cannot be asked for twice while that request is live.
    with pytest.raises(ValidationError, match="already requested"):
        action_request_reversal(action=ban, by=analyst2, reason="again", account_ids=[appealed.pk])
    assert [pk for pk, _ in reversible_accounts(ban)] == [a.pk for a in others]

    action_decide(action=reversal, by=approver2, approve=True)
    deliver_all(reversal)
    ban.refresh_from_db()
    reversal.refresh_from_db()
    assert reversal.status == A.EXECUTED
    assert ban.status == A.EXECUTED  # still in force on the other two
    statuses = dict(
        Account.objects.filter(pk__in=[a.pk for a in _accounts(ban)]).values_list(
            "account_id", "platform_status"
        )
    )
    assert statuses == {appealed.account_id: "active", **{a.account_id: "banned" for a in others}}
    assert [r["account_id"] for r in banlist.current_rows()] == [a.account_id for a in others]
    assert Case.objects.get(pk=ban.case_id).status == Case.Status.ACTIONED

    body = json.loads(receiver.requests[-1]["body"])
    assert body["action"] == "reverse" and body["accounts"] == [appealed.account_id]
    assert body["reverses"]["action_id"] == ban.pk and body["reverses"]["all_accounts"] is False
    assert body["policy"]["code"] == "usage-distillation" and body["duration_days"] is None
    assert AuditEvent.objects.get(verb="action.reversed").data["all_accounts"] is False
    # The ban's proposer hears that it was reversed for one account, and why.
    told = Notification.objects.filter(user=analyst).first().message
    assert f"ban #{ban.pk}" in told and "reversed for 1 account(s)" in told
    assert "Customer appeal upheld" in told

    # Reversing the rest later makes the ban reversed as a whole, and the case reopens.
    rest = action_request_reversal(action=ban, by=analyst2, reason="whole fleet cleared")
    assert rest.accounts.count() == 2
    action_decide(action=rest, by=approver2, approve=True)
    deliver_all(rest)
    ban.refresh_from_db()
    assert ban.status == A.REVERSED
    assert list(banlist.current_rows()) == []
    assert Case.objects.get(pk=ban.case_id).status == Case.Status.INVESTIGATING
    with pytest.raises(ValidationError, match="only an executed"):
        action_request_reversal(action=ban, by=analyst2, reason="again")


def test_a_rejected_appeal_can_be_asked_again_and_foreign_accounts_are_refused(
    executed_ban, analyst2, approver2
):
    ban = executed_ban
    first = _accounts(ban)[0]
    with pytest.raises(ValidationError, match="not under this action"):
        action_request_reversal(
            action=ban,
            by=analyst2,
            reason="r",
            account_ids=[
                Account.objects.create(account_id="stranger", created_at=first.created_at).pk
            ],
        )
    with pytest.raises(ValidationError, match="pick at least one"):
        action_request_reversal(action=ban, by=analyst2, reason="r", account_ids=[])
    appeal = action_request_reversal(action=ban, by=analyst2, reason="r", account_ids=[first.pk])
    action_decide(action=appeal, by=approver2, approve=False, comment="evidence stands")
    again = action_request_reversal(
        action=ban, by=analyst2, reason="new facts", account_ids=[first.pk]
    )
    assert again.status == A.PROPOSED


def test_the_reversal_form_picks_accounts_and_the_page_shows_the_partial_reversal(
    executed_ban, analyst2, approver2
):
    ban = executed_ban
    appealed = _accounts(ban)[1]
    url = reverse("cases:action_reverse", args=[ban.case_id, ban.pk])
    client = Client()
    client.force_login(analyst2)
    form = client.get(url).content.decode()
    assert "3 accounts can be reversed" in form and appealed.account_id in form
    response = client.post(url, {"scope": "selected", "picked": [appealed.pk], "reason": "appeal"})
    assert response.status_code == 302
    reversal = EnforcementAction.objects.get(kind="reverse")
    assert list(reversal.accounts.values_list("pk", flat=True)) == [appealed.pk]
    action_decide(action=reversal, by=approver2, approve=True)
    deliver_all(reversal)
    section = client.get(reverse("cases:case_enforcement", args=[ban.case_id])).content.decode()
    assert "1 of 3 accounts reversed; the rest stay banned." in section
    assert "Request reversal…" in section  # two accounts are still under the ban
    # Nothing picked: the form says so and nothing is requested.
    again = client.post(url, {"scope": "selected", "reason": "appeal"})
    assert again.status_code == 200 and "Pick at least one account" in again.content.decode()
    assert EnforcementAction.objects.filter(kind="reverse").count() == 1
