"""The Celery app. Workers: ``celery -A dashboard worker``; beat: ``celery -A dashboard beat``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _embedded_broker(sender: Celery, **kwargs) -> None:
    """With no broker configured, tasks run eagerly in-process (settings), but Celery still
    builds a producer for each call: give it kombu's in-memory transport, never used, instead
    of the amqp default, which logs "No hostname was supplied" on every ``make demo``."""
    if not sender.conf.broker_url:
        sender.conf.broker_url = "memory://localhost/"
