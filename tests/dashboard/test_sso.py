"""Single sign-on's parts that need no provider: the claim to roles, the login page's
switches, and the SSO URLs when it is not configured (the journey is tests/e2e)."""

import pytest

from dashboard.sso import roles_from_claims
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso(settings):
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = "console"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://idp.example/authorize"
    settings.OIDC_ROLES_CLAIM = "groups"
    settings.OIDC_ROLE_MAP = {"ts-analysts": "analyst", "ts-leads": "approver"}
    settings.OIDC_ADMIN_VALUES = ["ts-admins"]
    settings.OIDC_PROVIDER_NAME = "Okta"
    return settings


@pytest.mark.parametrize(
    ("claim", "roles", "admin"),
    [
        (["ts-analysts", "everyone"], {"analyst"}, False),
        (["ts-leads", "ts-analysts"], {"analyst", "approver"}, False),
        ("manager", {"manager"}, False),  # a role's own name, as one string
        (["ts-admins"], set(), True),
        (["superuser", 7, None], set(), False),  # nothing else becomes a role
        (None, set(), False),
    ],
)
def test_the_claim_maps_to_roles(sso, claim, roles, admin):
    assert roles_from_claims({"groups": claim}) == (roles, admin)


def test_roles_follow_the_claim_at_every_sign_in(sso, roles):
    from django.contrib.auth.models import Group

    from dashboard.sso import RoleMappingBackend

    backend = RoleMappingBackend()
    claims = {"email": "a@corp.example", "preferred_username": "ann", "groups": ["ts-leads"]}
    user = backend.create_user(claims)
    extra = Group.objects.create(name="newsletter")
    user.groups.add(extra)
    assert sorted(user.groups.values_list("name", flat=True)) == ["approver", "newsletter"]
    backend.update_user(user, {**claims, "groups": ["ts-analysts"]})
    assert sorted(user.groups.values_list("name", flat=True)) == ["analyst", "newsletter"]
    assert user.username == "ann" and not user.has_usable_password()
    assert not backend.verify_claims({"email": "a@corp.example", "groups": ["nope"]})
    assert not backend.verify_claims(
        {"email": "a@corp.example", "email_verified": False, "groups": ["ts-leads"]}
    )


def test_the_login_page_offers_sso_beside_the_password_form(sso, client):
    page = client.get("/accounts/login/?next=/cases/").content.decode()
    assert 'href="/oidc/authenticate/?next=/cases/"' in page
    assert "Sign in with Okta" in page and 'name="password"' in page


def test_with_passwords_off_the_form_is_gone_and_a_posted_password_is_refused(sso, client, roles):
    sso.PASSWORD_LOGIN = False
    UserFactory(username="erin")
    page = client.get("/accounts/login/").content.decode()
    assert 'name="password"' not in page and "Sign in with Okta" in page
    response = client.post("/accounts/login/", {"username": "erin", "password": PASSWORD})
    assert response.status_code == 302 and "_auth_user_id" not in client.session
    follow = client.get(response["Location"]).content.decode()
    assert "Sign-in with a password is switched off" in follow
    admin = client.get("/admin/login/?next=/admin/")
    assert admin.status_code == 302 and admin["Location"] == "/accounts/login/?next=/admin/"


def test_without_sso_configured_its_urls_do_not_exist_and_the_page_is_as_before(client):
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with" not in page and 'name="password"' in page


def test_the_sso_start_sends_the_browser_to_the_provider(sso, client):
    response = client.get("/oidc/authenticate/?next=/cases/")
    assert response.status_code == 302
    assert response["Location"].startswith("https://idp.example/authorize?")
    assert "client_id=console" in response["Location"]
    assert "code_challenge=" in response["Location"]
