"""Bulk actions from the queue: the same workflow services, once per selected case.

Each case goes through the single-case service, so the rules (roles, transitions, reasons)
are the same as on the case page and each changed case gets its own audit event. A case the
rule refuses is skipped and reported; the others still change.
"""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from cases.labels.models import Source
from cases.models import AuditEvent, Case
from cases.services import workflow

ACTIONS = ("assign", "priority", "tag", "status")


@dataclass
class BulkResult:
    changed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        parts = [f"{len(self.changed)} changed"]
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} already so")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts)


def _apply_one(
    case: Case, *, action: str, by, value, reason: str, resolution: str, label: dict
) -> None:
    if action == "assign":
        workflow.case_assign(case=case, to=value, by=by)
    elif action == "priority":
        workflow.case_set_priority(case=case, priority=int(value), by=by)
    elif action == "tag":
        workflow.case_add_tag(case=case, name=value, by=by)
    elif action == "status":
        workflow.case_change_status(
            case=case,
            to=value,
            by=by,
            reason=reason,
            resolution=resolution,
            label_source=Source.BULK_DISMISSED,
            **label,
        )
    else:
        raise ValidationError(f"unknown bulk action {action!r}")


@transaction.atomic
def cases_bulk_apply(
    *,
    cases,
    action: str,
    by,
    value,
    reason: str = "",
    resolution: str = "",
    outcome: str = "",
    reason_code: str = "",
) -> BulkResult:
    """Apply ``action`` to each case; returns which changed, which already were, which not.
    Dismissed cases label their accounts with ``outcome`` and ``reason_code``."""
    if not by.has_perm("cases.work_case"):
        raise PermissionDenied("your role cannot change cases")
    result = BulkResult()
    for case in cases:
        before = AuditEvent.objects.filter(case=case).count()
        try:
            with transaction.atomic():
                _apply_one(
                    case,
                    action=action,
                    by=by,
                    value=value,
                    reason=reason,
                    resolution=resolution,
                    label={"outcome": outcome, "reason_code": reason_code},
                )
        except (ValidationError, PermissionDenied) as exc:
            message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            result.skipped[case.pk] = message
            continue
        if AuditEvent.objects.filter(case=case).count() > before:
            result.changed.append(case.pk)
        else:
            result.unchanged.append(case.pk)
    return result
