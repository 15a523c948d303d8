"""The session engine (dashboard/sessions.py): the session, its user, their permissions and
roles and their unread count in one query, and every way of losing access still working at
the very next request."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Notification
from dashboard.models import Session
from dashboard.roles import ANALYST, MANAGER
from tests.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db

QUEUE = "/cases/"


def _why(case) -> str:
    return f"/cases/{case.pk}/why/"


def _tables(sql: str) -> set[str]:
    return {
        name
        for name in (
            "dashboard_session",
            "django_session",
            "auth_user",
            "auth_permission",
            "auth_user_groups",
            "cases_notification",
        )
        if f'"{name}"' in sql
    }


def test_a_logged_in_request_reads_session_user_permissions_roles_and_unread_in_one_query(
    analyst_client, htmx_headers
):
    case = CaseFactory()
    analyst_client.get(_why(case), headers=htmx_headers)
    with CaptureQueriesContext(connection) as ctx:
        response = analyst_client.get(_why(case), headers=htmx_headers)
    assert response.status_code == 200
    first, *rest = [q["sql"] for q in ctx.captured_queries]
    assert _tables(first) == {
        "dashboard_session",
        "auth_user",
        "auth_permission",
        "auth_user_groups",
        "cases_notification",
    }
    # The rest is the section's own: its case (which may join its assignee).
    assert len(rest) == 1 and not any(_tables(sql) - {"auth_user"} for sql in rest)


def test_the_top_bar_shows_roles_and_the_unread_count_read_with_the_session(
    analyst, analyst_client
):
    other = UserFactory(roles=[ANALYST])
    for read_at in (None, None, "2026-12-01T00:00:00Z"):
        Notification.objects.create(user=analyst, message="mention", read_at=read_at)
    Notification.objects.create(user=other, message="someone else's")
    with CaptureQueriesContext(connection) as ctx:
        content = analyst_client.get("/cases/notifications/").content.decode()
    assert 'aria-label="Notifications, 2 unread"' in content
    assert "ana · analyst" in content
    # No count of its own: the session's query read it.
    counts = [q["sql"] for q in ctx.captured_queries[1:] if "COUNT(" in q["sql"]]
    assert not any("cases_notification" in sql for sql in counts)


def test_the_session_row_names_its_user_and_logging_out_deletes_it(analyst, analyst_client):
    key = analyst_client.cookies[settings.SESSION_COOKIE_NAME].value
    assert Session.objects.get(pk=key).user_id == analyst.pk
    assert analyst_client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(pk=key).exists()
    # The old cookie, replayed, is no session at all.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    response = replay.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_session_deleted_by_hand_ends_at_the_next_request(analyst_client):
    assert analyst_client.get(QUEUE).status_code == 200
    Session.objects.all().delete()
    response = analyst_client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_expired_session_ends_at_the_next_request(analyst_client):
    assert analyst_client.get(QUEUE).status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = analyst_client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_deactivated_user_is_logged_out_at_the_next_request(analyst, analyst_client):
    assert analyst_client.get(QUEUE).status_code == 200
    analyst.is_active = False
    analyst.save()
    response = analyst_client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_changed_password_ends_other_sessions(analyst, analyst_client):
    assert analyst_client.get(QUEUE).status_code == 200
    analyst.set_password("a new and long passphrase")
    analyst.save()
    response = analyst_client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_removed_role_is_refused_at_the_next_request(analyst, analyst_client, htmx_headers):
    case = CaseFactory()
    assert analyst_client.get(_why(case), headers=htmx_headers).status_code == 200
    analyst.groups.remove(Group.objects.get(name=ANALYST))
    assert analyst_client.get(_why(case), headers=htmx_headers).status_code == 403
    assert analyst_client.get(QUEUE).status_code == 403


def test_a_permission_taken_from_a_role_is_refused_at_the_next_request(analyst_client):
    assert analyst_client.get(QUEUE).status_code == 200
    Group.objects.get(name=ANALYST).permissions.remove(
        Permission.objects.get(codename="view_case", content_type__app_label="cases")
    )
    assert analyst_client.get(QUEUE).status_code == 403


def test_a_role_given_shows_at_the_next_request(roles):
    user = UserFactory(username="newcomer")
    client = Client()
    client.force_login(user)
    assert client.get(QUEUE).status_code == 403
    user.groups.add(Group.objects.get(name=MANAGER))
    content = client.get(QUEUE).content.decode()
    assert "newcomer · manager" in content


def test_a_superuser_gets_every_permission(roles):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    content = client.get(QUEUE).content.decode()
    assert 'href="/admin/"' in content and 'href="/cases/approvals/"' in content


def test_the_session_query_is_prepared_once_per_connection(analyst_client, htmx_headers):
    case = CaseFactory()
    for _ in range(3):
        assert analyst_client.get(_why(case), headers=htmx_headers).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%"dashboard_session"%'],
        )
        assert cursor.fetchone()[0] == 1


def test_without_prepared_statements_the_same_one_query(settings, analyst_client, htmx_headers):
    settings.PREPARE_SESSION_QUERY = False
    case = CaseFactory()
    with CaptureQueriesContext(connection) as ctx:
        response = analyst_client.get(_why(case), headers=htmx_headers)
    assert response.status_code == 200
    assert len(ctx.captured_queries) == 2
    assert "dashboard_session" in ctx.captured_queries[0]["sql"]
