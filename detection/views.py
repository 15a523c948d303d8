from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from detection.models import DetectionRun


@require_GET
@permission_required("detection.view_detectionrun", raise_exception=True)
def run_list(request: HttpRequest) -> HttpResponse:
    runs = DetectionRun.objects.select_related("config", "triggered_by")[:50]
    return render(request, "detection/run_list.html", {"runs": runs})
