"""Enforcement writes: proposals, four-eyes decisions, reversals (``proposals``) and the
transactional outbox that delivers them (``delivery``). Import from here."""

from cases.enforcement.services.delivery import (
    outbox_deliver,
    outbox_retry,
    outbox_sweep,
)
from cases.enforcement.services.proposals import (
    action_decide,
    action_propose,
    action_request_reversal,
    blast_radius_for,
    reversible_accounts,
)

__all__ = [
    "action_decide",
    "action_propose",
    "action_request_reversal",
    "blast_radius_for",
    "outbox_deliver",
    "outbox_retry",
    "outbox_sweep",
    "reversible_accounts",
]
