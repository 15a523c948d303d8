"""Service tokens and the batches they push.

A token is shown once, when it is made, and only its SHA-256 digest is stored: the secret
is 256 random bits, so a fast hash is enough (there is nothing to guess), and a leaked
database leaks no usable token. Tokens are never edited or deleted, only revoked, so the
audit log's references to them stay meaningful.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from detection.models import IngestReport

# Every token starts with this, so secret scanners and people recognise one.
TOKEN_PREFIX = "dcapi_"  # noqa: S105 (a prefix, not a secret)


class Scope(models.TextChoices):
    INGEST = "ingest", "ingest: push telemetry batches and read their reports"
    READ = "read", "read: cases, campaigns, accounts and evidence summaries"
    DECIDE = "decide", "decide: the enforcement decisions feed and the ban list"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_new() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ServiceTokenQuerySet(models.QuerySet):
    def usable(self, now=None):
        """Not revoked and not expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ServiceToken(models.Model):
    """A credential for one system calling the API (the gateway, the account platform)."""

    name = models.CharField(max_length=100, help_text="The system that uses it, for people.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token, to recognise it in the admin and in logs.
    hint = models.CharField(max_length=16, editable=False)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this the token is refused. Empty: never."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ServiceTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class PushedBatch(models.Model):
    """One batch of telemetry pushed through the API: stored as a JSON Lines file (record
    ``i`` on line ``i + 1``) and ingested by the same task and code as a staff upload, so
    its rejects, duplicates and limits are the ``ingest`` command's."""

    token = models.ForeignKey(ServiceToken, on_delete=models.PROTECT, related_name="batches")
    report = models.OneToOneField(IngestReport, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=IngestReport.Kind.choices)
    records = models.PositiveIntegerField()
    # The client's Idempotency-Key header, if any, and a digest of the body it came with:
    # a retry with the same key gets the first batch back instead of a second one.
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    body_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["token", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="pushedbatch_token_key_uniq",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} batch {self.pk} ({self.records} records)"
