"""``python manage.py ingest_uploads``: ingest the uploads that are queued or were cut short.

With a broker, Celery redelivers an interrupted upload task on its own. With none (the
embedded default), an upload is ingested by a thread of the web process; if that process
stops mid-file, the report stays "running" until this command (or the next start of a
worker) takes it up: it resumes after the last committed batch, as a redelivery would.
"""

from django.core.management.base import BaseCommand

from detection.ingest.uploads import upload_ingest, uploads_unfinished


class Command(BaseCommand):
    help = "Ingest uploaded files that are queued or whose ingest was interrupted."

    def handle(self, *args, **options):
        pending = uploads_unfinished()
        if not pending:
            self.stdout.write("no upload waiting")
            return
        for report_id in pending:
            report = upload_ingest(report_id=report_id)
            if report is None:
                self.stdout.write(f"report {report_id}: taken by another process, skipped")
                continue
            self.stdout.write(
                f"report {report_id}: {report.status}, {report.loaded:,} loaded, "
                f"{report.rejected:,} rejected"
            )
