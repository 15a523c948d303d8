"""Faults the console must ride out, on real parts: Redis (broker and cache) stopped.

Redis runs here as a server of this test's own, on a port of its own, so stopping it
disturbs nobody else's broker. The worker killed mid-run is in
tests/detection/test_services_worker.py, the webhook receiver down (dead letter, then a retry
from the page) in tests/cases/test_enforcement_delivery.py and test_enforcement_views.py;
the PostgreSQL restart during an ingest is a drill (bench/drills.py, docs/operations.md).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from cases.enforcement.models import OutboxMessage
from cases.enforcement.services import action_propose, outbox_sweep
from cases.enforcement.services.delivery import DELIVER_TASK
from dashboard.celery import app
from tests.factories import AccountFactory, CaseAccountFactory, CaseFactory, enforcement_terms

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own, stopped and started again on the same port."""

    def __init__(self):
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def private_redis(settings, monkeypatch):
    """Broker and cache on a Redis of this test's own; the Celery app's connections reset so
    tasks go there."""
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    server = PrivateRedis()
    server.start()
    settings.CELERY_BROKER_URL = f"{server.url}/0"
    settings.CACHE_URL = f"{server.url}/1"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CACHE_URL,
            "OPTIONS": {"serializer": "dashboard.cache.JSONSerializer"},
        }
    }
    # Celery reads CELERY_BROKER_URL from the environment before its own settings.
    monkeypatch.setenv("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
    monkeypatch.setitem(app.conf, "broker_url", settings.CELERY_BROKER_URL)
    monkeypatch.setitem(app.conf, "task_always_eager", False)

    def reset_connections():
        # The app keeps its producer pool; the next send makes one for the broker now set.
        app._pool = None
        app.amqp._producer_pool = None

    reset_connections()
    yield server
    server.stop()
    reset_connections()


def _queued_deliveries(server: PrivateRedis) -> list[str]:
    """The argument lists of the delivery tasks waiting in the broker."""
    raw = redis.Redis(port=server.port, db=0).lrange("celery", 0, -1)
    headers = [json.loads(message)["headers"] for message in raw]
    return [h["argsrepr"] for h in headers if h["task"] == DELIVER_TASK]


def test_with_redis_stopped_pages_serve_and_an_approved_ban_is_delivered_once_it_is_back(
    private_redis,
    settings,
    analyst,
    approver,
    analyst_client,
    approver_client,
    django_capture_on_commit_callbacks,
):
    settings.ENFORCEMENT_WEBHOOK_URL = "http://127.0.0.1:9/hook"  # delivery needs a message
    case = CaseFactory(title="Fleet on one card")
    CaseAccountFactory(case=case, account=AccountFactory())
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="shared card"
    )

    private_redis.stop()
    with django_capture_on_commit_callbacks(execute=True):
        response = approver_client.post(
            f"/cases/{case.pk}/enforcement/{action.pk}/decide/", {"decision": "approve"}
        )

    assert response.status_code == 302  # approved, though its delivery could not be sent
    messages = list(OutboxMessage.objects.filter(action=action).order_by("pk"))
    assert messages and {m.status for m in messages} == {"pending"}
    assert analyst_client.get("/cases/").status_code == 200
    assert "Fleet on one card" in analyst_client.get(f"/cases/{case.pk}/").content.decode()
    health = analyst_client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["broker"].startswith("failing")

    private_redis.start()  # empty: whatever it held is gone, as after a restart
    assert _queued_deliveries(private_redis) == []
    assert analyst_client.get("/healthz").json()["status"] == "ok"
    swept = outbox_sweep(now=timezone.now() + timedelta(minutes=2))  # beat, a minute later

    assert swept["enqueued"] == len(messages)
    assert sorted(_queued_deliveries(private_redis)) == sorted(f"({m.pk},)" for m in messages)
