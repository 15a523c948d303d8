import uuid

from django.conf import settings
from django.db import models


class EnforcementAction(models.Model):
    """A proposed action on accounts: proposal → approval → delivery → possible reversal.

    A proposal never changes after it is made; a new proposal supersedes it. Approval and
    the outbox rows it creates commit together, so delivery can never be lost or doubled.
    """

    class Kind(models.TextChoices):
        BAN = "ban", "Ban"
        SUSPEND = "suspend", "Suspend"
        RATE_LIMIT = "rate_limit", "Rate-limit"
        REVERSE = "reverse", "Reverse"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved, delivering"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded"
        EXECUTED = "executed", "Executed"
        FAILED = "failed", "Delivery failed"
        REVERSED = "reversed", "Reversed"

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    accounts = models.ManyToManyField("detection.Account", related_name="enforcement_actions")
    reason = models.TextField()
    snapshot = models.ForeignKey(
        "cases.EvidenceSnapshot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The blast radius as computed when proposed (accounts, traffic share, warnings).
    blast_radius = models.JSONField(default=dict, blank=True)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True, default="")
    executed_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [models.Index(fields=["status"], name="action_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id} ({self.status})"


class OutboxMessage(models.Model):
    """A delivery owed to the account platform, written with the decision that owes it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERING = "delivering", "Delivering"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead-lettered"

    action = models.ForeignKey(EnforcementAction, on_delete=models.PROTECT, related_name="outbox")
    backend = models.CharField(max_length=32)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["action", "backend"], name="outbox_action_backend_uniq")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.backend} delivery of action {self.action_id} ({self.status})"


class DeliveryAttempt(models.Model):
    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"attempt on {self.message_id}: {'ok' if self.ok else 'failed'}"
