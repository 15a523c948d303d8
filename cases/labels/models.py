"""Labels: one current conclusion per account, and every revision of it.

``AccountLabel`` is what is concluded about an account now; ``AccountLabelRevision`` keeps
each conclusion ever recorded (the first included), so a reversal or an appeal revises a
label without losing what was decided before. Both are written only by
``cases.labels.services.labels_record``.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Outcome(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed fleet member"
    LEGITIMATE = "legitimate", "Legitimate"
    UNSURE = "unsure", "Unsure"


class Source(models.TextChoices):
    CASE_CLOSED = "case_closed", "Case closed"
    ACCOUNT_DISMISSED = "account_dismissed", "Account dismissed from a case"
    BULK_DISMISSED = "bulk_dismissed", "Cases dismissed in bulk"
    ACTION_APPROVED = "action_approved", "Enforcement action approved"
    REVERSAL_APPROVED = "reversal_approved", "Enforcement action reversed"


# The list a new installation starts with (migration 0009 writes it; admins edit it from
# there). The codes the deciding paths fall back on are among them.
STARTING_REASON_CODES = [
    ("shared-infrastructure", "Shares infrastructure or a card with the fleet", "confirmed"),
    ("extraction-prompts", "Extraction prompts (reasoning traces, capabilities)", "confirmed"),
    ("synchronised-shifts", "Works the fleet's synchronised shifts", "confirmed"),
    ("fleet-confirmed", "Confirmed in enforcement review", "confirmed"),
    ("known-customer", "Known customer or contract", "legitimate"),
    (
        "legitimate-lookalike",
        "Legitimate look-alike (shared template, agent, benchmark)",
        "legitimate",
    ),
    ("shared-network", "Campus, NAT or proxy exit shared with strangers", "legitimate"),
    ("false-positive", "Detection false positive", "legitimate"),
    ("reversed-on-appeal", "Reversed on appeal or review", "legitimate"),
    ("insufficient-evidence", "Insufficient evidence either way", "unsure"),
]


class ReasonCodeQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def for_outcome(self, outcome: str):
        """Codes that may explain ``outcome``: those made for it and those for any."""
        return self.active().filter(models.Q(outcome=outcome) | models.Q(outcome=""))


class ReasonCode(models.Model):
    """One entry of the maintained list of reasons a decision may give (edited in the admin).

    A code is never deleted once used: retiring it (``is_active``) keeps old labels readable.
    """

    code = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=200)
    outcome = models.CharField(
        max_length=16,
        choices=Outcome.choices,
        blank=True,
        default="",
        help_text="The outcome this reason explains; blank for any.",
    )
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=100)

    objects = ReasonCodeQuerySet.as_manager()

    class Meta:
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


class LabelFields(models.Model):
    account = models.ForeignKey("detection.Account", on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.ForeignKey(ReasonCode, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=32, choices=Source.choices)
    note = models.TextField(blank=True, default="")
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.ForeignKey(
        "cases.EnforcementAction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class AccountLabel(LabelFields):
    """The current conclusion about one account."""

    revision_count = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account"], name="accountlabel_account_uniq")
        ]
        indexes = [models.Index(fields=["outcome", "decided_at"], name="accountlabel_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.outcome}"


class AccountLabelRevision(LabelFields):
    """One conclusion as it was recorded; never changed."""

    class Meta:
        ordering = ["-decided_at", "-pk"]
        indexes = [models.Index(fields=["account", "decided_at"], name="labelrevision_account_idx")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.outcome} at {self.decided_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("a label revision is never changed; record a new one")
        super().save(*args, **kwargs)
