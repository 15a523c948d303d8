"""``python manage.py prune_telemetry``: delete exchanges, uploads and reject files past the
retention period.

The beat schedule runs the same service daily (``detection.tasks.prune_telemetry_task``).
"""

from django.core.management.base import BaseCommand

from detection.management.retention import add_retention_arguments, older_than_days
from detection.retention import telemetry_files_prune, telemetry_prune


class Command(BaseCommand):
    help = (
        "Delete exchanges older than TELEMETRY_RETENTION_DAYS (or --older-than-days): whole "
        "monthly partitions on PostgreSQL, then the rest in batches by time; and uploads "
        "and reject files under DATA_DIR written before then. "
        "Accounts, cases, evidence and the audit log are kept."
    )

    def add_arguments(self, parser):
        add_retention_arguments(parser, "TELEMETRY_RETENTION_DAYS")

    def handle(self, *args, **options):
        days = older_than_days(options)
        result = telemetry_prune(older_than_days=days, dry_run=options["dry_run"])
        files = telemetry_files_prune(older_than_days=days, dry_run=options["dry_run"])
        when = result.cutoff.isoformat(timespec="seconds")
        if result.dry_run:
            self.stdout.write(
                f"dry run: {result.deleted:,} exchanges older than {when} would be deleted"
            )
        else:
            self.stdout.write(
                f"deleted {result.deleted:,} exchanges older than {when}: "
                f"{result.partitions:,} monthly partitions dropped, {result.batches:,} batches"
            )
        counted = f"{files.uploads:,} upload files and {files.rejects:,} reject files"
        if files.dry_run:
            self.stdout.write(f"dry run: {counted} older than {when} would be deleted")
        else:
            self.stdout.write(f"deleted {counted} older than {when}")
