from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from detection.models import DetectionRun

# A finished run's stages and their seconds (``DetectionRun.timings``), in the order they run.
STAGE_TIMINGS = (
    ("features", "features_seconds"),
    ("scoring", "finalise_seconds"),
    ("reach", "reach_seconds"),
)


@require_GET
@permission_required("detection.view_detectionrun", raise_exception=True)
def run_list(request: HttpRequest) -> HttpResponse:
    runs = list(DetectionRun.objects.select_related("config", "triggered_by")[:50])
    S = DetectionRun.Status
    health = {S.SUCCEEDED: "ok", S.FAILED: "failed", S.RUNNING: "running", S.QUEUED: "running"}
    for run in runs:
        run.health = health.get(run.status, "none")
        counts = run.counts or {}
        run.figures = {
            key: counts.get(key) for key in ("scored", "exchanges", "flagged", "campaigns", "lone")
        }
        if run.figures["scored"] is None:  # a run still computing knows its accounts only
            run.figures["scored"] = counts.get("accounts")
        run.stage_times = [
            (label, run.timings[key])
            for label, key in STAGE_TIMINGS
            if isinstance((run.timings or {}).get(key), int | float)
        ]
    context = {"runs": runs, "schedule_minutes": settings.DETECTION_SCHEDULE_MINUTES}
    return render(request, "detection/run_list.html", context)
