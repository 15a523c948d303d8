"""Indicators, their imports, the accounts they match, and flags from other systems."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Tlp(models.TextChoices):
    """Traffic Light Protocol 2.0: how far a recipient may share what we send or received."""

    CLEAR = "clear", "TLP:CLEAR"
    GREEN = "green", "TLP:GREEN"
    AMBER = "amber", "TLP:AMBER"
    AMBER_STRICT = "amber+strict", "TLP:AMBER+STRICT"
    RED = "red", "TLP:RED"


class IndicatorQuerySet(models.QuerySet):
    def active(self, now=None) -> IndicatorQuerySet:
        """Indicators detection still reads: not past their expiry."""
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now()))


class Indicator(models.Model):
    """One thing a fleet was seen with, as a partner or our own team shared it.

    ``value`` is stored normalised (an address in its compressed form, a range as its
    network, a domain in lower case), so one indicator from two sources is two rows with the
    same value, each keeping its own source, comment and sharing level.
    """

    class Kind(models.TextChoices):
        IP = "ip", "IP address"
        CIDR = "cidr", "address range"
        ASN = "asn", "ASN"
        EMAIL_DOMAIN = "email_domain", "email domain"
        PAYMENT = "payment_fingerprint", "payment fingerprint"
        PROMPT = "prompt_template", "prompt template"
        ACCOUNT = "account_id", "account id"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    value = models.CharField(max_length=2048)
    # The prompt template's normalised hash (detection.ingest.parse.prompt_hash), matched
    # against Exchange.prompt_hash: the same template with other numbers matches too.
    prompt_hash = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(
        max_length=255, help_text="Who shared it: a partner, a feed, a file, this console."
    )
    comment = models.TextField(blank=True, default="")
    tlp = models.CharField("TLP", max_length=16, choices=Tlp.choices, default=Tlp.AMBER)
    # The STIX object it came from (``indicator--<uuid>``), so a re-import updates it.
    stix_id = models.CharField(max_length=64, blank=True, default="")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this, detection no longer reads it."
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    imported_from = models.ForeignKey(
        "detection.IndicatorImport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="indicators",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = IndicatorQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value", "source"], name="indicator_kind_value_source_uniq"
            )
        ]
        indexes = [models.Index(fields=["kind", "value"], name="indicator_kind_value_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value[:80]}"

    @property
    def is_active(self) -> bool:
        """Whether detection still reads it (see ``IndicatorQuerySet.active``)."""
        return self.expires_at is None or self.expires_at > timezone.now()


class IndicatorImport(models.Model):
    """One indicator file loaded: what it added, what it refused and why (by row)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV (indicator_type, indicator_value, comment)"
        STIX = "stix", "STIX 2.1 bundle (JSON)"

    class Status(models.TextChoices):
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    file_name = models.CharField(max_length=255)
    format = models.CharField(max_length=8, choices=Format.choices)
    source = models.CharField(max_length=255)
    tlp = models.CharField("TLP", max_length=16, choices=Tlp.choices, default=Tlp.AMBER)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DONE)
    rows_read = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    matched_accounts = models.PositiveIntegerField(default=0)
    # [{"row": n, "value": "...", "reason": "..."}, ...], the first REJECTS_KEPT of them.
    rejects = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.source})"


class IndicatorMatch(models.Model):
    """An account that shows an indicator: its traffic, sign-up or card matched it."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="matches")
    account = models.ForeignKey(
        "detection.Account", on_delete=models.CASCADE, related_name="indicator_matches"
    )
    first_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-first_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["indicator", "account"], name="indicatormatch_indicator_account_uniq"
            )
        ]
        indexes = [models.Index(fields=["account"], name="indicatormatch_account_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} ~ {self.indicator_id}"


class ExternalFlag(models.Model):
    """An account another system flagged (the account platform, a fraud engine, a partner).

    ``source`` and ``external_id`` together are the flag's identity in that system: sending
    the same flag again changes nothing. Flagging an indicator instead of an account adds it
    to the watch list (``Indicator`` with the flag's source) and links it here.
    """

    account = models.ForeignKey(
        "detection.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="external_flags",
    )
    indicator = models.ForeignKey(
        Indicator, null=True, blank=True, on_delete=models.CASCADE, related_name="external_flags"
    )
    source = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True, default="")
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="externalflag_source_external_id_uniq",
            ),
            models.CheckConstraint(
                condition=Q(account__isnull=False) | Q(indicator__isnull=False),
                name="externalflag_names_account_or_indicator",
            ),
        ]
        indexes = [models.Index(fields=["account"], name="externalflag_account_idx")]

    def __str__(self) -> str:
        return f"{self.source}: {self.account_id or self.indicator_id}"
