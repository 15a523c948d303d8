"""The case workflow: status transitions by role, assignment, priority, tags.

    new → triage → investigating → pending approval → actioned
      ↘────────────↘──────────────→ dismissed (with a resolution and a reason)
    actioned / dismissed → reopened to investigating (with a reason)

``pending_approval`` and ``actioned`` are entered only by the enforcement services
(``system=True``): a case is pending approval because a proposal exists, and actioned
because a proposal was approved. Everything here is enforced on the server; the
templates only mirror it.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from cases import audit
from cases.labels.models import Source
from cases.labels.services import RESOLUTION_DEFAULTS, labels_record
from cases.models import Case, CaseAccount, Tag

S = Case.Status

# from-status → {to-status: permission the user needs}
USER_TRANSITIONS: dict[str, dict[str, str]] = {
    S.NEW: {
        S.TRIAGE: "cases.work_case",
        S.INVESTIGATING: "cases.work_case",
        S.DISMISSED: "cases.work_case",
    },
    S.TRIAGE: {S.INVESTIGATING: "cases.work_case", S.DISMISSED: "cases.work_case"},
    S.INVESTIGATING: {S.TRIAGE: "cases.work_case", S.DISMISSED: "cases.work_case"},
    S.PENDING_APPROVAL: {},
    # Reopening: an actioned case reopens only for someone who could reverse the action.
    S.ACTIONED: {S.INVESTIGATING: "cases.approve_action"},
    S.DISMISSED: {S.INVESTIGATING: "cases.work_case"},
}
SYSTEM_ONLY = {S.PENDING_APPROVAL, S.ACTIONED}


def allowed_transitions(case: Case, user) -> list[str]:
    """The statuses ``user`` may move ``case`` to from where it is now."""
    return [
        to
        for to, perm in USER_TRANSITIONS.get(case.status, {}).items()
        if user.is_authenticated and user.has_perm(perm)
    ]


@transaction.atomic
def case_change_status(
    *,
    case: Case,
    to: str,
    by=None,
    reason: str = "",
    resolution: str = "",
    system: bool = False,
    outcome: str = "",
    reason_code: str = "",
    label_source: str = Source.CASE_CLOSED,
) -> Case:
    """Move ``case`` to status ``to``, recording who, why and from where.

    ``system=True`` is for the enforcement services (proposal, approval, rejection); it may
    enter ``pending_approval`` and ``actioned`` and leave ``pending_approval``.

    Dismissing a case labels each account on it with ``outcome`` and ``reason_code``
    (``cases.labels``); without them, with what the resolution says.
    """
    case = Case.objects.select_for_update().get(pk=case.pk)
    frm = case.status
    if to not in S.values:
        raise ValidationError(f"unknown status {to!r}")
    if frm == to:
        return case
    if not system:
        if to in SYSTEM_ONLY:
            raise ValidationError(
                f"a case becomes {S(to).label.lower()} through an enforcement action"
            )
        perm = USER_TRANSITIONS.get(frm, {}).get(to)
        if perm is None:
            raise ValidationError(
                f"a {S(frm).label.lower()} case cannot move to {S(to).label.lower()}"
            )
        if by is None or not by.has_perm(perm):
            raise PermissionDenied("your role cannot make this change")
    reopening = frm in Case.CLOSED_STATUSES and to not in Case.CLOSED_STATUSES
    if to == S.DISMISSED:
        if resolution not in Case.Resolution.values or not resolution:
            raise ValidationError("dismissing a case needs a resolution")
        if not reason.strip():
            raise ValidationError("dismissing a case needs a reason")
    if reopening and not reason.strip():
        raise ValidationError("reopening a case needs a reason")

    case.status = to
    if to in Case.CLOSED_STATUSES:
        case.decided_at = timezone.now()
        case.resolution = resolution or (Case.Resolution.ACTIONED if to == S.ACTIONED else "")
        case.resolution_reason = reason
    elif reopening:
        case.decided_at = None
        case.resolution = Case.Resolution.NONE
        case.resolution_reason = ""
    case.save(
        update_fields=["status", "decided_at", "resolution", "resolution_reason", "updated_at"]
    )
    if to == S.DISMISSED and resolution in RESOLUTION_DEFAULTS:
        default_outcome, default_code = RESOLUTION_DEFAULTS[resolution]
        accounts = CaseAccount.objects.filter(case=case, removed_at__isnull=True)
        labels_record(
            account_ids=list(accounts.values_list("account_id", flat=True)),
            outcome=outcome or default_outcome,
            reason_code=reason_code or default_code,
            fallback=not reason_code,
            source=label_source,
            by=by,
            case=case,
            note=reason,
        )
    audit.record(
        "case.reopened" if reopening else "case.status_changed",
        actor=by,
        case=case,
        target=case,
        data={"from": frm, "to": to, "reason": reason, "resolution": resolution},
    )
    return case


@transaction.atomic
def case_assign(*, case: Case, to, by) -> Case:
    """Assign ``case`` to user ``to`` (or unassign with ``None``)."""
    if not by.has_perm("cases.work_case"):
        raise PermissionDenied("your role cannot assign cases")
    if to is not None and not to.has_perm("cases.work_case"):
        raise ValidationError(f"{to.get_username()} cannot work cases")
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.assignee_id == (to.pk if to else None):
        return case
    before = case.assignee.get_username() if case.assignee else None
    case.assignee = to
    case.save(update_fields=["assignee", "updated_at"])
    audit.record(
        "case.assigned",
        actor=by,
        case=case,
        target=case,
        data={"from": before, "to": to.get_username() if to else None},
    )
    return case


@transaction.atomic
def case_set_priority(*, case: Case, priority: int, by) -> Case:
    """Change priority; the SLA due date moves with it, counted from when the case opened."""
    if not by.has_perm("cases.work_case"):
        raise PermissionDenied("your role cannot change priority")
    if priority not in Case.Priority.values:
        raise ValidationError(f"unknown priority {priority!r}")
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.priority == priority and case.due_at is not None:
        return case
    before = case.priority
    case.priority = priority
    case.due_at = case.sla_due()
    case.save(update_fields=["priority", "due_at", "updated_at"])
    audit.record(
        "case.priority_changed",
        actor=by,
        case=case,
        target=case,
        data={"from": before, "to": priority},
    )
    return case


def _require_work(by) -> None:
    if by is None or not by.has_perm("cases.work_case"):
        raise PermissionDenied("your role cannot change cases")


def _clean_tag(name: str) -> str:
    clean = slugify(name)[:64]
    if not clean:
        raise ValidationError("a tag needs letters or digits")
    return clean


@transaction.atomic
def case_add_tag(*, case: Case, name: str, by) -> Tag | None:
    """Tag ``case`` (tags are slugs, created on first use). Returns None if already tagged."""
    _require_work(by)
    tag, _ = Tag.objects.get_or_create(name=_clean_tag(name))
    if case.tags.filter(pk=tag.pk).exists():
        return None
    case.tags.add(tag)
    Case.objects.filter(pk=case.pk).update(updated_at=timezone.now())
    audit.record("case.tagged", actor=by, case=case, target=case, data={"tag": tag.name})
    return tag


@transaction.atomic
def case_remove_tag(*, case: Case, name: str, by) -> bool:
    _require_work(by)
    tag = Tag.objects.filter(name=name).first()
    if tag is None or not case.tags.filter(pk=tag.pk).exists():
        return False
    case.tags.remove(tag)
    Case.objects.filter(pk=case.pk).update(updated_at=timezone.now())
    audit.record("case.untagged", actor=by, case=case, target=case, data={"tag": tag.name})
    return True
