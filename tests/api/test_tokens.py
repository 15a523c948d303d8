"""Tokens: hashed, scoped, expiring, revocable, and audited when made and revoked."""

from datetime import timedelta

from django.utils import timezone

from api import services
from api.models import ServiceToken, token_digest
from cases.models import AuditEvent
from tests.api.conftest import client_with

CASES = "/api/v1/cases/"


def test_only_the_digest_is_stored_and_the_creation_is_audited(make_token, admin_user):
    token, plain = make_token("read", "ingest")

    assert plain.startswith("dcapi_") and len(plain) > 40
    stored = ServiceToken.objects.get(pk=token.pk)
    assert stored.digest == token_digest(plain) and plain not in str(stored.__dict__)
    event = AuditEvent.objects.get(verb="api_token.created")
    assert event.actor == admin_user and event.target_id == str(token.pk)
    assert event.data["scopes"] == ["ingest", "read"]
    assert plain not in str(event.data)


def test_no_token_a_wrong_one_or_a_malformed_header_is_401(db):
    assert client_with("nope").get(CASES).status_code == 401
    anonymous = client_with("x")
    anonymous.credentials()
    response = anonymous.get(CASES)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    bad = client_with("a b")
    assert bad.get(CASES).status_code == 401


def test_a_token_without_the_scope_is_refused(make_token):
    _, plain = make_token("ingest")
    response = client_with(plain).get(CASES)
    assert response.status_code == 403
    assert "read" in response.json()["detail"]


def test_an_expired_token_is_refused(make_token):
    _, plain = make_token("read", expires_at=timezone.now() - timedelta(seconds=1))
    response = client_with(plain).get(CASES)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_revoked_token_is_refused_and_the_revocation_audited_once(make_token, admin_user):
    token, plain = make_token("read")
    client = client_with(plain)
    assert client.get(CASES).status_code == 200

    assert services.token_revoke(token=token, by=admin_user)
    assert not services.token_revoke(token=token, by=admin_user)

    response = client.get(CASES)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert AuditEvent.objects.filter(verb="api_token.revoked").count() == 1


def test_use_is_noted_on_the_token(make_token):
    token, plain = make_token("read")
    client_with(plain).get(CASES)
    token.refresh_from_db()
    assert token.last_used_at is not None
