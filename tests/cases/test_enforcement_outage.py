"""The platform's webhook receiver down for an hour: every attempt of the backoff fails, the
delivery is dead-lettered, and once the platform is back an approver retries it from the
approvals page and the ban is applied once."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cases.enforcement.models import EnforcementAction, OutboxMessage
from cases.enforcement.services import outbox_deliver
from tests.cases.test_enforcement_delivery import (  # noqa: F401 (fixtures)
    approved,
    enqueued,
    receiver,
    webhook_of,
)

pytestmark = pytest.mark.django_db


def test_a_receiver_down_for_an_hour_dead_letters_then_a_retry_from_the_page_delivers(
    approved,  # noqa: F811
    receiver,  # noqa: F811
    enqueued,  # noqa: F811
    approver2,
    settings,
    django_capture_on_commit_callbacks,
):
    message = webhook_of(approved)
    start = timezone.now()
    outcomes, when = [], start
    for _ in range(settings.ENFORCEMENT_MAX_ATTEMPTS):  # nothing listens on the port
        outcomes.append(outbox_deliver(message_id=message.pk, now=when))
        message.refresh_from_db()
        when = message.next_attempt_at or when

    assert outcomes[-1] == "dead-lettered"
    assert all(o.startswith("failed") for o in outcomes[:-1])
    assert message.status == OutboxMessage.Status.DEAD
    # The default backoff gives up after about half an hour: an hour's outage ends here.
    assert when - start >= timedelta(minutes=30)
    approved.refresh_from_db()
    assert approved.status == EnforcementAction.Status.FAILED

    receiver.start()  # the platform is back
    client = Client()
    client.force_login(approver2)
    retry = f"/cases/{approved.case_id}/enforcement/deliveries/{message.pk}/retry/"
    assert retry in client.get("/cases/approvals/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry, {"next": "/cases/approvals/"})

    assert response.status_code == 302 and response["Location"] == "/cases/approvals/"
    assert enqueued == [message.pk]  # what the worker is handed; it runs:
    assert outbox_deliver(message_id=message.pk) == "delivered"
    approved.refresh_from_db()
    assert approved.status == EnforcementAction.Status.EXECUTED
    assert receiver.applied[str(approved.idempotency_key)] == 1
