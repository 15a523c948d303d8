"""Making an export is a POST: a GET of an export URL shows the button and makes nothing, so
a link, an image or a prefetch on another site cannot make exports in someone's name."""

import pytest
from django.test import Client

from cases.models import AuditEvent, Export
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def exports_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.EXPORT_SYNC_MAX_ROWS = 2
    return tmp_path


@pytest.mark.parametrize(
    "url", ["/cases/export/csv/?status=any", "/cases/export/xlsx/", "/cases/{pk}/export/pdf/"]
)
def test_a_get_shows_the_button_and_makes_no_export(manager_client, exports_dir, url):
    case = CaseFactory(title="Exported")
    url = url.format(pk=case.pk)
    response = manager_client.get(url)
    assert response.status_code == 200
    assert response.get("Content-Disposition") is None
    assert f'<form method="post" action="{url}">' in response.content.decode()
    assert not AuditEvent.objects.filter(verb="export.created").exists()
    assert not Export.objects.exists()
    # Without the token, the POST is refused.
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(response.wsgi_request.user)
    assert strict.post(url).status_code == 403
    assert not AuditEvent.objects.filter(verb="export.created").exists()
