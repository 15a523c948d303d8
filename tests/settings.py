"""Settings for the test suite: the app's own, read from the environment as in production,
with what a test run needs pinned here rather than decided by whoever runs it.

pytest uses this module (``DJANGO_SETTINGS_MODULE`` in pyproject's pytest options) and passes
it on through the environment to the processes tests start (a Celery worker, ``manage.py``).
"""

import os

# The app refuses to start on its built-in key unless DEBUG is on, and a test run need not
# have DEBUG on (no .env, or one without it): tests use a key of their own. Set before the
# app's settings read it, and inherited by the processes tests start.
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)

# Each pytest-xdist worker gets a Redis database of its own, as pytest-django gives it a test
# database of its own: a test's real Celery worker must not take tasks that a test in the
# other process queued. Done once per worker process: the processes a test starts inherit
# the worker's name and its broker, and must not move on again.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_broker = os.environ.get("CELERY_BROKER_URL", "")
if (
    _xdist_worker.startswith("gw")
    and _broker.startswith(("redis://", "rediss://"))
    and os.environ.get("TEST_BROKER_WORKER") != _xdist_worker
):
    from urllib.parse import urlsplit

    _parts = urlsplit(_broker)
    _db = int(_parts.path.strip("/") or 0) + int(_xdist_worker[2:])
    if _db > 15:
        raise RuntimeError(
            f"{_broker} leaves no Redis database for test process {_xdist_worker} "
            "(Redis has 0-15): give the tests a lower database number or fewer processes"
        )
    os.environ["CELERY_BROKER_URL"] = _parts._replace(path=f"/{_db}").geturl()
    os.environ["TEST_BROKER_WORKER"] = _xdist_worker

from dashboard.settings import *  # noqa: E402, F403
from dashboard.settings import STORAGES  # noqa: E402

# No collectstatic before a test run: pages (and the browser journeys' live server) name
# static files as they are, not through the manifest production builds.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Each test process keeps its own cache (tests/conftest.py empties it per test) and reads
# sessions from the database, whatever CACHE_URL the shell exports: the page query counts
# the tests pin are then the same on every machine.
CACHE_URL = ""
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Notifications are mailed in tests (pytest-django swaps in the in-memory mail backend), so
# tests see the e-mail whatever the shell's EMAIL_HOST.
NOTIFY_BY_EMAIL = True

# Users are made in nearly every test, and production's hasher is slow by design (a quarter
# of a second of CPU a password here): tests hash with MD5, as Django's testing docs advise.
# The hasher production uses is left to dashboard.settings, which this does not change.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
