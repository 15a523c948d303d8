"""Enforcement: proposal → four-eyes decision → delivery through an outbox → reversal.

The write side is ``cases.enforcement.services``; these models hold the rules about one row
and the queryset filters the services and pages share. Three invariants matter most:

* A proposal never changes after it is made. ``EnforcementAction.save()`` refuses to update
  an existing row; the services move ``status`` with compare-and-set ``UPDATE``s, and a new
  proposal on the same case supersedes the open one instead of editing it.
* A decision and the ``OutboxMessage`` rows it owes are committed together, so an approved
  action is never left without its deliveries (and a rejected one never gets any).
* A message is delivered, and an action executed, at most once: workers claim a message
  with ``UPDATE ... WHERE status='pending'`` and finish it with
  ``UPDATE ... WHERE status='delivering' AND claim_token=<theirs>``; only the update that
  changed a row goes on to do anything else.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class ImmutableActionError(Exception):
    """A proposal is immutable once made: supersede it with a new one instead."""


class TermQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class EnforcementTerm(models.Model):
    """An entry of a list admins maintain (policies, violation categories).

    An entry is retired by unticking ``active`` rather than deleted: actions keep pointing at
    the entry they were approved under, so a past decision still reads as it was made.
    """

    code = models.SlugField(
        max_length=64, unique=True, help_text="Stable identifier sent to the account platform."
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True, help_text="Offered when proposing an action.")
    position = models.PositiveIntegerField(default=0, help_text="Order in the list.")

    objects = TermQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def as_payload(self) -> dict:
        return {"code": self.code, "name": self.name}


class Policy(EnforcementTerm):
    """The rule an action enforces: a clause of the usage policy or terms of service."""

    class Meta(EnforcementTerm.Meta):
        verbose_name_plural = "policies"


class ViolationCategory(EnforcementTerm):
    """What kind of abuse the accounts committed, for reporting and for the platform."""

    class Meta(EnforcementTerm.Meta):
        verbose_name_plural = "violation categories"


class EnforcementActionQuerySet(models.QuerySet):
    def open_proposals(self):
        return self.filter(status=EnforcementAction.Status.PROPOSED)

    def awaiting_decision_by(self, user):
        """Proposals (and reversal requests) ``user`` could decide: not their own."""
        return self.open_proposals().exclude(proposed_by=user)

    def in_force(self):
        """Executed account actions not (yet) reversed."""
        return self.filter(status=EnforcementAction.Status.EXECUTED).exclude(
            kind=EnforcementAction.Kind.REVERSE
        )

    def took_effect(self):
        """Account actions that reached the platform (``executed_at`` set), whether or not
        they were reversed since; reversals themselves are not account actions."""
        S = EnforcementAction.Status
        return self.filter(status__in=[S.EXECUTED, S.REVERSED]).exclude(
            kind=EnforcementAction.Kind.REVERSE
        )

    def reversal_requests(self):
        """Reversals asked for, whatever became of them (a replaced request excepted): the
        closest thing the console has to appeals against its actions."""
        return self.filter(kind=EnforcementAction.Kind.REVERSE).exclude(
            status=EnforcementAction.Status.SUPERSEDED
        )


class EnforcementAction(models.Model):
    """A proposed action on accounts: proposal → approval → delivery → possible reversal.

    A proposal never changes after it is made; a new proposal supersedes it. Approval and
    the outbox rows it creates commit together, so delivery can never be lost or doubled.
    A reversal is an action of its own (kind ``reverse``, ``reverses`` set): requested by one
    person, approved by another, delivered like any other action, with its own idempotency
    key. It covers all of the action's accounts or only some (an appeal): the others stay
    under the action, which reads ``reversed`` only once every account has been reversed. An
    account is in at most one live reversal of an action (checked under the case lock).
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

    # What the account platform shows for an account once an action of this kind is
    # delivered; the most severe action in force wins (ban > suspend > rate-limit).
    PLATFORM_STATUS = {
        Kind.BAN: "banned",
        Kind.SUSPEND: "suspended",
        Kind.RATE_LIMIT: "rate_limited",
    }
    SEVERITY = {Kind.BAN: 3, Kind.SUSPEND: 2, Kind.RATE_LIMIT: 1}
    PROPOSABLE_KINDS = (Kind.BAN, Kind.SUSPEND, Kind.RATE_LIMIT)

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    accounts = models.ManyToManyField("detection.Account", related_name="enforcement_actions")
    reason = models.TextField()
    # Required on a proposal (the services check it); a reversal carries none of its own.
    policy = models.ForeignKey(
        Policy, null=True, blank=True, on_delete=models.PROTECT, related_name="actions"
    )
    category = models.ForeignKey(
        ViolationCategory,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="actions",
        verbose_name="violation category",
    )
    # How long the action lasts once approved; empty means permanent.
    duration_days = models.PositiveIntegerField(null=True, blank=True)
    # Set at approval (approval time + duration_days), with the decision.
    ends_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.ForeignKey(
        "cases.EvidenceSnapshot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The blast radius as computed when proposed (accounts, traffic share, warnings); frozen.
    # Shape: see ``cases.enforcement.blast_radius``.
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

    objects = EnforcementActionQuerySet.as_manager()

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [models.Index(fields=["status"], name="action_status_idx")]
        constraints = [
            # At most one open account proposal per case (a new one supersedes it) ...
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(status="proposed") & ~Q(kind="reverse"),
                name="action_one_open_proposal_per_case",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id} ({self.status})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableActionError(
                "an enforcement action cannot be edited; propose a new one to supersede it"
            )
        super().save(*args, **kwargs)

    LIVE_REVERSAL_STATUSES = (Status.PROPOSED, Status.APPROVED, Status.EXECUTED, Status.FAILED)

    @property
    def is_reversal(self) -> bool:
        return self.kind == self.Kind.REVERSE

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PROPOSED

    @property
    def can_be_reversed(self) -> bool:
        return self.status == self.Status.EXECUTED and not self.is_reversal

    def _reversal_accounts(self, statuses) -> int:
        """Accounts covered by this action's reversals in ``statuses``; reads the reversals
        prefetched with ``account_total`` (``selectors.actions_of_case``)."""
        return sum(
            getattr(r, "account_total", 0) for r in self.reversals.all() if r.status in statuses
        )

    @property
    def reversed_account_count(self) -> int:
        return self._reversal_accounts((self.Status.EXECUTED,))

    @property
    def has_reversible_accounts(self) -> bool:
        """Executed, and some accounts are not yet reversed or awaiting a reversal."""
        if not self.can_be_reversed:
            return False
        live = self._reversal_accounts(self.LIVE_REVERSAL_STATUSES)
        return getattr(self, "account_total", 0) > live

    @property
    def state_label(self) -> str:
        """ "banned", "suspended", "rate-limited": what the action leaves an account."""
        return A_STATE_LABELS.get(self.kind, "")

    @property
    def length_label(self) -> str:
        """ "permanent", "30 days": how long the action lasts."""
        if self.is_reversal:
            return ""
        if self.duration_days is None:
            return "permanent"
        return f"{self.duration_days} day{'s' if self.duration_days != 1 else ''}"

    @property
    def verb_label(self) -> str:
        """ "ban", "suspension", "rate limit", "reversal": for sentences."""
        return {
            self.Kind.BAN: "ban",
            self.Kind.SUSPEND: "suspension",
            self.Kind.RATE_LIMIT: "rate limit",
            self.Kind.REVERSE: "reversal",
        }[self.kind]


A_STATE_LABELS = {
    EnforcementAction.Kind.BAN: "banned",
    EnforcementAction.Kind.SUSPEND: "suspended",
    EnforcementAction.Kind.RATE_LIMIT: "rate-limited",
}


class OutboxMessageQuerySet(models.QuerySet):
    def due(self, now):
        """Pending messages whose next attempt time has come."""
        return self.filter(status=OutboxMessage.Status.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )

    def lease_expired(self, now):
        """Messages a worker claimed and never finished (it died or hung past its lease)."""
        return self.filter(status=OutboxMessage.Status.DELIVERING, claimed_until__lt=now)

    def dead(self):
        return self.filter(status=OutboxMessage.Status.DEAD)


class OutboxMessage(models.Model):
    """A delivery owed to one backend, written in the transaction of the decision that owes it.

    ``payload`` is fixed when the message is written, so every attempt sends the same bytes
    with the same idempotency key. ``attempts`` counts claims (a claim whose worker died counts
    too); ``claim_token`` fences a worker whose lease expired from finishing a message another
    worker has since claimed.
    """

    class Backend(models.TextChoices):
        WEBHOOK = "webhook", "Account platform webhook"
        BANLIST = "banlist", "Ban list"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERING = "delivering", "Delivering"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead-lettered"

    action = models.ForeignKey(EnforcementAction, on_delete=models.PROTECT, related_name="outbox")
    backend = models.CharField(max_length=32, choices=Backend.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=36, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = OutboxMessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["action", "backend"], name="outbox_action_backend_uniq")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.backend} delivery of action {self.action_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at delivering a message, successful or not (a lost worker's try included)."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(default=0, help_text="The message's attempt number.")
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} on {self.message_id}: {'ok' if self.ok else 'failed'}"


class BanListEntry(models.Model):
    """An account on the published ban list, put there by delivering an action to the ban list
    backend and lifted by delivering its reversal. The downloadable list is the entries not
    lifted; rows are kept after lifting so the list's history can be read back."""

    action = models.ForeignKey(
        EnforcementAction, on_delete=models.PROTECT, related_name="banlist_entries"
    )
    account = models.ForeignKey(
        "detection.Account", on_delete=models.PROTECT, related_name="banlist_entries"
    )
    kind = models.CharField(max_length=16, choices=EnforcementAction.Kind.choices)
    # When a suspension (or a ban of limited length) ends; empty means permanent.
    ends_at = models.DateTimeField(null=True, blank=True)
    listed_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        EnforcementAction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["account_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["action", "account"], name="banlist_action_account_uniq"
            )
        ]
        indexes = [models.Index(fields=["lifted_at"], name="banlist_lifted_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} ({self.kind} by action {self.action_id})"
