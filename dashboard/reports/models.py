"""Scheduled delivery of the period report: who subscribed, and each email sent or tried."""

from django.conf import settings
from django.db import models


class ReportSubscription(models.Model):
    """A person who receives the period report by email, weekly or monthly.

    One per person; the report they receive is computed with their own rights, on the day
    it is sent, so it never shows more than they could see in the console."""

    class Frequency(models.TextChoices):
        WEEKLY = "week", "Weekly"
        MONTHLY = "month", "Monthly"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscription"
    )
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} report for {self.user}"


class ReportDelivery(models.Model):
    """One report for one period to one subscriber: created once (the unique period makes
    the daily scheduler idempotent), claimed by compare-and-set, retried on mail errors."""

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        ReportSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # Whether the PDF went in the email, or (too large) a link to the report's page.
    attached = models.BooleanField(default=False)
    size = models.PositiveIntegerField(default=0, help_text="The PDF's size in bytes.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start", "period_end"],
                name="reportdelivery_period_uniq",
            )
        ]
        indexes = [models.Index(fields=["status"], name="reportdelivery_status_idx")]

    def __str__(self) -> str:
        return f"report {self.period_start} to {self.period_end} to {self.subscription.user_id}"
