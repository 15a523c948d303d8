"""The transactional outbox: claim, deliver, record, retry, dead-letter, execute.

A message moves ``pending → delivering → delivered`` (or back to ``pending`` with a later
``next_attempt_at``, or to ``dead``). Workers claim it with a compare-and-set ``UPDATE``
that also takes a lease (``claimed_until``) and a fencing token; they finish it with an
``UPDATE`` that requires their token, so a worker whose lease ran out can never mark a
message delivered that another worker has since claimed. The sweeper returns expired
leases to ``pending`` (recording the lost attempt) and re-enqueues due messages, so a worker
killed mid-delivery loses nothing. The receiver dedupes by idempotency key, which makes the
resulting redelivery harmless.

When every message of an action is delivered, the action becomes executed exactly once
(compare-and-set again), the accounts take their new platform status and the case becomes
actioned; for a reversal, its accounts return to active (unless another action still in
force covers them), and the reversed action becomes reversed once all its accounts are.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cases import audit
from cases.enforcement import banlist, notify, webhook
from cases.enforcement.backends import DeliveryResult
from cases.enforcement.models import DeliveryAttempt, EnforcementAction, OutboxMessage
from cases.models import Case
from cases.services.workflow import case_change_status
from common.tasks import send, task_named
from detection.models import Account

log = logging.getLogger(__name__)
A = EnforcementAction
M = OutboxMessage.Status
SWEEP_BATCH = 500
# The task that adapts ``outbox_deliver``, by its registered name (see ``common.tasks``).
DELIVER_TASK = "cases.tasks.deliver_outbox_message_task"
BACKENDS = {OutboxMessage.Backend.BANLIST: banlist, OutboxMessage.Backend.WEBHOOK: webhook}
# A message enqueued on commit gets this long before the sweeper enqueues it again.
SWEEP_GRACE = timedelta(seconds=60)


def max_attempts() -> int:
    return int(getattr(settings, "ENFORCEMENT_MAX_ATTEMPTS", 8))


def lease() -> timedelta:
    """How long a claim lasts; never shorter than one webhook request, or the sweeper would
    hand a message to a second worker while the first is still sending it."""
    configured = int(getattr(settings, "ENFORCEMENT_LEASE_SECONDS", 120))
    timeout = float(getattr(settings, "ENFORCEMENT_WEBHOOK_TIMEOUT", 10))
    return timedelta(seconds=max(configured, math.ceil(timeout) + 1))


def backoff(attempt: int) -> timedelta:
    """Exponential: base, 2x base, 4x base, ... capped (defaults 30 s doubling to 1 h)."""
    base = int(getattr(settings, "ENFORCEMENT_RETRY_BASE_SECONDS", 30))
    cap = int(getattr(settings, "ENFORCEMENT_RETRY_MAX_SECONDS", 3600))
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


def _enqueue(message_id: int, countdown: float | None = None) -> None:
    """Send the message to a worker now, after ``countdown`` seconds if given. The sweeper
    calls this directly (it holds no transaction); a write calls it from ``on_commit``."""
    task = task_named(DELIVER_TASK)
    if countdown is None:
        send(task, (message_id,))
    elif not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        # Eagerly (no broker) a countdown is ignored and would retry at once, in the request;
        # there the sweeper or a manual retry picks the message up instead.
        send(task, (message_id,), countdown=countdown)


def _deliver(message: OutboxMessage) -> DeliveryResult:
    """Hand ``message`` to its backend."""
    backend = BACKENDS.get(message.backend)
    if backend is None:
        return DeliveryResult(
            ok=False, error=f"unknown backend {message.backend!r}", permanent=True
        )
    return backend.deliver(message)


def _claim(message_id: int, now) -> tuple[OutboxMessage, str] | None:
    token = uuid.uuid4().hex
    claimed = (
        OutboxMessage.objects.due(now)
        .filter(pk=message_id)
        .update(
            status=M.DELIVERING,
            claim_token=token,
            claimed_until=now + lease(),
            attempts=F("attempts") + 1,
        )
    )
    if claimed != 1:
        return None
    message = OutboxMessage.objects.select_related("action").get(pk=message_id)
    return message, token


def outbox_deliver(*, message_id: int, now=None) -> str:
    """Claim the message if it is due, hand it to its backend, record the outcome.

    Not atomic as a whole on purpose: the backend call (an HTTP request) runs outside any
    transaction, between the claim and the recording, each of which commits on its own.
    """
    claimed = _claim(message_id, now or timezone.now())
    if claimed is None:
        return "not due or already taken"
    message, token = claimed
    start = time.monotonic()
    try:
        result = _deliver(message)
    except Exception as exc:  # a bug in a backend must not leave the message claimed
        log.exception("enforcement backend %s crashed on message %s", message.backend, message.pk)
        result = DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
    duration_ms = int((time.monotonic() - start) * 1000)
    return _record(message, token, result, duration_ms)


def _dead_letter(message: OutboxMessage, case: Case, error: str) -> None:
    EnforcementAction.objects.filter(pk=message.action_id, status=A.Status.APPROVED).update(
        status=A.Status.FAILED
    )
    audit.record(
        "action.delivery_dead_lettered",
        case=case,
        target=message.action,
        data={
            "action": message.action_id,
            "backend": message.backend,
            "attempts": message.attempts,
            "reason": error,
        },
    )
    notify.delivery_failed(message.action, backend=message.get_backend_display(), error=error)


def _next_number(message: OutboxMessage) -> int:
    """Attempts are numbered over the message's whole life: a manual retry starts a fresh
    round (``attempts`` back to 0) but the log keeps counting, so no number repeats."""
    return DeliveryAttempt.objects.filter(message=message).count() + 1


@transaction.atomic
def _record(message: OutboxMessage, token: str, result: DeliveryResult, duration_ms: int) -> str:
    now = timezone.now()
    case = Case.objects.select_for_update().get(pk=message.action.case_id)
    DeliveryAttempt.objects.create(
        message=message,
        number=_next_number(message),
        ok=result.ok,
        status_code=result.status_code,
        error=result.error,
        duration_ms=duration_ms,
    )
    ours = OutboxMessage.objects.filter(pk=message.pk, status=M.DELIVERING, claim_token=token)
    if result.ok:
        if (
            ours.update(status=M.DELIVERED, delivered_at=now, claimed_until=None, last_error="")
            != 1
        ):
            return "delivered, but the lease was lost; another worker owns the message"
        audit.record(
            "action.delivered",
            case=case,
            target=message.action,
            data={
                "action": message.action_id,
                "backend": message.backend,
                "attempt": message.attempts,
                "status_code": result.status_code,
            },
        )
        _execute_if_complete(message.action_id, case)
        return "delivered"
    if result.permanent or message.attempts >= max_attempts():
        if ours.update(status=M.DEAD, last_error=result.error, claimed_until=None) != 1:
            return "failed, and the lease was lost"
        _dead_letter(message, case, result.error)
        return "dead-lettered"
    delay = backoff(message.attempts)
    next_at = now + delay
    if (
        ours.update(
            status=M.PENDING, next_attempt_at=next_at, last_error=result.error, claimed_until=None
        )
        != 1
    ):
        return "failed, and the lease was lost"
    audit.record(
        "action.delivery_failed",
        case=case,
        target=message.action,
        data={
            "action": message.action_id,
            "backend": message.backend,
            "attempt": message.attempts,
            "next_attempt_at": next_at.isoformat(),
            "reason": result.error,
        },
    )
    transaction.on_commit(lambda: _enqueue(message.pk, delay.total_seconds()))
    return f"failed; retry in {int(delay.total_seconds())}s"


def _reversed_pairs(account_ids: list[int]) -> set[tuple[int, int]]:
    """``(account, action)`` pairs an executed reversal took the account out of."""
    return set(
        EnforcementAction.objects.filter(
            kind=A.Kind.REVERSE, status=A.Status.EXECUTED, accounts__in=account_ids
        ).values_list("accounts", "reverses_id")
    )


def _refresh_platform_status(account_ids: list[int]) -> None:
    """Each account takes the status of the most severe action still in force on it (an
    action partly reversed is no longer in force on the accounts it was reversed for)."""
    best: dict[int, str] = {}
    for start in range(0, len(account_ids), 5000):
        chunk = account_ids[start : start + 5000]
        lifted = _reversed_pairs(chunk)
        for account_id, action_id, kind in (
            EnforcementAction.objects.in_force()
            .filter(accounts__in=chunk)
            .values_list("accounts", "pk", "kind")
        ):
            if (account_id, action_id) in lifted:
                continue
            if account_id not in best or A.SEVERITY[kind] > A.SEVERITY[best[account_id]]:
                best[account_id] = kind
    by_status: dict[str, list[int]] = {}
    for account_id in account_ids:
        kind = best.get(account_id)
        status = A.PLATFORM_STATUS[kind] if kind else Account.PlatformStatus.ACTIVE
        by_status.setdefault(status, []).append(account_id)
    for status, ids in by_status.items():
        for start in range(0, len(ids), 5000):
            Account.objects.filter(pk__in=ids[start : start + 5000]).update(platform_status=status)


def _fully_reversed(action_id: int) -> bool:
    """Every account of the action is covered by an executed reversal of it."""
    reversed_ids = EnforcementAction.objects.filter(
        reverses_id=action_id, status=A.Status.EXECUTED, accounts__isnull=False
    ).values("accounts")
    return not (
        EnforcementAction.accounts.through.objects.filter(enforcementaction_id=action_id)
        .exclude(account_id__in=reversed_ids)
        .exists()
    )


def _execute_if_complete(action_id: int, case: Case) -> None:
    """Once every backend confirmed: executed (once), accounts updated, case moved."""
    if OutboxMessage.objects.filter(action_id=action_id).exclude(status=M.DELIVERED).exists():
        return
    now = timezone.now()
    executed = EnforcementAction.objects.filter(
        pk=action_id, status__in=[A.Status.APPROVED, A.Status.FAILED]
    ).update(status=A.Status.EXECUTED, executed_at=now)
    if executed != 1:
        return
    action = EnforcementAction.objects.select_related(
        "reverses", "reverses__proposed_by", "proposed_by", "case"
    ).get(pk=action_id)
    source = action.reverses if action.is_reversal else action
    # A reversal's own accounts: all of the action's, or the ones an appeal was upheld for.
    account_ids = list(action.accounts.values_list("pk", flat=True))
    fully = action.is_reversal and _fully_reversed(source.pk)
    if fully:
        EnforcementAction.objects.filter(pk=source.pk, status=A.Status.EXECUTED).update(
            status=A.Status.REVERSED
        )
    _refresh_platform_status(account_ids)
    audit.record(
        "action.reversed" if action.is_reversal else "action.executed",
        case=case,
        target=action,
        data={
            "action": action.pk,
            "kind": source.kind,
            "accounts": len(account_ids),
            "reverses": source.pk if action.is_reversal else None,
            "all_accounts": fully if action.is_reversal else True,
        },
    )
    notify.delivered(action, accounts=len(account_ids))
    if not action.is_reversal and case.status != Case.Status.ACTIONED:
        case_change_status(
            case=case,
            to=Case.Status.ACTIONED,
            reason=f"{action.get_kind_display()} executed on {len(account_ids)} account(s)",
            system=True,
        )
    elif (
        action.is_reversal
        and case.status == Case.Status.ACTIONED
        and not case.actions.in_force().exists()
    ):
        case_change_status(
            case=case,
            to=Case.Status.INVESTIGATING,
            reason=f"{source.get_kind_display()} reversed: {action.reason}",
            system=True,
        )


@transaction.atomic
def outbox_retry(*, message: OutboxMessage, by) -> OutboxMessage:
    """An approver sends a dead-lettered (or waiting) message again, now, with a fresh round
    of attempts."""
    if by is None or not by.has_perm("cases.approve_action"):
        raise PermissionDenied("only an approver can retry a delivery")
    case = Case.objects.select_for_update().get(pk=message.action.case_id)
    retried = OutboxMessage.objects.filter(pk=message.pk, status__in=[M.DEAD, M.PENDING]).update(
        status=M.PENDING, next_attempt_at=timezone.now(), attempts=0, claimed_until=None
    )
    if retried != 1:
        raise ValidationError("this delivery is not waiting or dead-lettered any more")
    if not OutboxMessage.objects.filter(action_id=message.action_id, status=M.DEAD).exists():
        EnforcementAction.objects.filter(pk=message.action_id, status=A.Status.FAILED).update(
            status=A.Status.APPROVED
        )
    audit.record(
        "action.delivery_retried",
        actor=by,
        case=case,
        target=message.action,
        data={"action": message.action_id, "backend": message.backend},
    )
    transaction.on_commit(lambda: _enqueue(message.pk))
    message.refresh_from_db()
    return message


def _recover(message_id: int, now) -> str:
    """Return one expired lease to pending (or dead-letter it), recording the lost attempt."""
    with transaction.atomic():
        # The case first, then the message: the lock order of ``_record`` (which a worker
        # finishing late may be running on this very message), so the two queue up instead
        # of deadlocking.
        case_id = (
            OutboxMessage.objects.filter(pk=message_id)
            .values_list("action__case_id", flat=True)
            .first()
        )
        if case_id is None:
            return ""
        case = Case.objects.select_for_update().get(pk=case_id)
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("action")
            .filter(pk=message_id)
            .first()
        )
        if message is None or not (
            message.status == M.DELIVERING and message.claimed_until and message.claimed_until < now
        ):
            return ""
        error = "the worker was lost mid-delivery (its lease expired)"
        DeliveryAttempt.objects.create(
            message=message, number=_next_number(message), ok=False, error=error
        )
        ours = OutboxMessage.objects.filter(pk=message.pk, claim_token=message.claim_token)
        if message.attempts >= max_attempts():
            ours.update(status=M.DEAD, last_error=error, claimed_until=None, claim_token="")
            _dead_letter(message, case, error)
            return M.DEAD
        ours.update(
            status=M.PENDING, next_attempt_at=now, last_error=error, claimed_until=None,
            claim_token="",
        )  # fmt: skip
        audit.record(
            "action.delivery_failed",
            case=case,
            target=message.action,
            data={
                "action": message.action_id,
                "backend": message.backend,
                "attempt": message.attempts,
                "reason": error,
            },
        )
        return M.PENDING


def outbox_sweep(*, now=None) -> dict:
    """The periodic safety net: recover expired leases, enqueue due messages.

    A message enqueued on commit (or with a retry countdown) is left alone for
    ``SWEEP_GRACE`` after it fell due, so a healthy system is not sent duplicate tasks;
    duplicates would be harmless anyway, since only one claim can win.
    """
    now = now or timezone.now()
    expired = OutboxMessage.objects.lease_expired(now).values_list("pk", flat=True)
    outcomes = {pk: _recover(pk, now) for pk in list(expired[:SWEEP_BATCH])}
    stale = now - SWEEP_GRACE
    due = set(
        OutboxMessage.objects.due(stale)
        .filter(created_at__lte=stale)
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    due |= {pk for pk, outcome in outcomes.items() if outcome == M.PENDING}
    for pk in sorted(due):
        _enqueue(pk)
    return {"recovered": sum(1 for o in outcomes.values() if o), "enqueued": len(due)}
