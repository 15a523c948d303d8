"""Telemetry (accounts and their exchanges) and the detector's own records.

``Account`` and ``Exchange`` are named in the public contract: outside tools count rows
through them, so their table names and the meaning of their columns are stable.

``Exchange`` is shaped for tens of millions of rows: it carries one unique index (the
contract's ``exchange_id``, which is what makes re-ingest a no-op), one btree on
``(account, ts)`` that every per-account feature reads through, and a BRIN index on ``ts``
that makes windowed scans and pruning cheap at a fraction of a btree's size. Nothing else is
indexed: every extra index costs ingest throughput (see DESIGN.md, "Measured"). The account
foreign key has no database constraint: a per-row FK trigger would halve ``COPY`` speed, and
ingest creates placeholder accounts before it loads their exchanges.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone


def plausible_horizon(now: datetime | None = None) -> datetime:
    """The newest time telemetry can truthfully carry: now plus the clock skew allowed
    between the gateways and us (``TELEMETRY_CLOCK_SKEW_MINUTES``). An exchange dated after
    it is quarantined: stored and reported, but left out of detection (its window ends at
    the newest exchange not after it) until the clock reaches it; docs/ingest.md,
    "Quarantine"."""
    skew = timedelta(minutes=getattr(settings, "TELEMETRY_CLOCK_SKEW_MINUTES", 60))
    return (now or timezone.now()) + skew


class ExchangeQuerySet(models.QuerySet):
    def plausible(self, now: datetime | None = None) -> ExchangeQuerySet:
        """Exchanges detection reads: dated no later than :func:`plausible_horizon`."""
        return self.filter(ts__lte=plausible_horizon(now))

    def quarantined(self, now: datetime | None = None) -> ExchangeQuerySet:
        """Exchanges dated past :func:`plausible_horizon`: kept, shown to admins, not read."""
        return self.filter(ts__gt=plausible_horizon(now))

    def cleaned(self) -> ExchangeQuerySet:
        """Exchanges whose text ingest cleaned (``text_flags``)."""
        return self.exclude(text_flags=0)


class PortableBrinIndex(BrinIndex):
    """BRIN on PostgreSQL; a plain index elsewhere, so the embedded SQLite default migrates."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return models.Index.create_sql(self, model, schema_editor, using=using, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class Account(models.Model):
    class PlatformStatus(models.TextChoices):
        ACTIVE = "active", "Active"
        RATE_LIMITED = "rate_limited", "Rate-limited"
        SUSPENDED = "suspended", "Suspended"
        BANNED = "banned", "Banned"

    account_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(null=True, blank=True, help_text="Registration time.")
    email_domain = models.CharField(max_length=255, blank=True, default="")
    org_id = models.CharField(max_length=255, blank=True, default="")
    payment_fingerprint = models.CharField(max_length=255, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    plan = models.CharField(max_length=64, blank=True, default="")
    # An exchange named an account we had no record of; its details arrive later (or never).
    is_placeholder = models.BooleanField(default=False)
    # Mirrors the account platform. Changed only when delivery of an action is confirmed.
    platform_status = models.CharField(
        max_length=16, choices=PlatformStatus.choices, default=PlatformStatus.ACTIVE
    )
    first_ingested_at = models.DateTimeField(default=timezone.now)
    # What cleaning the row's text found (detection.text.TEXT_* bits; 0: stored as sent) and
    # the changed originals, escaped (a JSON object): docs/ingest.md, "Text that cannot be
    # stored as sent".
    text_flags = models.SmallIntegerField(default=0, db_default=0)
    text_originals = models.TextField(blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["payment_fingerprint"], name="account_payment_idx"),
            models.Index(fields=["org_id"], name="account_org_idx"),
            # Search and pivots find accounts by email domain, as by card and organisation.
            # A prefix of ``account_id`` is found through the pattern index PostgreSQL gets
            # with its unique index.
            models.Index(fields=["email_domain"], name="account_email_domain_idx"),
            models.Index(fields=["created_at"], name="account_created_idx"),
        ]

    def __str__(self) -> str:
        return self.account_id


class AccountChange(models.Model):
    """A value of an account that a later accounts row replaced: the account's history.

    Ingest applies a later row that changes a field (docs/ingest.md, "Accounts change") and
    keeps what it replaced here, so an analyst sees that an account moved onto another card
    or organisation, and detection can weigh a move onto a flagged fleet's
    (``detection.selectors.fleet_moves``). A value an account had before is never applied
    again: re-loading an older file is a no-op.
    """

    class Field(models.TextChoices):
        EMAIL_DOMAIN = "email_domain", "email domain"
        ORG_ID = "org_id", "organisation"
        PAYMENT_FINGERPRINT = "payment_fingerprint", "payment fingerprint"
        COUNTRY = "country", "country"
        PLAN = "plan", "plan"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=32, choices=Field.choices)
    old_value = models.CharField(max_length=255, blank=True, default="")
    new_value = models.CharField(max_length=255, blank=True, default="")
    changed_at = models.DateTimeField(default=timezone.now, help_text="When ingest applied it.")
    source = models.CharField(
        max_length=1100, blank=True, default="", help_text="The file and line of the row."
    )

    class Meta:
        ordering = ["account", "changed_at", "pk"]
        indexes = [models.Index(fields=["account", "changed_at"], name="accountchange_account_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.field}: {self.old_value!r} -> {self.new_value!r}"


class Exchange(models.Model):
    """One API request and its response, as the gateway logged it."""

    # Unique through the named constraint below (a plain unique=True would add a second,
    # LIKE-pattern index on PostgreSQL that nothing here uses). On PostgreSQL the column is
    # COLLATE "C" (migration 0002): an id is compared byte by byte, which halves the cost of
    # building its unique index. A later AlterField of this column must keep that collation
    # (Django would drop it), or say why not.
    # On PostgreSQL the table is partitioned by month of ``ts`` (migration 0011,
    # detection.partitions), and PostgreSQL wants the partition key in every unique key: in
    # the database the primary key is (id, ts) and this constraint (exchange_id, ts). Django
    # keeps the model's view (SQLite's); ingest's conflict target follows the database
    # (detection.ingest.loaders.conflict_key).
    exchange_id = models.CharField(max_length=255)
    # No index of its own: exchange_account_ts_idx leads with the account.
    account = models.ForeignKey(
        Account,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="exchanges",
    )
    ts = models.DateTimeField()
    ip = models.GenericIPAddressField(unpack_ipv4=False)
    asn = models.BigIntegerField(null=True, blank=True)
    user_agent = models.TextField(blank=True, default="")
    model = models.CharField(max_length=255)
    prompt = models.TextField(blank=True, default="")
    # 64-bit hash of the prompt after normalisation (case, digits, whitespace): exact repeats
    # and fill-in-the-blank templates collapse to one value without re-reading the text.
    prompt_hash = models.BigIntegerField(null=True, blank=True)
    input_tokens = models.BigIntegerField(null=True, blank=True)
    output_tokens = models.BigIntegerField(null=True, blank=True)
    tool_use = models.BooleanField(null=True, blank=True)
    # As on Account: what cleaning the row's text found, and the changed originals, escaped.
    text_flags = models.SmallIntegerField(default=0, db_default=0)
    text_originals = models.TextField(blank=True, default="", db_default="")

    objects = ExchangeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exchange_id"], name="exchange_exchange_id_uniq")
        ]
        indexes = [
            models.Index(fields=["account", "ts"], name="exchange_account_ts_idx"),
            PortableBrinIndex(fields=["ts"], name="exchange_ts_brin", autosummarize=True),
        ]

    def __str__(self) -> str:
        return self.exchange_id


class IngestReport(models.Model):
    """One ingest of one file: what loaded, what was skipped, what was rejected and why.

    The command line and the staff upload task both write one, so a file's fate can be
    looked up later; the rejects (and notices: placeholders created, accounts that differ) are
    in ``reject_path`` (JSON Lines). A staff upload is saved under ``DATA_DIR/uploads`` and
    has ``created_by`` set.
    The counts are saved in the same transaction as each batch of rows, so they always
    describe exactly what is committed, and ``lines_done`` lets a redelivered upload task
    carry on after the last committed batch instead of starting again.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        ACCOUNTS = "accounts", "Accounts"
        EXCHANGES = "exchanges", "Exchanges"

    path = models.CharField(max_length=1024)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    loader = models.CharField(max_length=16, blank=True, default="", help_text="copy or portable")
    size = models.BigIntegerField(default=0, help_text="File size in bytes.")
    bytes_read = models.BigIntegerField(default=0)
    lines_done = models.BigIntegerField(
        default=0, help_text="Last line whose record is committed (or rejected)."
    )
    rows_read = models.BigIntegerField(default=0)
    loaded = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    placeholders = models.BigIntegerField(default=0, help_text="Placeholder accounts created.")
    placeholders_filled = models.BigIntegerField(
        default=0, help_text="Placeholder accounts filled in by this accounts file."
    )
    differing = models.BigIntegerField(
        default=0,
        help_text="Known accounts whose row offered values that were not applied: a "
        "registration time, or a value the account had before (kept; see notices).",
    )
    changed = models.BigIntegerField(
        default=0,
        help_text="Known accounts a later row changed (loaded; history kept, see notices).",
    )
    rejected = models.BigIntegerField(default=0)
    future = models.BigIntegerField(
        default=0,
        help_text="Exchanges dated after now plus the allowed clock skew when ingested: "
        "stored, but quarantined from detection until the clock reaches them.",
    )
    cleaned = models.BigIntegerField(
        default=0,
        help_text="Rows read whose text could not be stored as sent: stored cleaned, marked, "
        "the originals kept escaped.",
    )
    reject_path = models.CharField(max_length=1024, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life of a running ingest: its start, a committed batch, or "
        "the bytes read during a bulk load.",
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"

    def is_interrupted(self, now: datetime | None = None) -> bool:
        """Running, with no progress for ``INGEST_STALE_MINUTES``: the process ingesting it
        is gone (killed, or cut from the database for longer than it waits to record the
        failure), so nothing will ever finish it. What is committed stays; a re-run loads
        the rest (rows already loaded count as duplicates), as ``manage.py ingest_uploads``
        does for an upload."""
        if self.status != self.Status.RUNNING:
            return False
        last = self.progress_at or self.started_at or self.created_at
        stale = timedelta(minutes=settings.INGEST_STALE_MINUTES)
        return last is not None and last < (now or timezone.now()) - stale

    @property
    def shown_status(self) -> str:
        """The status to show a person: "Interrupted" for a running one that stopped."""
        return "Interrupted" if self.is_interrupted() else self.get_status_display()


class DetectionConfig(models.Model):
    """Thresholds, weights and patterns for a detection run, versioned.

    Rows are never edited: saving a change in the admin writes a new version with its author
    and reason, and each run records the version it used, so a flag can always be explained
    by the exact configuration that raised it.
    """

    version = models.PositiveIntegerField(unique=True)
    params = models.JSONField(default=dict)
    reason = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A draft is never used by a run until it is published (with a reason); it can be
    # backtested first. The version in force is the one published last (``published_at``),
    # so publishing an earlier version again restores it. Only these two fields ever change.
    is_draft = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    # A draft in shadow is backtested beside each scheduled run until then (opening nothing).
    shadow_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        get_latest_by = "version"

    def __str__(self) -> str:
        return f"v{self.version}{' (draft)' if self.is_draft else ''}"


class ConfigPublication(models.Model):
    """One publication of a config version: the history of which version was in force."""

    config = models.ForeignKey(
        DetectionConfig, on_delete=models.PROTECT, related_name="publications"
    )
    previous = models.ForeignKey(
        DetectionConfig, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return f"v{self.config.version} published {self.published_at:%Y-%m-%d %H:%M}"


class DetectionRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    config = models.ForeignKey(DetectionConfig, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=64, blank=True, default="")
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    # Fan-out bookkeeping: the chunk task that brings ``chunks_done`` to ``chunks_total``
    # enqueues the finalise step, so no task ever waits on another.
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def took(self) -> str:
        return say_duration(self.duration)


def say_duration(delta: timedelta | None) -> str:
    """A duration as people say it: "9.7 s", "4 min 05 s", "1 h 02 min"; "" for none."""
    if delta is None:
        return ""
    seconds = delta.total_seconds()
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class DetectionChunk(models.Model):
    """One shard of accounts in one run, and the features computed from its exchanges.

    ``payload`` is the chunk's feature frames (Arrow IPC), kept so the finalise step can run on
    any worker.
    A chunk is done at most once (compare-and-set on ``status``), so a redelivered task
    neither double-counts nor loses work.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    account_from = models.BigIntegerField(help_text="First account pk (inclusive).")
    account_to = models.BigIntegerField(help_text="Last account pk (inclusive).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    exchange_count = models.BigIntegerField(default=0)
    payload = models.BinaryField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    seconds = models.FloatField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="detectionchunk_run_index_uniq")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} chunk {self.index}"


class Campaign(models.Model):
    """A fleet of accounts the clustering found; keeps its identity across runs."""

    label = models.CharField(max_length=128)
    first_run = models.ForeignKey(
        DetectionRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_run = models.ForeignKey(
        DetectionRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    member_count = models.PositiveIntegerField(default=0)
    exchange_count = models.BigIntegerField(default=0)
    risk_score = models.FloatField(default=0)
    is_active = models.BooleanField(default=True)
    # What holds the fleet together in its last run: kinds of shared evidence, organisations,
    # the signals most of its members share (shown on the case as the campaign explanation).
    evidence = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-risk_score"]

    def __str__(self) -> str:
        return self.label


class AccountScore(models.Model):
    """One account's signals and risk in one run: the explanation behind every flag."""

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="scores")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="scores")
    risk_score = models.FloatField()
    flagged = models.BooleanField(default=False)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="scores"
    )
    # [{"name", "value", "threshold", "norm", "contribution", "reason"}, ...], strongest first.
    signals = models.JSONField(default=list)
    exchange_count = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    # The score would have flagged the account, and an entry of the known-good list in
    # force when the run decided held it back (``detection.allowlist``).
    known_good = models.BooleanField(default=False, db_default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "account"], name="accountscore_run_account_uniq")
        ]
        indexes = [models.Index(fields=["run", "flagged"], name="accountscore_run_flagged_idx")]

    def __str__(self) -> str:
        return f"{self.account_id}@{self.run_id}: {self.risk_score:.2f}"


class KnownGoodQuerySet(models.QuerySet):
    def in_force(self, now: datetime | None = None) -> KnownGoodQuerySet:
        """Entries that hold at ``now``: not revoked and not yet expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class KnownGood(models.Model):
    """An account, or every account of an organisation, known to be legitimate until a date.

    Detection still scores a known-good account and keeps its score and signals, but does not
    flag it, so no case is opened on it, until the entry expires or is revoked. Entries are
    never deleted: revoking one keeps it, and every change is in ``KnownGoodEvent``.
    """

    class Scope(models.TextChoices):
        ACCOUNT = "account", "Account"
        ORGANISATION = "org", "Organisation"

    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.ACCOUNT)
    value = models.CharField(
        max_length=255, help_text="The account id, or the organisation id of the accounts."
    )
    reason = models.TextField()
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = KnownGoodQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "known-good entry"
        verbose_name_plural = "known-good allow-list"
        indexes = [models.Index(fields=["scope", "value"], name="knowngood_scope_value_idx")]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.value}"

    def holds(self, now: datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())


class KnownGoodEvent(models.Model):
    """The allow-list's own audit trail: each entry's creation, changes and revocation."""

    entry = models.ForeignKey(KnownGood, on_delete=models.PROTECT, related_name="events")
    verb = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.verb} {self.entry}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("the allow-list's audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("the allow-list's audit trail is append-only")


class Backtest(models.Model):
    """A draft configuration run beside the version in force over a window of stored
    telemetry: the flags of both, per account, and nothing else (no cases, no campaigns)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    config = models.ForeignKey(DetectionConfig, on_delete=models.PROTECT, related_name="backtests")
    baseline = models.ForeignKey(DetectionConfig, on_delete=models.PROTECT, related_name="+")
    # Set for a shadow comparison: the scheduled run whose window and version it shadowed.
    run = models.ForeignKey(
        DetectionRun, null=True, blank=True, on_delete=models.CASCADE, related_name="shadows"
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=64, blank=True, default="")
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    cancel_requested = models.BooleanField(default=False)
    counts = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["run", "config"], name="backtest_one_shadow_per_run")
        ]

    def __str__(self) -> str:
        kind = f"shadow of run {self.run_id}" if self.run_id else "backtest"
        return f"{kind} {self.pk}: {self.config} against {self.baseline}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def took(self) -> str:
        if self.started_at and self.finished_at:
            return say_duration(self.finished_at - self.started_at)
        return ""


class BacktestAccountQuerySet(models.QuerySet):
    def newly_flagged(self):
        return self.filter(draft_flagged=True, base_flagged=False)

    def no_longer_flagged(self):
        return self.filter(draft_flagged=False, base_flagged=True)


class BacktestAccount(models.Model):
    """One scored account of a backtest: its risk and flag under each version.

    The campaign columns are the community each version put the account in (an index
    within the backtest, -1 for none) and the persisted campaign it overlaps most, if any.
    """

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="accounts")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    base_risk = models.FloatField()
    draft_risk = models.FloatField()
    base_flagged = models.BooleanField()
    draft_flagged = models.BooleanField()
    base_community = models.IntegerField(default=-1)
    draft_community = models.IntegerField(default=-1)
    # The signals that fired on the account under the draft (name: contribution).
    draft_signals = models.JSONField(default=dict, blank=True)

    objects = BacktestAccountQuerySet.as_manager()

    class Meta:
        ordering = ["-draft_risk", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["backtest", "account"], name="backtestaccount_uniq")
        ]
        indexes = [
            models.Index(
                fields=["backtest", "base_flagged", "draft_flagged"],
                name="backtestaccount_flag_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} in backtest {self.backtest_id}"


class BacktestCampaign(models.Model):
    """A flagged community of one version in a backtest, matched to the other version's
    communities and to a persisted campaign by overlap of members."""

    class Side(models.TextChoices):
        BASE = "base", "Version in force"
        DRAFT = "draft", "Draft"

    class Change(models.TextChoices):
        NEW = "new", "Newly flagged"
        GONE = "gone", "No longer flagged"
        KEPT = "kept", "Flagged by both"

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="campaigns")
    side = models.CharField(max_length=8, choices=Side.choices)
    community = models.IntegerField()
    change = models.CharField(max_length=8, choices=Change.choices)
    member_count = models.PositiveIntegerField(default=0)
    risk = models.FloatField(default=0)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-risk", "pk"]

    def __str__(self) -> str:
        return f"{self.side} community {self.community} in backtest {self.backtest_id}"


class ValueReach(models.Model):
    """How many accounts used one shared value (an address, ASN, client or prompt template)
    in a run's window, and each model's first use there.

    Written once per run by ``detection.reach`` so that evidence can say "and 40 accounts
    outside the case" by an index lookup instead of a scan of the whole window for every
    case: with one scan per case the cost of a run's evidence grew with cases times traffic.
    Values only one account used are not stored (their reach is that one account).
    """

    class Kind(models.TextChoices):
        IP = "ip", "IP address"
        ASN = "asn", "ASN"
        USER_AGENT = "user_agent", "Client"
        TEMPLATE = "template", "Prompt template"
        MODEL = "model", "Model"

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The value as text, cut to ``reach.VALUE_CHARS`` (a client string can be any length).
    value = models.CharField(max_length=500)
    accounts = models.PositiveIntegerField()
    first_ts = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["run", "kind", "value"], name="valuereach_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.value}: {self.accounts}@{self.run_id}"


# The watch list's tables live with the rest of it; imported here so Django registers them
# with this app (their migrations stay the app's).
from detection.indicators.models import (  # noqa: E402, F401
    ExternalFlag,
    Indicator,
    IndicatorImport,
    IndicatorMatch,
    Tlp,
)
