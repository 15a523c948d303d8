"""``python manage.py import_indicators PATH [PATH ...]``: load indicator files into the
watch list (Meta's ``indicator_type, indicator_value, comment`` CSV, or STIX 2.1 bundles).

Each file is one ``IndicatorImport``; rows that cannot be imported are listed with their row
number and reason, and the rest of the file loads. The command exits with an error when a
file could not be read at all (nothing of that file changed) or, with ``--strict``, when any
row was refused.
"""

from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from detection.indicators.services import MAX_FILE_BYTES, indicators_import
from detection.models import IndicatorImport, Tlp

# Rejects printed per file; the import keeps more and the admin shows them.
SHOWN_REJECTS = 20


def _expiry(text: str) -> datetime:
    value = parse_datetime(text)
    if value is None or value.tzinfo is None:
        raise CommandError(f"--expires {text!r} is not a date and time with a zone (RFC 3339)")
    return value


class Command(BaseCommand):
    help = (
        "Import indicator files (CSV with indicator_type, indicator_value, comment; or STIX "
        "2.1 bundles) into the watch list and mark the accounts that match them."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="CSV or STIX JSON files")
        parser.add_argument("--source", default="", help="who shared them (default: the "
                            "STIX creator's name, else the file name)")  # fmt: skip
        parser.add_argument(
            "--tlp", choices=Tlp.values, default=Tlp.AMBER, help="where a file marks none"
        )
        parser.add_argument("--format", choices=["csv", "stix"], default="",
                            help="default: by the file's extension or content")  # fmt: skip
        parser.add_argument("--expires", type=_expiry, default=None,
                            help="stop watching them at this time (RFC 3339)")  # fmt: skip
        parser.add_argument("--strict", action="store_true",
                            help="exit with an error if any row was refused")  # fmt: skip

    def handle(self, *args, **options):
        failed = refused = 0
        for name in options["paths"]:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise CommandError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB; split it")
            record = indicators_import(
                data=path.read_bytes(),
                file_name=path.name,
                source=options["source"],
                tlp=options["tlp"],
                fmt=options["format"],
                expires_at=options["expires"],
            )
            if record.status == IndicatorImport.Status.FAILED:
                failed += 1
                self.stderr.write(f"{path}: not imported: {record.error}")
                continue
            refused += record.rejected
            self.stdout.write(
                f"{path}: {record.rows_read:,} rows read, {record.added:,} indicators added, "
                f"{record.updated:,} updated, {record.rejected:,} refused; "
                f"{record.matched_accounts:,} accounts match (import {record.pk})"
            )
            for reject in record.rejects[:SHOWN_REJECTS]:
                self.stdout.write(
                    f"  row {reject['row']}: {reject['reason']} ({reject['value'][:60]!r})"
                )
            if record.rejected > SHOWN_REJECTS:
                self.stdout.write(f"  ... and {record.rejected - SHOWN_REJECTS:,} more")
        if failed:
            raise CommandError(f"{failed} file(s) could not be imported")
        if refused and options["strict"]:
            raise CommandError(f"{refused} row(s) refused (--strict)")
