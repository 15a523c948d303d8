"""``python manage.py partition_exchanges``: make the coming months' exchange partitions.

The beat schedule runs the same service daily (``detection.tasks.partition_exchanges_task``);
run it by hand after raising ``TELEMETRY_PARTITIONS_AHEAD`` or after beat was down for
months. PostgreSQL only; on SQLite it says so and does nothing.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from detection.partitions import is_partitioned, partitions_ensure, partitions_list


class Command(BaseCommand):
    help = (
        "Create the monthly exchange partitions from the month of the retention cut-off to "
        "--ahead months past the current one (TELEMETRY_PARTITIONS_AHEAD by default), moving "
        "any rows of those months out of the DEFAULT partition. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ahead",
            type=int,
            default=None,
            help=f"months ahead of this one (default {settings.TELEMETRY_PARTITIONS_AHEAD})",
        )

    def handle(self, *args, **options):
        if not is_partitioned():
            self.stdout.write("exchanges are not partitioned on this database: nothing to do")
            return
        ahead = options["ahead"]
        if ahead is not None and ahead < 0:
            self.stderr.write("--ahead cannot be negative")
            raise SystemExit(2)
        result = partitions_ensure(ahead=ahead)
        for name in result.created:
            self.stdout.write(f"created {name}")
        months = partitions_list()
        span = f"{months[0].start:%Y-%m} to {months[-1].start:%Y-%m}" if months else "none"
        self.stdout.write(
            f"{len(result.created)} partitions created, {result.moved:,} rows moved out of "
            f"the DEFAULT partition; {len(months)} monthly partitions ({span})"
        )
