from django.conf import settings
from django.db import models


class ImmutableError(Exception):
    """Evidence is a frozen snapshot: it is added, never changed."""


class EvidenceSnapshot(models.Model):
    """One pull of evidence for a case: progress while it runs, frozen once done.

    The UI polls ``status``/``progress``; an approver later reads the snapshot pinned to the
    proposal, exactly as the proposer saw it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="snapshots")
    detection_run = models.ForeignKey(
        "detection.DetectionRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["case", "-created_at"], name="snapshot_case_created_idx")]

    def __str__(self) -> str:
        return f"snapshot {self.pk} of case {self.case_id} ({self.status})"


class Evidence(models.Model):
    """One section of a snapshot (templates, traffic, infrastructure, ...), immutable."""

    snapshot = models.ForeignKey(EvidenceSnapshot, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=32)
    source = models.CharField(max_length=64, help_text="The evidence source that produced it.")
    data = models.JSONField(default=dict)
    # Plotly figure JSON for the charts drawn from this evidence, keyed by chart name.
    figures = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["snapshot", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "kind"], name="evidence_snapshot_kind_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.source})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableError("evidence cannot be changed once written")
        super().save(*args, **kwargs)
