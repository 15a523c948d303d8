"""``python manage.py detect``: one full detection run, synchronously, then cases; a summary.

The run is executed in this process, not started on the workers: the command's contract is
that both the run and its cases are done when it returns, broker or not. A run executed in
the caller's process sends no ``run_succeeded`` hook (the hook is for background runs, which
nobody waits for), so the cases step below is the only one: no second sync races it.
"""

from django.core.management.base import BaseCommand, CommandError

from dashboard.pipeline import cases_sync
from detection.services import detection_run_create, detection_run_execute


class Command(BaseCommand):
    help = "Run detection once over the current window, open or update cases, print a summary."

    def handle(self, *args, **options):
        try:
            run = detection_run_execute(run=detection_run_create())
        except Exception as exc:
            raise CommandError(f"detection run failed: {type(exc).__name__}: {exc}") from exc
        try:
            cases = cases_sync(run=run)
        except Exception as exc:
            raise CommandError(
                f"detection run {run.pk} succeeded, its cases failed: {type(exc).__name__}: {exc}"
            ) from exc
        counts, timings = run.counts or {}, run.timings or {}
        window = (
            f"{run.window_start:%Y-%m-%d %H:%M} to {run.window_end:%Y-%m-%d %H:%M} UTC"
            if run.window_start
            else "no exchanges"
        )
        self.stdout.write(f"Detection run {run.pk} ({run.status}), config v{run.config.version}")
        self.stdout.write(f"  window:    {window}")
        self.stdout.write(
            f"  scored:    {counts.get('scored', 0)} accounts, "
            f"{counts.get('exchanges', 0)} exchanges in {run.chunks_total} chunks"
        )
        self.stdout.write(
            f"  flagged:   {counts.get('flagged', 0)} accounts in {counts.get('campaigns', 0)} "
            f"campaigns, {counts.get('lone', 0)} alone"
        )
        result = cases.as_dict()
        self.stdout.write(
            f"  cases:     {result['opened']} opened, {result['updated']} updated, "
            f"{result['reopened']} reopened, {result['unchanged']} unchanged"
        )
        self.stdout.write(f"  time:      {timings.get('wall_seconds', 0)} s")
