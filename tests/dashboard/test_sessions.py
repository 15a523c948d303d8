"""Logging in and out on Django's own sessions and ``ModelBackend``: access is decided afresh
at every request, so every way of losing it works at the very next one. The settings keep
sessions in the database (tests/common/test_middleware.py checks that a cache does not change
that); ``cached_db`` is still exercised here for anyone who chooses it."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from cases.models import Notification
from dashboard.roles import ANALYST, MANAGER
from tests.factories import PASSWORD, CaseFactory, UserFactory

pytestmark = pytest.mark.django_db

QUEUE = "/cases/"
DB = "django.contrib.sessions.backends.db"
CACHED_DB = "django.contrib.sessions.backends.cached_db"


@pytest.fixture(params=[DB, CACHED_DB], ids=["db", "cached_db"])
def engine(request, settings):
    """The settings' session engine, and ``cached_db``; clients are made after it is set."""
    settings.SESSION_ENGINE = request.param
    return request.param


@pytest.fixture
def logged_in(engine, roles):
    """A client logged in as an analyst under ``engine``, and that analyst."""
    user = UserFactory(username="ana", roles=[ANALYST])
    client = Client()
    client.force_login(user)
    return client, user


def _sent_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_login_form_logs_in_and_returns_to_the_page_asked_for(engine, roles):
    UserFactory(username="erin", roles=[ANALYST])
    client = Client()
    assert _sent_to_login(client.get(QUEUE))
    response = client.post(
        f"/accounts/login/?next={QUEUE}", {"username": "erin", "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == QUEUE
    assert client.get(QUEUE).status_code == 200


def test_a_wrong_password_does_not_log_in(engine, roles):
    UserFactory(username="erin", roles=[ANALYST])
    client = Client()
    response = client.post("/accounts/login/", {"username": "erin", "password": "wrong"})
    assert response.status_code == 200
    assert _sent_to_login(client.get(QUEUE))


def test_logging_out_ends_the_session_and_its_cookie_cannot_be_replayed(logged_in):
    client, _ = logged_in
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert client.get(QUEUE).status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(pk=key).exists()
    replay = Client()
    replay.cookies[django_settings.SESSION_COOKIE_NAME] = key
    assert _sent_to_login(replay.get(QUEUE))


def test_a_deactivated_user_is_logged_out_at_the_next_request(logged_in):
    client, user = logged_in
    assert client.get(QUEUE).status_code == 200
    user.is_active = False
    user.save()
    assert _sent_to_login(client.get(QUEUE))


def test_a_changed_password_ends_other_sessions(logged_in):
    client, user = logged_in
    assert client.get(QUEUE).status_code == 200
    user.set_password("a new and long passphrase")
    user.save()
    assert _sent_to_login(client.get(QUEUE))


def test_a_removed_role_is_refused_at_the_next_request(logged_in, htmx_headers):
    client, user = logged_in
    why = f"/cases/{CaseFactory().pk}/why/"
    assert client.get(why, headers=htmx_headers).status_code == 200
    user.groups.remove(Group.objects.get(name=ANALYST))
    assert client.get(why, headers=htmx_headers).status_code == 403
    assert client.get(QUEUE).status_code == 403


def test_a_permission_taken_from_a_role_is_refused_at_the_next_request(logged_in):
    client, _ = logged_in
    assert client.get(QUEUE).status_code == 200
    Group.objects.get(name=ANALYST).permissions.remove(
        Permission.objects.get(codename="view_case", content_type__app_label="cases")
    )
    assert client.get(QUEUE).status_code == 403


def test_a_role_given_shows_at_the_next_request(engine, roles):
    user = UserFactory(username="newcomer")
    client = Client()
    client.force_login(user)
    assert client.get(QUEUE).status_code == 403
    user.groups.add(Group.objects.get(name=MANAGER))
    assert "newcomer · manager" in client.get(QUEUE).content.decode()


def test_a_superuser_gets_every_permission(roles):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    content = client.get(QUEUE).content.decode()
    assert 'href="/admin/"' in content and 'href="/cases/approvals/"' in content


def test_the_top_bar_shows_the_roles_and_the_unread_count(analyst, analyst_client):
    other = UserFactory(roles=[ANALYST])
    for read_at in (None, None, "2026-12-01T00:00:00Z"):
        Notification.objects.create(user=analyst, message="mention", read_at=read_at)
    Notification.objects.create(user=other, message="someone else's")
    content = analyst_client.get("/cases/notifications/").content.decode()
    assert 'aria-label="Notifications, 2 unread"' in content
    assert "ana · analyst" in content


def test_a_session_deleted_in_the_database_ends_at_the_next_request(analyst_client):
    assert django_settings.SESSION_ENGINE == DB
    assert analyst_client.get(QUEUE).status_code == 200
    Session.objects.all().delete()
    assert _sent_to_login(analyst_client.get(QUEUE))


def test_an_expired_session_ends_at_the_next_request(analyst_client):
    assert django_settings.SESSION_ENGINE == DB
    assert analyst_client.get(QUEUE).status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert _sent_to_login(analyst_client.get(QUEUE))


def test_logged_in_pages_keep_working_while_redis_is_down(settings, roles):
    """The settings' sessions are in the database, so a cache that does not answer (Redis
    stopped) costs the queue its cached choice lists, never a logged-in page."""
    from dashboard.settings import SESSION_ENGINE

    settings.SESSION_ENGINE = SESSION_ENGINE
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    UserFactory(username="erin", roles=[ANALYST])
    client = Client()
    response = client.post(
        f"/accounts/login/?next={QUEUE}", {"username": "erin", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(QUEUE).status_code == 200
    assert client.get(f"/cases/{CaseFactory().pk}/").status_code == 200
