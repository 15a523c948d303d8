"""Admin wiring that spans apps: "Run detection now" also syncs cases when the run succeeds."""

from django.contrib import admin

# Registered first by ``detection.admin``; imported here so it is registered before we swap it.
from detection.admin import DetectionRunAdmin
from detection.models import DetectionRun


class PipelineDetectionRunAdmin(DetectionRunAdmin):
    def start_run(self, request) -> DetectionRun:
        from dashboard.pipeline import detection_start

        return detection_start(triggered_by=request.user)


if admin.site.is_registered(DetectionRun):
    admin.site.unregister(DetectionRun)
admin.site.register(DetectionRun, PipelineDetectionRunAdmin)
