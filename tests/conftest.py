"""Personas (one logged-in client per role) and the real-parts fixtures the suite shares."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from dashboard.roles import ANALYST, APPROVER, MANAGER, ensure_roles
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent


def _database_order(item: pytest.Item) -> int:
    """0 for a test in a transaction rolled back after it, 1 for one whose database is
    flushed after it (the browser journeys, the worker tests), 2 for one without a database."""
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    if (
        (marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")))
        or "transactional_db" in fixtures
        or "live_server" in fixtures
    ):
        return 1
    return 0 if marker or "db" in fixtures else 2


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Every test that is rolled back runs before every test whose database is flushed, as
    pytest-django orders them: a flush takes the data migrations' rows (role groups, reason
    codes) with it. pytest regroups tests by their session-scoped parameters after
    pytest-django's ordering, which moved the browser journeys (parametrised by browser) in
    among the rolled-back tests; this stable sort, run last, puts them back in their place."""
    items.sort(key=_database_order)


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    """Each test starts with an empty cache: the database is rolled back between tests, and
    what the cache kept from the last one (the queue's choice lists) would outlive it. The
    cache is this process's own whatever ``CACHE_URL`` the shell exports: clearing a shared
    Redis database would empty it for whoever else uses it, and parallel test processes
    would see each other's entries."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


@pytest.fixture
def roles(db):
    """The role groups; recreated per test because transactional tests flush them."""
    ensure_roles()


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def analyst(roles):
    return UserFactory(username="ana", roles=[ANALYST])


@pytest.fixture
def analyst2(roles):
    return UserFactory(username="alex", roles=[ANALYST])


@pytest.fixture
def approver(roles):
    return UserFactory(username="april", roles=[APPROVER])


@pytest.fixture
def approver2(roles):
    return UserFactory(username="aaron", roles=[APPROVER])


@pytest.fixture
def manager(roles):
    return UserFactory(username="mona", roles=[MANAGER])


@pytest.fixture
def admin_user(roles):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def outsider(roles):
    """Logged in, but in no role group: sees nothing."""
    return UserFactory(username="otto")


@pytest.fixture
def analyst_client(analyst):
    return _client_for(analyst)


@pytest.fixture
def approver_client(approver):
    return _client_for(approver)


@pytest.fixture
def manager_client(manager):
    return _client_for(manager)


@pytest.fixture
def admin_client_(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture
def htmx_headers():
    """Headers of an htmx request that is not boosted: the view returns the fragment."""
    return {"HX-Request": "true"}


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL (run through `make test`)")
    host = db.get("HOST") or "localhost"
    port = db.get("PORT") or 5432
    user = db.get("USER") or ""
    auth = f"{user}@" if user else ""
    return f"postgres://{auth}{host}:{port}/{db['NAME']}"


@pytest.fixture
def celery_worker_process(request, transactional_db):
    """A real Celery worker process against Redis and this test's PostgreSQL database.

    Yields a handle with ``stop(sig)`` so a test can kill the worker mid-task. Tests that use
    it must commit their data (``transactional_db``): the worker is another connection. The
    pool is ``solo`` unless the test asks for another through indirect parametrisation
    (``@pytest.mark.parametrize("celery_worker_process", ["prefork"], indirect=True)``, or
    ``{"pool": "prefork", "concurrency": 2}`` for two worker processes).
    """
    param = getattr(request, "param", "solo")
    # "prefork" or {"pool": "prefork", "concurrency": 2}: worker processes in one worker.
    pool, concurrency = (
        (param, 1) if isinstance(param, str) else (param["pool"], param["concurrency"])
    )
    if not settings.CELERY_BROKER_URL:
        pytest.skip("needs CELERY_BROKER_URL (run through `make test`)")
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = ROOT / "var" / f"test-worker-{os.getpid()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("w")

    class Worker:
        def __init__(self):
            self.proc = None

        def start(self):
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "dashboard",
                    "worker",
                    f"--pool={pool}",
                    f"--concurrency={concurrency}",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                self._wait_ready()
            except RuntimeError:
                # A worker that never became ready must not outlive the test that started it.
                self.stop(signal.SIGKILL)
                raise

        def _wait_ready(self, timeout=30.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"worker exited early; see {log_path}")
                if "ready." in log_path.read_text(errors="replace"):
                    return
                time.sleep(0.2)
            raise RuntimeError(f"worker not ready after {timeout}s; see {log_path}")

        def stop(self, sig=signal.SIGTERM):
            if self.proc and self.proc.poll() is None:
                os.killpg(self.proc.pid, sig)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()

        @property
        def log(self) -> str:
            return log_path.read_text(errors="replace")

    worker = Worker()
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()
        log.close()
