"""Login throttling (django-axes, counted in the database) on the console's login form and the
admin's: per username from any address, per address for any username."""

import pytest
from django.test import Client

from dashboard.roles import ANALYST
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.AXES_FAILURE_LIMIT = 5


def _post(path, username, password, address="203.0.113.7"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def _logged_in(response) -> bool:
    return response.status_code == 302


def test_a_username_is_locked_after_five_failures_even_with_the_right_password(roles):
    UserFactory(username="erin", roles=[ANALYST])
    for n in range(4):
        # A different address each time: the username's own count locks it.
        assert _post(LOGIN, "erin", "wrong", address=f"198.51.100.{n}").status_code == 200
    # The fifth failure locks (and says so).
    assert _post(LOGIN, "erin", "wrong", address="198.51.100.9").status_code == 429
    locked = _post(LOGIN, "erin", PASSWORD, address="192.0.2.1")
    assert locked.status_code == 429 and not _logged_in(locked)
    assert "Too many failed logins" in locked.content.decode()
    assert 'class="login card"' in locked.content.decode()  # the console's own page


def test_an_address_is_locked_after_five_failures_whatever_the_username(roles):
    UserFactory(username="erin", roles=[ANALYST])
    for n in range(5):
        _post(LOGIN, f"guess{n}", "wrong", address="203.0.113.9")
    assert _post(LOGIN, "erin", PASSWORD, address="203.0.113.9").status_code == 429
    # The same user from elsewhere is not locked: the username itself has no failures.
    assert _logged_in(_post(LOGIN, "erin", PASSWORD, address="203.0.113.10"))


def test_the_admin_login_is_throttled_too(roles):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    for _ in range(4):
        assert _post(ADMIN_LOGIN, "root", "wrong").status_code == 200
    assert _post(ADMIN_LOGIN, "root", "wrong").status_code == 429
    assert _post(ADMIN_LOGIN, "root", PASSWORD, address="192.0.2.50").status_code == 429


def test_a_success_before_the_limit_starts_the_count_again(roles):
    UserFactory(username="erin", roles=[ANALYST])
    for _ in range(4):
        _post(LOGIN, "erin", "wrong")
    assert _logged_in(_post(LOGIN, "erin", PASSWORD))
    for _ in range(4):
        _post(LOGIN, "erin", "wrong")
    assert _logged_in(_post(LOGIN, "erin", PASSWORD))


def test_behind_proxies_the_address_is_the_one_the_outermost_trusted_proxy_saw(settings, roles):
    from django.test import RequestFactory

    from common.auth import client_address

    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5", REMOTE_ADDR="10.0.0.1"
    )
    assert client_address(request) == "203.0.113.5"  # the first entry is the client's to forge
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.1"
