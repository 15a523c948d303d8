"""``python manage.py prune_exports``: delete export files past ``EXPORT_RETENTION_DAYS``.

The beat schedule runs the same service daily (``cases.tasks.prune_exports_task``).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.services.exports import export_files_prune


class Command(BaseCommand):
    help = (
        "Delete export files under DATA_DIR/exports older than EXPORT_RETENTION_DAYS (or "
        "--older-than-days). The exports' rows and audit events are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            metavar="N",
            help=f"retention in days (default: EXPORT_RETENTION_DAYS, now "
            f"{settings.EXPORT_RETENTION_DAYS})",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
        )

    def handle(self, *args, **options):
        days = options["older_than_days"]
        if days is not None and days < 0:
            raise CommandError("--older-than-days cannot be negative", returncode=2)
        pruned = export_files_prune(older_than_days=days, dry_run=options["dry_run"])
        if options["dry_run"]:
            self.stdout.write(f"dry run: {pruned:,} export files would be deleted")
        else:
            self.stdout.write(f"deleted {pruned:,} export files")
