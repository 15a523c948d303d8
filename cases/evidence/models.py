"""Evidence snapshots: what a case rests on, pulled by a task and frozen once done.

A snapshot is written by one task (``cases.evidence.services.evidence_snapshot_collect``):
pending → running → done or failed. While it runs the row carries its progress for the UI
to poll; once done it never changes again, so the snapshot pinned to a proposal shows an
approver exactly what the proposer saw. Refreshing evidence adds a new snapshot and keeps
the old ones. The items (one per source and kind) are added once, never edited.
"""

from django.conf import settings
from django.db import models


class ImmutableError(Exception):
    """Evidence is a frozen snapshot: it is added, never changed."""


class EvidenceSnapshotQuerySet(models.QuerySet):
    def done(self):
        return self.filter(status=EvidenceSnapshot.Status.DONE)

    def in_flight(self):
        return self.filter(
            status__in=[EvidenceSnapshot.Status.PENDING, EvidenceSnapshot.Status.RUNNING]
        )


class EvidenceSnapshot(models.Model):
    """One pull of evidence for a case: progress while it runs, frozen once done.

    The UI polls ``status``/``progress``; an approver later reads the snapshot pinned to the
    proposal, exactly as the proposer saw it. State changes go through compare-and-set
    ``UPDATE``s in the evidence service; ``save()`` refuses to touch a finished snapshot.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Reason(models.TextChoices):
        CASE_OPENED = "case_opened", "Case opened"
        ACCOUNTS_CHANGED = "accounts_changed", "Accounts changed"
        REFRESH = "refresh", "Refreshed by an analyst"

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="snapshots")
    detection_run = models.ForeignKey(
        "detection.DetectionRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    stage = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Why it was pulled: one of Reason, or free text from another caller.
    reason = models.CharField(max_length=64, blank=True, default="")
    # What it covers, fixed when the task starts: the telemetry window and the case's accounts.
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    account_count = models.PositiveIntegerField(default=0)
    # Names of the evidence sources that contributed, in order.
    sources = models.JSONField(default=list, blank=True)
    # Tries so far (a transient database error is retried a bounded number of times).
    attempts = models.PositiveSmallIntegerField(default=0)
    # The token of the task that holds the row while it runs; every write checks it.
    claim = models.CharField(max_length=36, blank=True, default="")
    # Total size of the cached figure JSON, in bytes (pages stay light; see docs/evidence.md).
    figures_bytes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = EvidenceSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["case", "-created_at"], name="snapshot_case_created_idx")]

    def __str__(self) -> str:
        return f"snapshot {self.pk} of case {self.case_id} ({self.status})"

    def save(self, *args, **kwargs):
        if self.pk is not None and getattr(self, "_stored_status", None) == self.Status.DONE:
            raise ImmutableError("a finished evidence snapshot cannot be changed")
        super().save(*args, **kwargs)
        self._stored_status = self.status

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # Remember what the database said, so save() can refuse to change a finished snapshot.
        instance._stored_status = instance.__dict__.get("status")
        return instance

    @property
    def reason_label(self) -> str:
        try:
            return self.Reason(self.reason).label
        except ValueError:
            return self.reason.replace("_", " ") or "requested"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def is_in_flight(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)


class Evidence(models.Model):
    """One section of a snapshot (templates, traffic, infrastructure, ...), immutable.

    ``kind`` names the section and ``source`` the evidence source that produced it; a
    deployment's own sources add their kinds next to the built-in ones.
    """

    snapshot = models.ForeignKey(EvidenceSnapshot, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=32)
    source = models.CharField(max_length=64, help_text="The evidence source that produced it.")
    data = models.JSONField(default=dict)
    # Plotly figure JSON for the charts drawn from this evidence, keyed by chart name, with the
    # format it was drawn in. Derived from ``data``, not part of the record: figures cached in
    # an older format are drawn again from the unchanged data (``evidence_figures``), the one
    # write an Evidence row ever takes after it is added.
    figures = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["snapshot", "source", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "source", "kind"], name="evidence_snapshot_source_kind_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.source})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableError("evidence cannot be changed once written")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("evidence cannot be deleted; it goes with its case")
