"""Enqueue a Celery task by its registered name once the current transaction commits.

A service that starts background work must not import the module that defines the task: the
task module imports the service it adapts, and the two would import each other. The task's
registered name is the contract between them instead. Each app's ``ready()`` imports its own
``tasks`` module, so the registry is filled in every process (web, worker, management
command); with no broker configured the task still runs in-process, because ``apply_async``
on a registered task honours ``task_always_eager``.
"""

from typing import Any

from celery import current_app
from django.db import transaction


def task_named(name: str):
    """The registered task called ``name``; a ``KeyError`` names a task nobody defined."""
    return current_app.tasks[name]


def enqueue_on_commit(name: str, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """Send ``name(*args, **kwargs)`` once the surrounding transaction commits (at once
    outside one). Resolve the name now, so a typo fails in the caller, not after commit."""
    task = task_named(name)
    options = {} if countdown is None else {"countdown": countdown}
    transaction.on_commit(lambda: task.apply_async(args, kwargs, **options))
