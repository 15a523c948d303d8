"""Two approvers acting on one proposal at the same moment, on two database connections:
exactly one decision is recorded, and at most one set of outbox messages exists."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from cases.enforcement.models import EnforcementAction, OutboxMessage
from cases.enforcement.services import action_decide, action_propose
from cases.enforcement.tasks import deliver_outbox_message_task
from cases.models import AuditEvent
from tests.factories import enforcement_terms

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _quiet(settings, monkeypatch):
    settings.ENFORCEMENT_WEBHOOK_URL = "http://127.0.0.1:9/never-called"
    monkeypatch.setattr(deliver_outbox_message_task, "apply_async", lambda *a, **kw: None)


def race(action_pk: int, moves: list[tuple]) -> dict[str, str]:
    """Run each (user, approve) decision in its own thread, released together."""
    barrier = threading.Barrier(len(moves))
    results: dict[str, str] = {}

    def decide(user, approve):
        try:
            action = EnforcementAction.objects.get(pk=action_pk)
            barrier.wait()
            action_decide(action=action, by=user, approve=approve, comment="concurrent")
            results[user.username] = "decided"
        except ValidationError as exc:
            results[user.username] = "refused: " + " ".join(exc.messages)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=move) for move in moves]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.parametrize("second_approves", [True, False])
def test_two_approvers_at_once_produce_one_decision(
    make_case, analyst, approver, approver2, second_approves
):
    case = make_case(accounts=2)
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="fleet"
    )
    results = race(action.pk, [(approver, True), (approver2, second_approves)])
    assert sorted(v.split(":")[0] for v in results.values()) == ["decided", "refused"]
    winner = next(name for name, v in results.items() if v == "decided")
    action.refresh_from_db()
    assert action.decided_by.username == winner
    decisions = AuditEvent.objects.filter(
        case=case, verb__in=["action.approved", "action.rejected"]
    )
    assert decisions.count() == 1
    expected_messages = 2 if action.status == EnforcementAction.Status.APPROVED else 0
    assert OutboxMessage.objects.filter(action=action).count() == expected_messages
