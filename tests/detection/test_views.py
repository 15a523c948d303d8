"""The detection runs page: what each run did, readable at a glance, for the case roles."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import DetectionRunFactory

pytestmark = pytest.mark.django_db

URL = reverse("detection:run_list")


def test_runs_show_their_figures_duration_and_errors(analyst_client, admin_user):
    started = timezone.now() - timedelta(hours=1)
    DetectionRunFactory(
        started_at=started,
        finished_at=started + timedelta(seconds=245),
        counts={"scored": 12_345, "exchanges": 1_234_567, "flagged": 321, "campaigns": 4},
        triggered_by=admin_user,
    )
    DetectionRunFactory(status="failed", error="chunk 3: <script>alert(1)</script>")

    response = analyst_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "1,234,567" in html and "12,345" in html
    assert "4 min 05 s" in html
    assert admin_user.username in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html


def test_managers_read_runs_and_users_without_a_role_are_refused(manager_client, outsider_client):
    DetectionRunFactory()
    assert manager_client.get(URL).status_code == 200
    assert outsider_client.get(URL).status_code == 403


def test_runs_show_progress_and_time_by_stage(analyst_client):
    DetectionRunFactory(
        timings={"features_seconds": 17.04, "finalise_seconds": 4.4, "reach_seconds": 3.25},
    )
    DetectionRunFactory(
        status="running", stage="features", progress=40, chunks_total=8, chunks_done=3
    )

    html = analyst_client.get(URL).content.decode()

    assert "features 17.0 s · scoring 4.4 s · reach 3.3 s" in html
    assert "features 40%" in html and "(3 of 8 chunks)" in html
