"""Enqueue by name (common/tasks.py): services start background work by a task's registered
name, so the names are a contract with the broker and the beat schedule."""

import pytest
from celery import current_app
from django.db import transaction

from common.tasks import enqueue_on_commit, task_named


def test_every_beat_entry_names_a_registered_task(settings):
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in current_app.tasks


@pytest.mark.parametrize(
    "name",
    [
        "cases.tasks.deliver_outbox_message_task",
        "cases.tasks.sweep_outbox_task",
        "cases.tasks.evidence_snapshot_task",
        "cases.tasks.export_build_task",
        "cases.tasks.prune_exports_task",
    ],
)
def test_moved_tasks_answer_to_the_names_already_queued_messages_carry(name):
    assert task_named(name).name == name


def test_an_unknown_name_fails_in_the_caller_not_after_commit():
    with pytest.raises(KeyError):
        enqueue_on_commit("cases.tasks.no_such_task", 1)


@pytest.mark.django_db
def test_the_task_is_sent_only_once_the_transaction_commits(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    task = task_named("cases.tasks.export_build_task")
    monkeypatch.setattr(task, "apply_async", lambda args, kwargs, **options: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        enqueue_on_commit("cases.tasks.export_build_task", 7)
        assert sent == []
    assert sent == [(7,)]
