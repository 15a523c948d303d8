"""``python manage.py prune_exports``: delete export files past ``EXPORT_RETENTION_DAYS``.

The beat schedule runs the same service daily (``cases.tasks.prune_exports_task``).
"""

from django.core.management.base import BaseCommand

from cases.services.exports import export_files_prune
from detection.management.retention import add_retention_arguments, older_than_days


class Command(BaseCommand):
    help = (
        "Delete export files under DATA_DIR/exports older than EXPORT_RETENTION_DAYS (or "
        "--older-than-days). The exports' rows and audit events are kept."
    )

    def add_arguments(self, parser):
        add_retention_arguments(parser, "EXPORT_RETENTION_DAYS")

    def handle(self, *args, **options):
        days = older_than_days(options)
        pruned = export_files_prune(older_than_days=days, dry_run=options["dry_run"])
        if options["dry_run"]:
            self.stdout.write(f"dry run: {pruned:,} export files would be deleted")
        else:
            self.stdout.write(f"deleted {pruned:,} export files")
