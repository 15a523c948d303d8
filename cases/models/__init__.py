"""The investigation: cases, their accounts, notes, evidence, enforcement, labels, the audit log.

One module per area, so each can be read on its own; everything is importable from here.
Enforcement's and evidence's models live in their own packages (``cases.enforcement.models``,
``cases.evidence.models``) and are imported here, so Django registers them with the ``cases``
app when it loads this module (their tables and migrations stay the app's).
"""

from cases.enforcement.models import (
    DeliveryAttempt,
    EnforcementAction,
    OutboxMessage,
    Policy,
    ViolationCategory,
)
from cases.evidence.models import Evidence, EvidenceSnapshot
from cases.labels.models import AccountLabel, AccountLabelRevision, ReasonCode
from cases.models.audit import AuditEvent
from cases.models.case import Case, CaseAccount, Note, NoteRevision, Notification, Tag
from cases.models.exports import Export
from cases.models.views import SavedView

__all__ = [
    "AccountLabel",
    "AccountLabelRevision",
    "AuditEvent",
    "Case",
    "CaseAccount",
    "DeliveryAttempt",
    "EnforcementAction",
    "Evidence",
    "EvidenceSnapshot",
    "Export",
    "Note",
    "NoteRevision",
    "Notification",
    "OutboxMessage",
    "Policy",
    "ReasonCode",
    "SavedView",
    "Tag",
    "ViolationCategory",
]
