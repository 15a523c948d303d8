"""A real Celery worker killed mid-delivery (SIGKILL while the receiver is slow): another
worker finishes the job, nothing is lost, and the receiver applies the action once."""

import signal
import time

import pytest
from django.utils import timezone

from cases.enforcement.models import DeliveryAttempt, EnforcementAction, OutboxMessage
from cases.enforcement.services import action_decide, action_propose, outbox_sweep
from cases.models import AuditEvent
from tests.cases.test_enforcement_delivery import SECRET, Receiver
from tests.factories import enforcement_terms

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]
LEASE = 3


def wait_for(check, timeout=60.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def webhook_receiver(monkeypatch, settings):
    """A slow receiver, and the worker's environment pointing at it (set before it starts)."""
    receiver = Receiver()
    for name, value in {
        "ENFORCEMENT_WEBHOOK_URL": receiver.url,
        "ENFORCEMENT_WEBHOOK_SECRET": SECRET,
        "ENFORCEMENT_LEASE_SECONDS": str(LEASE),
        # The lease is never shorter than the timeout plus a second (delivery.lease()).
        "ENFORCEMENT_WEBHOOK_TIMEOUT": str(LEASE - 1),
    }.items():
        monkeypatch.setenv(name, value)
        setattr(settings, name, type(getattr(settings, name))(value))
    receiver.delay = 4.0
    receiver.start()
    yield receiver
    receiver.stop()


def test_worker_killed_mid_delivery_loses_nothing_and_duplicates_nothing(
    webhook_receiver, celery_worker_process, make_case, analyst, approver
):
    receiver = webhook_receiver
    case = make_case(accounts=3)
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="fleet"
    )
    action_decide(action=action, by=approver, approve=True, comment="ok")  # enqueued on commit
    webhook = OutboxMessage.objects.get(action=action, backend="webhook")

    assert receiver.entered.wait(30), celery_worker_process.log
    receiver.delay = 0  # the platform recovers; the first request is still being processed
    celery_worker_process.stop(signal.SIGKILL)
    webhook.refresh_from_db()
    assert webhook.status == OutboxMessage.Status.DELIVERING  # the worker died holding it

    celery_worker_process.start()
    # Once the dead worker's lease runs out, the sweeper (celery beat, every minute) hands
    # the message back and enqueues it; the new worker delivers it.
    wait_for(lambda: OutboxMessage.objects.get(pk=webhook.pk).claimed_until < timezone.now())
    assert outbox_sweep()["recovered"] == 1
    wait_for(
        lambda: (
            EnforcementAction.objects.get(pk=action.pk).status == EnforcementAction.Status.EXECUTED
        )
    )

    key = str(action.idempotency_key)
    assert receiver.applied[key] == 1  # processed once ...
    assert [r["key"] for r in receiver.requests] == [key, key]  # ... though it came twice
    assert all(r["signed"] for r in receiver.requests)
    webhook.refresh_from_db()
    assert webhook.status == OutboxMessage.Status.DELIVERED
    attempts = list(DeliveryAttempt.objects.filter(message=webhook).order_by("id"))
    assert [a.ok for a in attempts] == [False, True]
    assert "lost mid-delivery" in attempts[0].error
    assert AuditEvent.objects.filter(case=case, verb="action.executed").count() == 1
    assert AuditEvent.objects.filter(case=case, verb="action.delivered").count() == 2
    assert set(action.accounts.values_list("platform_status", flat=True)) == {"banned"}
