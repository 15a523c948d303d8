from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from detection.models import Exchange


class Tag(models.Model):
    name = models.SlugField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CaseQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status__in=Case.CLOSED_STATUSES)

    def closed(self):
        return self.filter(status__in=Case.CLOSED_STATUSES)

    def assigned_to(self, user):
        return self.filter(assignee=user)

    def unassigned(self):
        return self.filter(assignee__isnull=True)

    def overdue(self, now=None):
        return self.open().filter(due_at__lt=now or timezone.now())

    def refresh_first_activity(self) -> int:
        """Write each case's ``first_activity_at`` from its live accounts, in one statement."""
        return self.update(first_activity_at=first_activity())


def first_activity() -> Coalesce:
    """The first activity of the case in ``OuterRef("pk")``: the first request of any of its
    live accounts, or their first registration for a case with no traffic at all.

    Per account, the first request is one probe of the ``exchange(account, ts)`` index, never
    a scan of its traffic; the earliest of those is taken in SQL, so a case costs one probe
    per live account whatever their traffic.
    """
    first_request = (
        Exchange.objects.filter(account=models.OuterRef("account_id")).order_by("ts").values("ts")
    )
    links = CaseAccount.objects.filter(case=models.OuterRef("pk"), removed_at__isnull=True)
    earliest_request = (
        links.annotate(first=models.Subquery(first_request[:1]))
        .filter(first__isnull=False)
        .order_by("first")
        .values("first")[:1]
    )
    earliest_registration = (
        links.filter(account__created_at__isnull=False)
        .order_by("account__created_at")
        .values("account__created_at")[:1]
    )
    return Coalesce(
        models.Subquery(earliest_request),
        models.Subquery(earliest_registration),
        output_field=models.DateTimeField(),
    )


class Case(models.Model):
    """An investigation: one campaign, or one lone high-risk account.

    Detection's findings open and update cases through ``cases.services.opening``, keyed by
    ``subject_key`` so that a second run finds the same case instead of opening another.
    Detection only ever refreshes the detection-owned fields (risk, counts, explanation);
    what analysts set (status, priority, assignee, tags, notes) is theirs.
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        TRIAGE = "triage", "Triage"
        INVESTIGATING = "investigating", "Investigating"
        PENDING_APPROVAL = "pending_approval", "Pending approval"
        ACTIONED = "actioned", "Actioned"
        DISMISSED = "dismissed", "Dismissed"

    class Priority(models.IntegerChoices):
        CRITICAL = 1, "P1 critical"
        HIGH = 2, "P2 high"
        MEDIUM = 3, "P3 medium"
        LOW = 4, "P4 low"

    class Kind(models.TextChoices):
        CAMPAIGN = "campaign", "Campaign"
        ACCOUNT = "account", "Single account"

    class Resolution(models.TextChoices):
        NONE = "", "—"
        ACTIONED = "actioned", "Action taken"
        FALSE_POSITIVE = "false_positive", "False positive"
        LEGITIMATE = "legitimate", "Legitimate look-alike"
        INSUFFICIENT = "insufficient_evidence", "Insufficient evidence"
        DUPLICATE = "duplicate", "Duplicate (merged)"

    CLOSED_STATUSES = (Status.ACTIONED, Status.DISMISSED)
    # Hours to the due date from opening, by priority.
    SLA_HOURS = {
        Priority.CRITICAL: 24,
        Priority.HIGH: 72,
        Priority.MEDIUM: 7 * 24,
        Priority.LOW: 14 * 24,
    }

    title = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CAMPAIGN)
    # "campaign:<id>" or "account:<account_id>": the natural key that makes sync idempotent.
    subject_key = models.CharField(max_length=300)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
    )
    campaign = models.ForeignKey(
        "detection.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="cases")
    # Detection-owned, refreshed by each run that still flags the subject.
    risk_score = models.FloatField(default=0)
    account_count = models.PositiveIntegerField(default=0)
    exchange_count = models.BigIntegerField(default=0)
    traffic_share = models.FloatField(default=0, help_text="Share of all exchanges in the window.")
    explanation = models.JSONField(default=dict, blank=True)
    last_run = models.ForeignKey(
        "detection.DetectionRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The first request of any of the live accounts (their first registration if none has
    # traffic): ``first_activity()``, written whenever the case's accounts change or a run
    # updates it, so "first activity to detection" in the period report reads the case alone.
    first_activity_at = models.DateTimeField(null=True, blank=True)
    # Analyst-owned.
    resolution = models.CharField(
        max_length=32, choices=Resolution.choices, blank=True, default=Resolution.NONE
    )
    resolution_reason = models.TextField(blank=True, default="")
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_cases"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-risk_score", "-id"]
        permissions = [
            ("work_case", "Can triage, annotate and assign cases"),
            ("propose_action", "Can propose enforcement actions"),
            ("approve_action", "Can approve, reject and reverse enforcement actions"),
            ("export_cases", "Can export case summaries and reports"),
            ("view_prompt_text", "Can view full prompt text"),
        ]
        constraints = [
            # One live case per subject; a merged-away case gives up its key.
            models.UniqueConstraint(
                fields=["subject_key"],
                condition=models.Q(merged_into__isnull=True),
                name="case_subject_key_live_uniq",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-risk_score"], name="case_status_risk_idx"),
            models.Index(fields=["assignee", "status"], name="case_assignee_status_idx"),
            models.Index(fields=["-risk_score", "-id"], name="case_risk_id_idx"),
            # The open cases alone, in the default queue's order: a page number typed deep
            # into the queue reads its key by counting entries (cases/paging.py), and here it
            # counts open cases only, with no status to test per entry (docs/benchmarks.md
            # has the figures against case_risk_id_status_idx). The statuses
            # are CLOSED_STATUSES (the class's names are out of reach in Meta; a test checks).
            models.Index(
                fields=["-risk_score", "-id"],
                name="case_open_risk_id_idx",
                condition=~models.Q(status__in=("actioned", "dismissed")),
            ),
            # The queue sorts by these too; without an index each sort reads every open case.
            # Each ends with the id, as the sort does, so a page's cursor (cases/paging.py)
            # starts an index scan where the last page ended.
            models.Index(fields=["-exchange_count", "-id"], name="case_exchanges_id_idx"),
            models.Index(fields=["-account_count", "-id"], name="case_accounts_id_idx"),
            models.Index(fields=["-decided_at", "-id"], name="case_decided_id_idx"),
            models.Index(fields=["-opened_at", "-id"], name="case_opened_id_idx"),
            # The period report's cases opened (how many, how many campaigns, the median
            # time from first activity) read from this index alone, not from the wide rows.
            # Key columns rather than ``INCLUDE``, which SQLite lacks.
            models.Index(
                fields=["opened_at", "kind", "first_activity_at"], name="case_opened_report_idx"
            ),
            models.Index(fields=["due_at", "id"], name="case_due_id_idx"),
            # One status by due date (the triage view): without the status first, a page walks
            # the due dates of every status and drops the others.
            models.Index(fields=["status", "due_at", "id"], name="case_status_due_id_idx"),
            models.Index(fields=["priority", "id"], name="case_priority_id_idx"),
            models.Index(fields=["title", "id"], name="case_title_id_idx"),
            # Any assignee filter, in the queue's default order; and of the open cases only,
            # for "My open cases" and any assignee filter of the open queue: an analyst's page
            # reads their open cases however many they have closed (through the first, every
            # closed one was read and dropped).
            models.Index(fields=["assignee", "-risk_score", "-id"], name="case_assignee_risk_idx"),
            models.Index(
                fields=["assignee", "-risk_score", "-id"],
                name="case_assignee_open_risk_idx",
                condition=~models.Q(status__in=("actioned", "dismissed")),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def save(self, *args, **kwargs):
        # Every open case has a due date, whoever opened it: the SLA of its priority.
        if self.due_at is None and self.is_open and self.opened_at is not None:
            self.due_at = self.sla_due()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "due_at"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("cases:case_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status not in self.CLOSED_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < timezone.now()

    def sla_due(self, start=None):
        return (start or self.opened_at) + timedelta(hours=self.SLA_HOURS[self.priority])

    def refresh_first_activity(self) -> None:
        """Rewrite ``first_activity_at`` after the case's accounts changed (two queries)."""
        Case.objects.filter(pk=self.pk).refresh_first_activity()
        self.refresh_from_db(fields=["first_activity_at"])


class CaseAccount(models.Model):
    """An account on a case. Removal is soft, with who, when and why, so history survives."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="case_accounts")
    account = models.ForeignKey(
        "detection.Account", on_delete=models.CASCADE, related_name="case_links"
    )
    risk_score = models.FloatField(default=0)
    added_at = models.DateTimeField(default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_reason = models.TextField(blank=True, default="")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removed_reason = models.TextField(blank=True, default="")
    # Detection-owned: set when a later run no longer finds the account in the campaign
    # (the row stays, so the analyst sees who left); cleared if it comes back.
    detection_dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "account"], name="caseaccount_case_account_uniq"
            )
        ]
        indexes = [models.Index(fields=["account"], name="caseaccount_account_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} on case {self.case_id}"


class Note(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"note {self.pk} on case {self.case_id}"


class NoteRevision(models.Model):
    """The text a note had before an edit."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"revision of note {self.note_id} at {self.created_at:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """In-app notice: an @mention in a note, a step of one's own enforcement proposal.

    Someone with an e-mail address also gets it by mail; ``emailed_at`` is set by the one
    worker that sends it (compare-and-set), so a redelivered task does not mail twice.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_read_idx")]

    def __str__(self) -> str:
        return self.message
