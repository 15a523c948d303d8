"""Recording labels: the one writer of ``AccountLabel`` and its revisions.

Every path that decides an account calls ``labels_record`` inside its own transaction:
closing a case (``cases.services.workflow``), taking an account off a case as legitimate
(``cases.services.accounts``), dismissing cases in bulk (through the same workflow service),
approving an enforcement action and approving its reversal
(``cases.enforcement.services.proposals``). A new decision about an account revises its
label; the revision before it stays in the history.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cases import audit
from cases.labels.models import (
    STARTING_REASON_CODES,
    AccountLabel,
    AccountLabelRevision,
    Outcome,
    ReasonCode,
    Source,
)
from detection.models import Account

# The reason a decision gives when its dialog offered none: what the case's resolution, or
# the kind of decision, already says.
RESOLUTION_DEFAULTS = {
    "false_positive": (Outcome.LEGITIMATE, "false-positive"),
    "legitimate": (Outcome.LEGITIMATE, "legitimate-lookalike"),
    "insufficient_evidence": (Outcome.UNSURE, "insufficient-evidence"),
}
APPROVAL_DEFAULT = (Outcome.CONFIRMED, "fleet-confirmed")
REVERSAL_DEFAULT = (Outcome.LEGITIMATE, "reversed-on-appeal")
# One audit event names at most this many accounts; the count is always exact.
AUDIT_ACCOUNTS = 50


def _starting_code(code: str) -> ReasonCode | None:
    """A code of the starting list, written again if it went missing (a database restored
    without its data migration's rows): a fallback must not fail the decision it labels."""
    for position, (name, label, outcome) in enumerate(STARTING_REASON_CODES):
        if name == code:
            reason, _ = ReasonCode.objects.get_or_create(
                code=code, defaults={"label": label, "outcome": outcome, "position": position * 10}
            )
            return reason
    return None


def reason_code_get(code: str, outcome: str, *, fallback: bool = False) -> ReasonCode:
    """The active reason ``code``, checked to explain ``outcome``."""
    if outcome not in Outcome.values:
        raise ValidationError(f"unknown outcome {outcome!r}")
    reason = ReasonCode.objects.active().filter(code=code).first()
    if reason is None and fallback and not ReasonCode.objects.filter(code=code).exists():
        reason = _starting_code(code)
    if reason is None:
        raise ValidationError(f"unknown reason code {code!r}")
    if reason.outcome and reason.outcome != outcome:
        raise ValidationError(
            f"“{reason.label}” explains {Outcome(reason.outcome).label.lower()}, "
            f"not {Outcome(outcome).label.lower()}"
        )
    return reason


@transaction.atomic
def labels_record(
    *,
    account_ids: list[int],
    outcome: str,
    reason_code: str,
    source: str,
    by=None,
    case=None,
    action=None,
    note: str = "",
    fallback: bool = False,
) -> list[AccountLabel]:
    """Record ``outcome`` for each account (pks), revising any earlier label; one audit event.
    ``fallback``: the code is a deciding path's default, not a person's choice."""
    reason = reason_code_get(reason_code, outcome, fallback=fallback)
    if source not in Source.values:
        raise ValidationError(f"unknown label source {source!r}")
    pks = sorted(set(account_ids))
    if not pks:
        return []
    actor = by if by is not None and by.is_authenticated else None
    now = timezone.now()
    fields = {
        "outcome": outcome,
        "reason": reason,
        "source": source,
        "note": note.strip()[:2000],
        "case": case,
        "action": action,
        "decided_by": actor,
        "decided_at": now,
    }
    current = {
        label.account_id: label
        for label in AccountLabel.objects.select_for_update().filter(account_id__in=pks)
    }
    changed, created = [], []
    for pk in pks:
        label = current.get(pk)
        if label is None:
            created.append(AccountLabel(account_id=pk, **fields))
            continue
        for name, value in fields.items():
            setattr(label, name, value)
        label.revision_count += 1
        changed.append(label)
    AccountLabel.objects.bulk_create(created)
    AccountLabel.objects.bulk_update(changed, [*fields, "revision_count"])
    AccountLabelRevision.objects.bulk_create(
        [AccountLabelRevision(account_id=pk, **fields) for pk in pks]
    )
    names = list(
        Account.objects.filter(pk__in=pks[:AUDIT_ACCOUNTS]).values_list("account_id", flat=True)
    )
    audit.record(
        "label.recorded",
        actor=actor,
        case=case,
        target=case or action,
        data={
            "outcome": outcome,
            "reason_code": reason.code,
            "source": source,
            "accounts": len(pks),
            "account_ids": names,
            "revised": len(changed),
            "note": fields["note"],
        },
    )
    return [*created, *changed]
