"""``python manage.py prune_telemetry``: delete exchanges, uploads and reject files past the
retention period.

The beat schedule runs the same service daily (``detection.tasks.prune_telemetry_task``).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from detection.retention import telemetry_files_prune, telemetry_prune


class Command(BaseCommand):
    help = (
        "Delete exchanges older than TELEMETRY_RETENTION_DAYS (or --older-than-days), in "
        "batches by time, and uploads and reject files under DATA_DIR written before then. "
        "Accounts, cases, evidence and the audit log are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            metavar="N",
            help=f"retention in days (default: TELEMETRY_RETENTION_DAYS, now "
            f"{settings.TELEMETRY_RETENTION_DAYS})",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
        )

    def handle(self, *args, **options):
        days = options["older_than_days"]
        if days is not None and days < 0:
            raise CommandError("--older-than-days cannot be negative", returncode=2)
        result = telemetry_prune(older_than_days=days, dry_run=options["dry_run"])
        files = telemetry_files_prune(older_than_days=days, dry_run=options["dry_run"])
        when = result.cutoff.isoformat(timespec="seconds")
        if result.dry_run:
            self.stdout.write(
                f"dry run: {result.deleted:,} exchanges older than {when} would be deleted"
            )
        else:
            self.stdout.write(
                f"deleted {result.deleted:,} exchanges older than {when} "
                f"in {result.batches:,} batches"
            )
        counted = f"{files.uploads:,} upload files and {files.rejects:,} reject files"
        if files.dry_run:
            self.stdout.write(f"dry run: {counted} older than {when} would be deleted")
        else:
            self.stdout.write(f"deleted {counted} older than {when}")
