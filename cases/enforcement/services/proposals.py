"""Proposals, four-eyes decisions and reversal requests.

Every function here locks the case row first (``SELECT ... FOR UPDATE``), then the action:
one lock order everywhere, so two people acting on one case queue up instead of
deadlocking. Decisions are also compare-and-set (``UPDATE ... WHERE status='proposed'``
with the row count checked), so two approvers clicking at once produce exactly one decision.
Who may do what is checked here, not only in the views:

* propose (ban, suspend, rate-limit) or request a reversal: ``cases.propose_action``;
* approve or reject either: ``cases.approve_action``, and never the person who proposed it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from cases import audit
from cases.enforcement import blast_radius as radius
from cases.enforcement import notify
from cases.enforcement.backends import backends_for_new_action
from cases.enforcement.models import EnforcementAction, OutboxMessage, Policy, ViolationCategory
from cases.enforcement.selectors import live_accounts_of
from cases.enforcement.services.delivery import DELIVER_TASK
from cases.labels.models import Outcome, Source
from cases.labels.services import APPROVAL_DEFAULT, REVERSAL_DEFAULT, labels_record
from cases.models import Case, CaseAccount, EvidenceSnapshot
from cases.selectors import case_lookalikes, run_total_exchanges, with_latest_traffic
from cases.services.workflow import case_change_status
from common.tasks import enqueue_on_commit
from detection.models import Account

A = EnforcementAction
S = Case.Status
MAX_REASON = 5000
MAX_LOOKALIKE_REASON = 2000
# The longest limited action; past ten years, propose a permanent one.
MAX_DURATION_DAYS = 3650


def _lock_case(case_id: int) -> Case:
    return Case.objects.select_for_update().get(pk=case_id)


def _require(user, perm: str, message: str) -> None:
    if user is None or not user.is_authenticated or not user.has_perm(perm):
        raise PermissionDenied(message)


def _clean_text(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError(f"{what} is required")
    if len(text) > MAX_REASON:
        raise ValidationError(f"{what} is too long (at most {MAX_REASON} characters)")
    return text


def _check_terms(kind: str, policy, category, duration_days) -> None:
    """A proposal names the rule it enforces and the abuse it saw, from the admins' lists."""
    if not isinstance(policy, Policy) or not policy.active:
        raise ValidationError("choose the policy this action enforces")
    if not isinstance(category, ViolationCategory) or not category.active:
        raise ValidationError("choose the violation category")
    if duration_days is None:
        if kind == A.Kind.SUSPEND:
            raise ValidationError("a suspension needs a length; a permanent one is a ban")
        return
    if not isinstance(duration_days, int) or not 1 <= duration_days <= MAX_DURATION_DAYS:
        raise ValidationError(
            f"the length is a whole number of days from 1 to {MAX_DURATION_DAYS}, or permanent"
        )


def _lookalike_reason(reason: str, included: int) -> str:
    """The reason for acting on ``included`` look-alikes: required when there are any,
    dropped when there are none (a reason for nothing would mislead the approver)."""
    if not included:
        return ""
    which = "is a look-alike" if included == 1 else "are look-alikes"
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            f"{included} of the chosen accounts {which} (they look like legitimate customers): "
            "say why they belong in this action, or leave them out"
        )
    if len(reason) > MAX_LOOKALIKE_REASON:
        raise ValidationError(
            f"the reason for including look-alikes is too long "
            f"(at most {MAX_LOOKALIKE_REASON} characters)"
        )
    return reason


def blast_radius_for(case: Case, account_ids: list[int], *, now=None) -> dict:
    """Load the facts for ``account_ids`` and compute the blast radius (frozen by the caller).

    Traffic comes from each account's latest score (one correlated subquery per account on
    the ``accountscore`` account index); organisations are counted platform-wide on the
    ``org_id`` index.
    """
    now = now or timezone.now()
    rows = list(
        with_latest_traffic(Account.objects.filter(pk__in=account_ids)).values(
            "pk", "account_id", "created_at", "plan", "org_id", "traffic", "run_id"
        )
    )
    others: dict[int, list[int]] = {}
    for account_id, case_id in (
        CaseAccount.objects.filter(account_id__in=account_ids, removed_at__isnull=True)
        .exclude(case=case)
        .filter(case__merged_into__isnull=True)
        .exclude(case__status__in=Case.CLOSED_STATUSES)
        .values_list("account_id", "case_id")
    ):
        others.setdefault(account_id, []).append(case_id)
    orgs = {r["org_id"] for r in rows if r["org_id"]}
    org_sizes = dict(
        Account.objects.filter(org_id__in=orgs)
        .values("org_id")
        .annotate(n=Count("pk"))
        .values_list("org_id", "n")
    )
    total = run_total_exchanges(max((r["run_id"] for r in rows if r["run_id"]), default=None))
    facts = [
        radius.AccountFacts(
            account_id=r["account_id"],
            created_at=r["created_at"],
            plan=r["plan"],
            org_id=r["org_id"],
            exchanges=int(r["traffic"] or 0),
            other_open_cases=sorted(others.get(r["pk"], [])),
        )
        for r in rows
    ]
    return radius.compute(facts, org_sizes=org_sizes, total_exchanges=total, now=now)


def _add_accounts(action: EnforcementAction, account_ids: list[int]) -> None:
    through = EnforcementAction.accounts.through
    through.objects.bulk_create(
        [through(enforcementaction_id=action.pk, account_id=pk) for pk in account_ids],
        batch_size=1000,
    )


@transaction.atomic
def action_propose(
    *,
    case: Case,
    by,
    kind: str,
    reason: str,
    policy: Policy,
    category: ViolationCategory,
    duration_days: int | None = None,
    account_ids: list[int] | None = None,
    lookalike_reason: str = "",
) -> EnforcementAction:
    """Propose ``kind`` on the case's accounts (all of them, or ``account_ids``), under
    ``policy`` for ``category`` of abuse, for ``duration_days`` (``None``: permanent).

    Accounts that look like legitimate customers (``cases.lookalikes``) are acted on only
    with a ``lookalike_reason``: every path that proposes (the form, a script, a future API)
    meets the same rule here. The audit event keeps the reason beside how many were included.

    The latest done evidence snapshot is pinned (a proposal without one is allowed and says
    so), the blast radius is computed and frozen, an open proposal on the case is superseded,
    and the case moves to pending approval.
    """
    _require(by, "cases.propose_action", "your role cannot propose enforcement actions")
    if kind not in A.PROPOSABLE_KINDS:
        raise ValidationError(f"cannot propose {kind!r}; choose ban, suspend or rate-limit")
    reason = _clean_text(reason, "a reason")
    _check_terms(kind, policy, category, duration_days)
    case = _lock_case(case.pk)
    if case.merged_into_id:
        raise ValidationError(f"this case was merged into case #{case.merged_into_id}")
    if not case.is_open:
        raise ValidationError(
            f"a {case.get_status_display().lower()} case takes no new proposals; reopen it first"
        )
    live = list(live_accounts_of(case).values_list("pk", flat=True))
    if account_ids is None:
        chosen = live
    else:
        chosen = sorted(set(account_ids))
        stray = set(chosen) - set(live)
        if stray:
            raise ValidationError(f"{len(stray)} selected account(s) are not on this case")
    if not chosen:
        raise ValidationError("there are no accounts to act on")
    included = case_lookalikes(case).filter(account_id__in=chosen).count()
    lookalike_reason = _lookalike_reason(lookalike_reason, included)
    snapshot = EvidenceSnapshot.objects.filter(case=case).done().first()
    now = timezone.now()
    blast = blast_radius_for(case, chosen, now=now)

    previous = (
        EnforcementAction.objects.select_for_update()
        .filter(case=case, status=A.Status.PROPOSED)
        .exclude(kind=A.Kind.REVERSE)
        .first()
    )
    if previous is not None:
        EnforcementAction.objects.filter(pk=previous.pk, status=A.Status.PROPOSED).update(
            status=A.Status.SUPERSEDED
        )
    action = EnforcementAction.objects.create(
        case=case,
        kind=kind,
        reason=reason,
        policy=policy,
        category=category,
        duration_days=duration_days,
        snapshot=snapshot,
        blast_radius=blast,
        supersedes=previous,
        proposed_by=by,
    )
    _add_accounts(action, chosen)
    if previous is not None:
        audit.record(
            "action.superseded",
            actor=by,
            case=case,
            target=previous,
            data={"action": previous.pk, "by_action": action.pk, "kind": previous.kind},
        )
    audit.record(
        "action.proposed",
        actor=by,
        case=case,
        target=action,
        data={
            "action": action.pk,
            "kind": kind,
            "accounts": len(chosen),
            "all_accounts": len(chosen) == len(live),
            "reason": reason,
            "policy": policy.code,
            "category": category.code,
            "duration_days": duration_days,
            "snapshot": snapshot.pk if snapshot else None,
            "supersedes": previous.pk if previous else None,
            "warnings": blast["warning_count"],
            "lookalikes": blast["lookalike_count"],
            "lookalikes_included": included,
            "lookalike_reason": lookalike_reason,
            "traffic_share": blast["traffic_share"],
        },
    )
    if case.status != S.PENDING_APPROVAL:
        case_change_status(
            case=case,
            to=S.PENDING_APPROVAL,
            by=by,
            reason=f"{action.get_kind_display()} proposed on {len(chosen)} account(s)",
            system=True,
        )
    return action


def reversible_accounts(action: EnforcementAction) -> list[tuple[int, str]]:
    """``(pk, account_id)`` of the action's accounts that no live reversal covers yet."""
    # Non-null: a NULL in a NOT IN list would hide every account.
    covered = EnforcementAction.objects.filter(
        reverses=action, status__in=A.LIVE_REVERSAL_STATUSES, accounts__isnull=False
    ).values("accounts")
    return list(
        action.accounts.exclude(pk__in=covered)
        .order_by("account_id")
        .values_list("pk", "account_id")
    )


@transaction.atomic
def action_request_reversal(
    *, action: EnforcementAction, by, reason: str, account_ids: list[int] | None = None
) -> EnforcementAction:
    """Ask for an executed action to be reversed on all its accounts not yet reversed, or on
    ``account_ids`` only (an appeal: the others stay under the action). Another approver
    decides (four eyes); delivery then returns those accounts to active on the platform."""
    _require(by, "cases.propose_action", "your role cannot request reversals")
    reason = _clean_text(reason, "a reason")
    case = _lock_case(action.case_id)
    original = EnforcementAction.objects.select_for_update().get(pk=action.pk)
    if original.is_reversal or original.status != A.Status.EXECUTED:
        raise ValidationError("only an executed ban, suspension or rate limit can be reversed")
    open_ids = [pk for pk, _ in reversible_accounts(original)]
    if not open_ids:
        raise ValidationError(
            "every account of this action is reversed, or its reversal is already requested"
        )
    if account_ids is None:
        chosen = open_ids
    else:
        chosen = sorted(set(account_ids))
        if not chosen:
            raise ValidationError("pick at least one account to reverse")
        if set(chosen) - set(open_ids):
            raise ValidationError(
                "some picked accounts are not under this action, or their reversal is "
                "already requested"
            )
    reversal = EnforcementAction.objects.create(
        case=case,
        kind=A.Kind.REVERSE,
        reverses=original,
        reason=reason,
        snapshot=EvidenceSnapshot.objects.filter(case=case).done().first(),
        blast_radius=blast_radius_for(case, chosen),
        proposed_by=by,
    )
    _add_accounts(reversal, chosen)
    audit.record(
        "action.reversal_requested",
        actor=by,
        case=case,
        target=reversal,
        data={
            "action": reversal.pk,
            "reverses": original.pk,
            "kind": original.kind,
            "accounts": len(chosen),
            "all_accounts": len(chosen) == len(open_ids),
            "account_ids": sorted(
                original.accounts.filter(pk__in=chosen).values_list("account_id", flat=True)
            )[:100],
            "reason": reason,
        },
    )
    return reversal


def ends_at_for(action: EnforcementAction, approved_at):
    if action.duration_days is None:
        return None
    return approved_at + timedelta(days=action.duration_days)


def build_payload(action: EnforcementAction, *, approved_by, approved_at) -> dict:
    """The message body every backend gets; fixed at approval, identical on every attempt.

    A reversal names the accounts it returns to active (all of the action's, or the few an
    appeal was upheld for) and repeats the reversed action's policy and category."""
    source = action.reverses if action.is_reversal else action
    accounts = sorted(action.accounts.values_list("account_id", flat=True))
    ends_at = None if action.is_reversal else ends_at_for(action, approved_at)
    payload = {
        "type": "enforcement.action",
        "version": 1,
        "idempotency_key": str(action.idempotency_key),
        "action_id": action.pk,
        "action": action.kind,
        "platform_status": "active" if action.is_reversal else A.PLATFORM_STATUS[action.kind],
        "reverses": None,
        "accounts": accounts,
        "account_count": len(accounts),
        "case": {"id": action.case_id, "url": f"{settings.SITE_URL}/cases/{action.case_id}/"},
        "reason": action.reason,
        "policy": source.policy.as_payload() if source.policy_id else None,
        "category": source.category.as_payload() if source.category_id else None,
        "duration_days": None if action.is_reversal else action.duration_days,
        "ends_at": ends_at.isoformat() if ends_at else None,
        "proposed_by": action.proposed_by.get_username(),
        "approved_by": approved_by.get_username(),
        "approved_at": approved_at.isoformat(),
    }
    if action.is_reversal:
        payload["reverses"] = {
            "action_id": source.pk,
            "action": source.kind,
            "idempotency_key": str(source.idempotency_key),
            "all_accounts": len(accounts) == source.accounts.count(),
        }
    return payload


@transaction.atomic
def action_decide(
    *,
    action: EnforcementAction,
    by,
    approve: bool,
    comment: str = "",
    outcome: str = "",
    reason_code: str = "",
) -> EnforcementAction:
    """Approve or reject a proposal (or a reversal request). Never by its proposer.

    Approval writes the outbox messages in this same transaction and enqueues their delivery
    after commit; rejecting the case's last open proposal returns the case to investigating.
    Approval labels the accounts (``cases.labels``): an action as confirmed fleet members, a
    reversal with ``outcome`` (legitimate or unsure), each with ``reason_code``.
    """
    _require(by, "cases.approve_action", "only an approver can decide on enforcement actions")
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationError("say why you reject it: a comment is required")
    if len(comment) > MAX_REASON:
        raise ValidationError(f"the comment is too long (at most {MAX_REASON} characters)")
    case = _lock_case(action.case_id)
    current = EnforcementAction.objects.select_related(
        "proposed_by", "reverses", "policy", "category"
    ).get(pk=action.pk)
    if current.proposed_by_id == by.pk:
        raise PermissionDenied("you proposed this; another approver must decide (four eyes)")
    if current.status != A.Status.PROPOSED:
        raise ValidationError(f"this proposal is already {current.get_status_display().lower()}")
    if approve and current.is_reversal and current.reverses.status != A.Status.EXECUTED:
        raise ValidationError("the action to reverse is no longer in force")
    now = timezone.now()
    decided = (
        EnforcementAction.objects.filter(pk=current.pk, status=A.Status.PROPOSED)
        .exclude(proposed_by=by)
        .update(
            status=A.Status.APPROVED if approve else A.Status.REJECTED,
            decided_by=by,
            decided_at=now,
            decision_comment=comment,
            ends_at=ends_at_for(current, now) if approve and not current.is_reversal else None,
        )
    )
    if decided != 1:
        raise ValidationError("someone else decided on this proposal first")
    current.refresh_from_db()
    data = {"action": current.pk, "kind": current.kind, "reason": comment}
    if current.is_reversal:
        data["reverses"] = current.reverses_id
    if approve:
        backends = backends_for_new_action()
        payload = build_payload(current, approved_by=by, approved_at=now)
        messages = OutboxMessage.objects.bulk_create(
            [OutboxMessage(action=current, backend=b, payload=payload) for b in backends]
        )
        verb = "action.reversal_approved" if current.is_reversal else "action.approved"
        audit.record(verb, actor=by, case=case, target=current, data={**data, "backends": backends})
        _label_decided(current, by=by, case=case, outcome=outcome, reason_code=reason_code)
        for message in messages:
            enqueue_on_commit(DELIVER_TASK, message.pk)
        notify.decided(current, by=by, approve=True, comment=comment)
        return current
    verb = "action.reversal_rejected" if current.is_reversal else "action.rejected"
    audit.record(verb, actor=by, case=case, target=current, data=data)
    notify.decided(current, by=by, approve=False, comment=comment)
    if not current.is_reversal and case.status == S.PENDING_APPROVAL:
        in_flight = case.actions.filter(
            status__in=[A.Status.PROPOSED, A.Status.APPROVED, A.Status.FAILED]
        ).exclude(kind=A.Kind.REVERSE)
        if not in_flight.exists():
            case_change_status(
                case=case,
                to=S.INVESTIGATING,
                by=by,
                reason=f"{current.get_kind_display()} proposal rejected: {comment}",
                system=True,
            )
    return current


def _label_decided(action: EnforcementAction, *, by, case, outcome: str, reason_code: str):
    """Label the accounts of an approved action or reversal."""
    if action.is_reversal:
        default_outcome, default_code = REVERSAL_DEFAULT
        if outcome == Outcome.CONFIRMED:
            raise ValidationError("a reversal concludes the accounts legitimate or unsure")
        # The reversal's own accounts: those it gives back, whether all of the action's or
        # some of them.
        source, accounts = Source.REVERSAL_APPROVED, action.accounts
    else:
        default_outcome, default_code = APPROVAL_DEFAULT
        if outcome and outcome != Outcome.CONFIRMED:
            raise ValidationError("an approved action confirms the accounts as fleet members")
        source, accounts = Source.ACTION_APPROVED, action.accounts
    labels_record(
        account_ids=list(accounts.values_list("pk", flat=True)),
        outcome=outcome or default_outcome,
        reason_code=reason_code or default_code,
        fallback=not reason_code,
        source=source,
        by=by,
        case=case,
        action=action,
        note=action.reason,
    )
