"""``python manage.py ingest PATH [PATH ...]``: load telemetry files (a public contract).

Exit status: 0 when every row loaded (or was a duplicate), 1 when some rows were rejected
(the rest loaded), 2 when the arguments are unusable (missing path, unknown kind, unreadable
file); in that case nothing is loaded. See docs/ingest.md.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from detection.ingest import SourceError, ingest_source, report_for, resolve
from detection.ingest.formats import KINDS
from detection.models import IngestReport

COUNTS = ("rows_read", "loaded", "duplicates", "placeholders", "rejected")


class Command(BaseCommand):
    help = (
        "Load accounts and exchanges from JSON Lines or CSV files (optionally .gz), or folders "
        "of them; accounts before exchanges. Exit 0: all loaded; 1: some rows rejected; "
        "2: unusable arguments."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
        parser.add_argument(
            "--kind",
            choices=KINDS,
            help="the kind of every file given (default: from each file name)",
        )
        parser.add_argument(
            "--rejects-dir",
            type=Path,
            help="where reject files go (default: DATA_DIR/rejects)",
        )
        parser.add_argument(
            "--show-rejects",
            type=int,
            default=20,
            metavar="N",
            help="print the first N rejected rows on stderr (default 20; all are in the file)",
        )
        parser.add_argument(
            "--loader",
            choices=("auto", "copy", "portable"),
            default="auto",
            help="how exchanges are written: PostgreSQL COPY, or the portable path "
            "(default: COPY on PostgreSQL)",
        )
        parser.add_argument(
            "--progress",
            choices=("auto", "on", "off"),
            default="auto",
            help="progress bar (default: only when stderr is a terminal)",
        )

    def handle(self, *args, **options):
        try:
            sources, skipped = resolve(options["paths"], options["kind"])
            for source in sources:
                source.check()
        except SourceError as exc:
            raise CommandError(str(exc), returncode=2) from None
        for path in skipped:
            self.stderr.write(f"skipped {path}: not a data file, or no kind in its name")
        if not sources:
            raise CommandError("no data files found in the given paths", returncode=2)

        show = {"left": options["show_rejects"]}

        def on_reject(file: str, line: int, reason: str) -> None:
            if show["left"] > 0:
                self.stderr.write(f"{file}:{line}: rejected: {reason}")
                show["left"] -= 1

        bar_enabled = {"on": True, "off": False}.get(options["progress"], sys.stderr.isatty())
        reports: list[IngestReport] = []
        for source in sources:
            report = report_for(source)
            with tqdm(
                total=source.size,
                unit="B",
                unit_scale=True,
                desc=source.path.name,
                disable=not bar_enabled,
                file=sys.stderr,
                leave=False,
            ) as bar:

                def on_progress(position: int, bar=bar) -> None:
                    bar.update(max(0, position - bar.n))

                try:
                    ingest_source(
                        source,
                        report=report,
                        method=options["loader"],
                        rejects_dir=options["rejects_dir"],
                        on_reject=on_reject,
                        on_progress=on_progress,
                    )
                except ValueError as exc:  # a loader the database cannot use
                    report.status, report.error = IngestReport.Status.FAILED, str(exc)
                    report.save()
                    raise CommandError(str(exc), returncode=2) from None
            reports.append(report)
            self.stdout.write(self._line(report))

        total = {name: sum(getattr(r, name) for r in reports) for name in COUNTS}
        hidden = sum(r.rejected for r in reports) - options["show_rejects"]
        if hidden > 0:
            self.stderr.write(f"... and {hidden} more rejected rows; see the reject files")
        self.stdout.write(
            f"total: {len(reports)} file(s), {total['rows_read']:,} rows read, "
            f"{total['loaded']:,} loaded, {total['duplicates']:,} duplicates skipped, "
            f"{total['placeholders']:,} placeholders created, {total['rejected']:,} rejected"
        )
        if total["rejected"]:
            sys.exit(1)

    def _line(self, report: IngestReport) -> str:
        parts = [
            f"{report.path} ({report.kind}): {report.rows_read:,} rows read",
            f"{report.loaded:,} loaded",
            f"{report.duplicates:,} duplicates skipped",
        ]
        if report.kind == "exchanges":
            parts.append(f"{report.placeholders:,} placeholders created")
        else:
            parts.append(f"{report.placeholders_filled:,} placeholders filled")
            parts.append(f"{report.updated:,} updated")
        if report.nul_replaced:
            parts.append(f"{report.nul_replaced:,} with NULs replaced")
        parts.append(f"{report.rejected:,} rejected")
        line = ", ".join(parts)
        if report.error:
            line += f"; FAILED: {report.error}"
        if report.reject_path:
            line += f"\n  rejects and notices: {report.reject_path}"
        return line
