"""The investigation: cases, their accounts, notes, evidence, enforcement and the audit log.

One module per area, so each can be read on its own; everything is importable from here.
"""

from cases.models.audit import AuditEvent
from cases.models.case import Case, CaseAccount, Note, NoteRevision, Notification, Tag
from cases.models.enforcement import DeliveryAttempt, EnforcementAction, OutboxMessage
from cases.models.evidence import Evidence, EvidenceSnapshot
from cases.models.exports import Export

__all__ = [
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
    "Tag",
]
