"""Enqueue a Celery task by its registered name once the current transaction commits.

A service that starts background work must not import the module that defines the task: the
task module imports the service it adapts, and the two would import each other. The task's
registered name is the contract between them instead. Each app's ``ready()`` imports its own
``tasks`` module, so the registry is filled in every process (web, worker, management
command); with no broker configured the task still runs in-process, because ``apply_async``
on a registered task honours ``task_always_eager``.

Work too long for a request (an uploaded file's ingest) asks for ``off_request=True``: with
no broker it then runs in a thread of this process after the commit, so the page answers at
once and the work reports its progress to its row as it would from a worker. A thread dies
with its process: such a task must be resumable, and something must pick up what a restart
interrupted (for uploads, ``manage.py ingest_uploads``).

The broker being down never fails the request that committed the work: the row the work
belongs to is committed and says what is left to do, so the send is logged and given up, and
the row's own recovery (the outbox sweeper, a stalled snapshot's retry, ``ingest_uploads``)
sends it again once the broker is back (docs/operations.md, "Faults").
"""

import logging
import threading
from typing import Any

from celery import current_app
from django.db import connections, transaction
from kombu.exceptions import OperationalError as BrokerUnreachable

logger = logging.getLogger(__name__)


def task_named(name: str):
    """The registered task called ``name``; a ``KeyError`` names a task nobody defined."""
    return current_app.tasks[name]


def enqueue_on_commit(
    name: str,
    *args: Any,
    countdown: float | None = None,
    off_request: bool = False,
    **kwargs: Any,
) -> None:
    """Send ``name(*args, **kwargs)`` once the surrounding transaction commits (at once
    outside one). Resolve the name now, so a typo fails in the caller, not after commit."""
    task = task_named(name)
    options = {} if countdown is None else {"countdown": countdown}
    if off_request and current_app.conf.task_always_eager:
        transaction.on_commit(lambda: run_in_thread(task, args, kwargs))
        return
    transaction.on_commit(lambda: send(task, args, kwargs, **options))


def send(task, args: tuple, kwargs: dict | None = None, **options: Any) -> bool:
    """``task.apply_async``, but a broker that does not answer is logged, not raised: False."""
    try:
        task.apply_async(args, kwargs or {}, **options)
    except BrokerUnreachable as exc:
        logger.warning(
            "broker unreachable, %s%r not sent (left for recovery): %s", task.name, args, exc
        )
        return False
    return True


def run_in_thread(task, args: tuple, kwargs: dict) -> threading.Thread:
    """Run a task in a daemon thread of this process (the embedded default's worker)."""

    def run() -> None:
        try:
            task.apply(args, kwargs, throw=True)
        except Exception:
            logger.exception("background task %s%r failed", task.name, args)
        finally:
            connections.close_all()  # this thread's own connections

    thread = threading.Thread(target=run, name=f"task-{task.name}", daemon=True)
    thread.start()
    return thread
