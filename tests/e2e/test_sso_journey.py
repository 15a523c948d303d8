"""Single sign-on, end to end: Chromium, the console's live server, and a real OpenID
Connect provider (django-oauth-toolkit, tests/oidc_provider) in a process of its own.

Nothing is mocked: the browser follows the redirects, the provider checks its own password,
signs an ID token with its own key, the console fetches the token, checks the signature
against the provider's published keys and reads the groups from its userinfo endpoint."""

import os
import socket
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.oidc_provider.serve import CLIENT_ID, CLIENT_SECRET, PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def provider(live_server, tmp_path, settings):
    """The provider, running, and the console configured to sign in through it."""
    port = _free_port()
    callback = f"{live_server.url}/oidc/callback/"
    env = {**os.environ, "IDP_DATABASE": str(tmp_path / "idp.sqlite3"), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.oidc_provider.serve", str(port), callback],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", line + proc.stdout.read()
        base = f"http://127.0.0.1:{port}/o"
        settings.OIDC_ENABLED = True
        settings.OIDC_RP_CLIENT_ID = CLIENT_ID
        settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{base}/authorize/"
        settings.OIDC_OP_TOKEN_ENDPOINT = f"{base}/token/"
        settings.OIDC_OP_USER_ENDPOINT = f"{base}/userinfo/"
        settings.OIDC_OP_JWKS_ENDPOINT = f"{base}/.well-known/jwks.json"
        settings.OIDC_PROVIDER_NAME = "Corp SSO"
        settings.OIDC_ROLE_MAP = {"console-approvers": "approver", "console-analysts": "analyst"}
        settings.AUTHENTICATION_BACKENDS = [
            *settings.AUTHENTICATION_BACKENDS,
            "dashboard.sso.RoleMappingBackend",
        ]
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _sign_in_at_provider(page, username):
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Provider password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in to the provider").click()


def test_a_person_signs_in_through_the_provider_and_lands_with_the_role_from_the_claim(
    page, live_server, provider, console_errors
):
    from dashboard.roles import ensure_roles

    ensure_roles()
    page.goto(f"{live_server.url}/cases/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/cases/")
    page.get_by_role("link", name="Sign in with Corp SSO").click()
    assert page.url.startswith(provider.removesuffix("/o") + "/accounts/login/")
    _sign_in_at_provider(page, "olivia")

    # Back on the console, on the page asked for, as an approver (console-approvers).
    expect(page).to_have_url(f"{live_server.url}/cases/")
    expect(page.get_by_text("olivia · approver")).to_be_visible()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="olivia")
    assert user.email == "olivia@corp.example"
    assert not user.has_usable_password()
    assert user.has_perm("cases.approve_action") and not user.is_staff
    assert console_errors == []


def test_a_person_whose_groups_map_to_no_role_is_not_let_in(page, live_server, provider):
    from dashboard.roles import ensure_roles

    ensure_roles()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Corp SSO").click()
    _sign_in_at_provider(page, "nadia")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.get_by_text("Single sign-on did not let you in")).to_be_visible()
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(email="nadia@corp.example").exists()


def test_with_password_login_off_only_single_sign_on_is_offered(
    page, live_server, provider, settings
):
    from dashboard.roles import ensure_roles

    ensure_roles()
    settings.PASSWORD_LOGIN = False
    page.goto(f"{live_server.url}/admin/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/admin/")
    expect(page.get_by_label("Password")).to_have_count(0)
    page.get_by_role("link", name="Sign in with Corp SSO").click()
    _sign_in_at_provider(page, "olivia")
    expect(page.get_by_text("olivia · approver")).to_be_visible()
