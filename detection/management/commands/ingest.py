"""``python manage.py ingest PATH [PATH ...]``: load telemetry files (a public contract).

Exit status: 0 when every row loaded (or was a duplicate), 1 when some rows were rejected
(the rest loaded), 2 when the arguments are unusable (missing path, unknown kind, unreadable
or corrupt file); in that case nothing is loaded. A file that turns out to be damaged part-way
(a truncated gzip) keeps the rows before the damage, and the command also exits 2, after
loading the other files. An ingest that stops part-way for any other reason (the database
goes away) keeps the batches committed before it, marks its report failed with the reason and
the last line loaded, and exits 2 at once. See docs/ingest.md.
"""

import logging
import sys
import time
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from tqdm import tqdm

from detection.ingest import SourceError, ingest_source, report_for, resolve
from detection.ingest.formats import KINDS
from detection.ingest.service import BULK_CHOICES
from detection.models import IngestReport

COUNTS = ("rows_read", "loaded", "duplicates", "placeholders", "rejected", "cleaned", "future")

logger = logging.getLogger(__name__)


def _stopped(report: IngestReport, what: str, *, wait: float = 0) -> str:
    """Mark the report failed after an ingest stopped part-way; returns the error it records.

    Only the batches that committed are in the database, and the report's counts were saved
    with them: the counts in memory may include a batch that was rolled back, so they are read
    again. A database that went away (restarted, failed over) is tried again for up to
    ``wait`` seconds, on a new connection, so the report says what happened rather than
    "running" for ever; past that it is left as committed, and shown as interrupted once it
    has made no progress for INGEST_STALE_MINUTES (``IngestReport.is_interrupted``)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            report.refresh_from_db()
            break
        except DatabaseError as exc:
            if time.monotonic() >= deadline:
                logger.warning("could not mark ingest report %s failed: %s", report.pk, exc)
                # The last committed counts are unknown: say so without them.
                return f"{what}; its report could not be updated (the database is unreachable)"
            connection.close()  # the next query opens a new connection
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    report.status = IngestReport.Status.FAILED
    if report.lines_done:
        report.error = (
            f"{what} after line {report.lines_done:,}; the rows before it are loaded; run the "
            "same command again to load the rest (rows already loaded count as duplicates)"
        )
    else:  # nothing committed, as when a bulk load (one transaction) is rolled back
        report.error = f"{what}; nothing from this file is loaded; run the same command again"
    try:
        report.save(update_fields=["status", "error"])
    except DatabaseError:
        logger.warning("could not mark ingest report %s failed", report.pk)
    return report.error


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
            "--workers",
            type=int,
            metavar="N",
            help="processes that parse a big JSON Lines exchange file on PostgreSQL "
            "(default: INGEST_WORKERS, one per core; 1: parse in this process)",
        )
        parser.add_argument(
            "--bulk",
            choices=BULK_CHOICES,
            default="auto",
            help="load exchanges first and build the table's indexes after, in one transaction "
            "that makes readers of exchanges wait: auto (default) when the table is empty, on "
            "even when it is not (a big backfill), off never",
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
            self.stderr.write(
                f"note: ignored {path}: not a data file (.jsonl, .csv, optionally .gz) "
                "whose name starts with accounts or exchanges"
            )
        if not sources:
            raise CommandError("no data files found in the given paths", returncode=2)
        if options["bulk"] == "on" and (
            options["loader"] == "portable" or connection.vendor != "postgresql"
        ):
            raise CommandError(
                "--bulk on loads exchanges through PostgreSQL's COPY loader only", returncode=2
            )

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
                        workers=options["workers"],
                        bulk=options["bulk"],
                    )
                except ValueError as exc:  # a loader the database cannot use
                    report.status, report.error = IngestReport.Status.FAILED, str(exc)
                    report.save()
                    raise CommandError(str(exc), returncode=2) from None
                except KeyboardInterrupt:
                    # Committed batches stay; say so, rather than leave the report "running".
                    _stopped(report, "interrupted")
                    raise
                except Exception as exc:
                    # The database went away, or a bug: the same, and exit 2 with the reason
                    # instead of a traceback (logged) that exit status 1 would confuse with
                    # "some rows rejected". A database that went away may be back in moments
                    # (a restart): wait for it, to record where the ingest stopped.
                    logger.exception("ingest of %s stopped", source.path)
                    what = f"stopped by {type(exc).__name__}: {str(exc).strip()}"
                    lost = isinstance(exc, DatabaseError | psycopg.Error)
                    if lost:
                        self.stderr.write(
                            f"{source.path}: {what}; recording it on the report (trying the "
                            f"database for up to {settings.INGEST_RECONNECT_SECONDS} s)"
                        )
                    wait = settings.INGEST_RECONNECT_SECONDS if lost else 0
                    error = _stopped(report, what, wait=wait)
                    raise CommandError(f"{source.path}: {error}", returncode=2) from None
            reports.append(report)
            self.stdout.write(self._line(report))

        total = {name: sum(getattr(r, name) for r in reports) for name in COUNTS}
        hidden = sum(r.rejected for r in reports) - options["show_rejects"]
        if hidden > 0:
            self.stderr.write(f"... and {hidden} more rejected rows; see the reject files")
        self.stdout.write(
            f"total: {len(reports)} file(s), {total['rows_read']:,} rows read, "
            f"{total['loaded']:,} loaded, {total['duplicates']:,} duplicates skipped, "
            f"{total['placeholders']:,} placeholders created, {total['rejected']:,} rejected, "
            f"{total['cleaned']:,} with text cleaned and marked, "
            f"{total['future']:,} dated in the future (quarantined)"
        )
        failed = [r for r in reports if r.status == IngestReport.Status.FAILED]
        if failed:
            raise CommandError(
                "could not read to the end: " + "; ".join(f"{r.path}: {r.error}" for r in failed),
                returncode=2,
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
            if report.changed:
                parts.append(f"{report.changed:,} changed (earlier values kept as history)")
            if report.differing:
                parts.append(f"{report.differing:,} with values not applied (kept)")
        parts.append(f"{report.rejected:,} rejected")
        if report.cleaned:
            parts.append(f"{report.cleaned:,} with text cleaned and marked (originals kept)")
        if report.future:
            parts.append(f"{report.future:,} dated in the future (stored, quarantined)")
        line = ", ".join(parts)
        if report.error:
            line += f"; FAILED: {report.error}"
        if report.reject_path:
            line += f"\n  reject file (rejects and notices): {report.reject_path}"
        return line
