"""``no-store`` on every answer to a logged-in user, and idle session expiry that writes the
session at most once a minute."""

import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from common.middleware import IdleSessionMiddleware
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def test_every_page_to_a_logged_in_user_is_no_store(analyst_client, htmx_headers):
    case = CaseFactory()
    for url, headers in [
        ("/cases/", {}),
        ("/cases/", htmx_headers),
        (f"/cases/{case.pk}/", {}),
        (f"/cases/{case.pk}/why/", htmx_headers),
        ("/cases/99999999/", {}),  # a 404 too
    ]:
        response = analyst_client.get(url, headers=headers)
        assert response["Cache-Control"] == "no-store", url


def _session():
    return Session.objects.get()


def test_a_session_idle_past_the_timeout_ends(settings, analyst_client):
    settings.SESSION_COOKIE_AGE = 600
    assert analyst_client.get("/cases/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = analyst_client.get("/cases/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_use_slides_the_expiry_forward_at_most_once_a_minute(settings, analyst_client):
    settings.SESSION_COOKIE_AGE = 600
    analyst_client.get("/cases/")
    # As if the last write was two minutes ago and the session is about to run out.
    session = _session()
    data = session.get_decoded()
    data[IdleSessionMiddleware.KEY] = int(time.time()) - 120
    soon = timezone.now() + timedelta(seconds=30)
    Session.objects.filter(pk=session.pk).update(
        session_data=Session.objects.encode(data), expire_date=soon
    )
    assert analyst_client.get("/cases/").status_code == 200
    extended = _session().expire_date
    assert extended > timezone.now() + timedelta(seconds=500)
    # A second request within the minute does not write the session again.
    Session.objects.update(expire_date=soon)
    assert analyst_client.get("/cases/").status_code == 200
    assert _session().expire_date == soon


def test_the_idle_timeout_comes_from_the_environment():
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = "import dashboard.settings as s; print(s.SESSION_COOKIE_AGE, s.SESSION_ENGINE)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "SESSION_IDLE_MINUTES": "15", "CACHE_URL": "redis://127.0.0.1:1/0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Sessions stay in the database even with a cache configured: a Redis outage must not
    # end (or break) every session.
    assert result.stdout.split() == ["900", "django.contrib.sessions.backends.db"]
