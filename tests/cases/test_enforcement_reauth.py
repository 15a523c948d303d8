"""Approving an enforcement action asks for the password again when it was last entered
more than REAUTH_MINUTES ago: a session left open is not enough to ban a fleet."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from cases.enforcement.models import EnforcementAction
from cases.enforcement.services import action_propose
from common.auth import AUTHENTICATED_AT
from tests.factories import PASSWORD, enforcement_terms

pytestmark = pytest.mark.django_db
A = EnforcementAction.Status


@pytest.fixture(autouse=True)
def _no_webhook(settings, monkeypatch):
    settings.ENFORCEMENT_WEBHOOK_URL = ""
    settings.REAUTH_MINUTES = 10
    from cases.enforcement.tasks import deliver_outbox_message_task

    monkeypatch.setattr(deliver_outbox_message_task, "apply_async", lambda *a, **kw: None)


@pytest.fixture
def proposal(make_case, analyst):
    case = make_case(accounts=2)
    return action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="fleet")


def _client(user, *, entered_ago: int) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT] = int(time.time()) - entered_ago
    session.save()
    return client


def _decide(client, action, data, **headers):
    url = reverse("cases:action_decide", args=[action.case_id, action.pk])
    return client.post(url, data, headers=headers)


def _status(action) -> str:
    action.refresh_from_db()
    return action.status


def test_a_stale_session_must_enter_the_password_to_approve(approver, proposal, htmx_headers):
    client = _client(approver, entered_ago=11 * 60)
    url = reverse("cases:action_decide", args=[proposal.case_id, proposal.pk])
    form = client.get(url, headers=htmx_headers).content.decode()
    assert 'type="password"' in form and 'name="password"' in form

    response = _decide(client, proposal, {"decision": "approve"}, **htmx_headers)
    assert response.status_code == 200 and "Enter your password to approve" in response.text
    assert _status(proposal) == A.PROPOSED

    response = _decide(client, proposal, {"decision": "approve", "password": "guess"})
    assert response.status_code == 200 and "That is not your password" in response.text
    assert _status(proposal) == A.PROPOSED

    response = _decide(client, proposal, {"decision": "approve", "password": PASSWORD})
    assert response.status_code in (204, 302)
    assert _status(proposal) == A.APPROVED
    # Entered just now: the next approval within the window does not ask again.
    assert 'name="password"' not in client.get(url).content.decode()


def test_a_recent_login_approves_without_asking(approver, proposal):
    client = _client(approver, entered_ago=60)
    url = reverse("cases:action_decide", args=[proposal.case_id, proposal.pk])
    assert 'name="password"' not in client.get(url).content.decode()
    assert _decide(client, proposal, {"decision": "approve"}).status_code in (204, 302)
    assert _status(proposal) == A.APPROVED


def test_rejecting_needs_no_password(approver, proposal):
    client = _client(approver, entered_ago=3600)
    response = _decide(client, proposal, {"decision": "reject", "comment": "not a fleet"})
    assert response.status_code in (204, 302)
    assert _status(proposal) == A.REJECTED


def test_wrong_passwords_count_against_the_login_throttle(settings, approver, proposal):
    settings.AXES_FAILURE_LIMIT = 3
    client = _client(approver, entered_ago=3600)
    codes = [
        _decide(client, proposal, {"decision": "approve", "password": f"guess{n}"}).status_code
        for n in range(3)
    ]
    assert codes[-1] == 429
    # Locked: not even the right password approves now.
    _decide(client, proposal, {"decision": "approve", "password": PASSWORD})
    assert _status(proposal) == A.PROPOSED


def test_someone_who_signs_in_only_through_sso_is_sent_back_to_the_provider_to_approve(
    settings, approver, proposal, htmx_headers
):
    settings.OIDC_ENABLED = True
    approver.set_unusable_password()
    approver.save()
    client = _client(approver, entered_ago=11 * 60)
    url = reverse("cases:action_decide", args=[proposal.case_id, proposal.pk])
    form = client.get(url, headers=htmx_headers).content.decode()
    # No password to enter again: a link to sign in again at the provider, back to the case.
    assert 'name="password"' not in form
    assert f"/oidc/authenticate/?next=/cases/{proposal.case_id}/" in form

    response = _decide(client, proposal, {"decision": "approve"}, **htmx_headers)
    assert response.status_code == 200
    assert "Sign in again through single sign-on to approve" in response.text
    assert _status(proposal) == A.PROPOSED

    # A fresh sign-in (the provider's callback logs in again) lets the approval through.
    client = _client(approver, entered_ago=30)
    assert _decide(client, proposal, {"decision": "approve"}).status_code in (204, 302)
    assert _status(proposal) == A.APPROVED
