"""Telling the proposer what became of their proposal: approved, rejected, delivered, delivery
failed, reversed. Called by the services inside their transactions (see
``cases.services.notifications``), never by views."""

from __future__ import annotations

from cases.enforcement.models import EnforcementAction
from cases.services.notifications import notify


def _what(action: EnforcementAction) -> str:
    """ "ban #12 on case #3", "reversal #14 of ban #12 on case #3"."""
    if action.is_reversal:
        original = f"{action.reverses.verb_label} #{action.reverses_id}"
        return f"reversal #{action.pk} of {original} on case #{action.case_id}"
    return f"{action.verb_label} #{action.pk} on case #{action.case_id}"


def decided(action: EnforcementAction, *, by, approve: bool, comment: str) -> None:
    who = by.get_username()
    if approve:
        message = f"{who} approved your {_what(action)}; delivery is under way."
    else:
        message = f"{who} rejected your {_what(action)}: {comment}"
    notify(user=action.proposed_by, case=action.case, message=message)


def delivered(action: EnforcementAction, *, accounts: int) -> None:
    """Every backend confirmed: the action is in force (a reversal: accounts active again)."""
    if action.is_reversal:
        message = f"Your {_what(action)} is delivered: {accounts} account(s) active again."
    else:
        message = f"Your {_what(action)} is delivered and in force on {accounts} account(s)."
    notify(user=action.proposed_by, case=action.case, message=message)
    if action.is_reversal and action.reverses.proposed_by_id != action.proposed_by_id:
        original = action.reverses
        notify(
            user=original.proposed_by,
            case=action.case,
            message=(
                f"Your {_what(original)} was reversed for {accounts} account(s) "
                f"at {action.proposed_by.get_username()}'s request: {action.reason}"
            ),
        )


def delivery_failed(action: EnforcementAction, *, backend: str, error: str) -> None:
    notify(
        user=action.proposed_by,
        case=action.case,
        message=(
            f"Delivery of your {_what(action)} to the {backend} failed and needs an approver "
            f"to retry it: {error}"
        ),
    )
