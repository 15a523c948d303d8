"""Writing the audit log. Call inside the transaction that makes the change."""

from typing import Any

from cases.models import AuditEvent


def record(
    verb: str,
    *,
    actor=None,
    case=None,
    target=None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        verb=verb,
        actor=actor if actor is not None and actor.is_authenticated else None,
        case=case,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
    )
