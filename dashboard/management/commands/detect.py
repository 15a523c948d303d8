"""``python manage.py detect``: one full detection run, synchronously, then cases; a summary."""

from django.core.management.base import BaseCommand, CommandError

from dashboard.pipeline import detection_run_now


class Command(BaseCommand):
    help = "Run detection once over the current window, open or update cases, print a summary."

    def handle(self, *args, **options):
        try:
            run, cases = detection_run_now()
        except Exception as exc:
            raise CommandError(f"detection run failed: {type(exc).__name__}: {exc}") from exc
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
