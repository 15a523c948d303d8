"""The Celery app in its two modes: a configured broker, or none (tasks run in-process)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import django
django.setup()
from dashboard.celery import app
with app.producer_or_acquire() as producer:  # what every eager .delay() does
    pass
print(app.conf.broker_url, app.conf.task_always_eager)
"""


def probe(broker_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "CELERY_BROKER_URL": broker_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_without_a_broker_tasks_run_in_process_and_nothing_warns(tmp_path):
    result = probe("", tmp_path)

    assert result.stdout.split() == ["memory://localhost/", "True"]
    # kombu's amqp default used to log "No hostname was supplied" on every `make demo`.
    assert "WARNING" not in result.stderr


def test_a_configured_broker_is_used_as_given(tmp_path):
    result = probe("redis://127.0.0.1:6379/15", tmp_path)

    assert result.stdout.split() == ["redis://127.0.0.1:6379/15", "False"]
