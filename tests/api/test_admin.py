"""Tokens in the admin: made with the secret shown once, revoked by an action, audited."""

import re

from api.models import ServiceToken, token_digest
from cases.models import AuditEvent

ADD = "/admin/api/servicetoken/"


def test_an_admin_makes_a_token_sees_it_once_and_it_works(client, admin_user):
    client.force_login(admin_user)
    form = client.get(ADD + "add/")
    assert form.status_code == 200 and b"ingest" in form.content

    response = client.post(
        ADD + "add/",
        {"name": "API gateway", "scopes": ["ingest"], "expires_at_0": "", "expires_at_1": ""},
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    plain = re.search(rb'id="service-token">([^<]+)<', response.content).group(1).decode()
    token = ServiceToken.objects.get()
    assert token.digest == token_digest(plain) and token.scopes == ["ingest"]
    assert token.created_by == admin_user
    assert AuditEvent.objects.filter(verb="api_token.created", actor=admin_user).count() == 1
    page = client.get(f"{ADD}{token.pk}/change/")
    assert page.status_code == 200
    assert plain.encode() not in page.content and token.hint.encode() in page.content
    assert client.get("/api/v1/batches/", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 200


def test_a_token_needs_a_scope_and_an_expiry_to_come(client, admin_user):
    client.force_login(admin_user)
    response = client.post(ADD + "add/", {"name": "nothing"})
    assert response.status_code == 200
    assert b"This field is required" in response.content
    past = client.post(
        ADD + "add/",
        {"name": "old", "scopes": ["read"], "expires_at_0": "2020-01-01", "expires_at_1": "00:00"},
    )
    assert past.status_code == 200 and b"the expiry is in the past" in past.content
    assert not ServiceToken.objects.exists()


def test_the_revoke_action_revokes_and_audits(client, admin_user, make_token):
    token, plain = make_token("read")
    client.force_login(admin_user)

    response = client.post(ADD, {"action": "revoke", "_selected_action": [token.pk]}, follow=True)

    assert response.status_code == 200 and b"1 token(s) revoked" in response.content
    token.refresh_from_db()
    assert token.state == "revoked" and token.revoked_by == admin_user
    assert AuditEvent.objects.filter(verb="api_token.revoked", actor=admin_user).exists()
    assert client.get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 401


def test_tokens_are_neither_edited_nor_deleted(client, admin_user, make_token):
    token, _ = make_token("read")
    client.force_login(admin_user)
    assert client.post(f"{ADD}{token.pk}/change/", {"name": "x"}).status_code == 403
    assert client.post(f"{ADD}{token.pk}/delete/", {"post": "yes"}).status_code == 403
    token.refresh_from_db()
    assert token.name == "gateway"
