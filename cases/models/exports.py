"""An export built in the background: a long XLSX of the queue, with its progress and file.

Short exports (every CSV, which streams, and small spreadsheets and case reports) are sent
straight back and leave only their audit event. A long spreadsheet is written by a Celery
task into ``settings.DATA_DIR / "exports"``; this row carries its progress for the page that
polls it and the file the owner downloads when it is ready, until the file expires.
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.urls import reverse


class Export(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"
        PDF = "pdf", "PDF report"

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    format = models.CharField(max_length=8, choices=Format.choices)
    # The queue's query string the export was made from (its filters and sort).
    query = models.TextField(blank=True, default="")
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0, help_text="Rows expected when queued.")
    rows = models.PositiveIntegerField(default=0, help_text="Rows written so far.")
    file_name = models.CharField(max_length=255, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="export_user_created_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export {self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("cases:export_detail", args=[self.pk])

    @property
    def path(self) -> Path:
        return Path(settings.DATA_DIR) / "exports" / f"{self.token}.{self.format}"

    @property
    def progress(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, int(self.rows * 100 / self.total))

    @property
    def is_expired(self) -> bool:
        """Built, but its file is gone: deleted ``EXPORT_RETENTION_DAYS`` after it was made."""
        return self.status == self.Status.DONE and not self.path.is_file()

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
