"""The console's icon: at /favicon.ico for anyone (browsers ask for it on pages that name
none), and named by the console's pages and the admin's, so no page's icon is a 404."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_the_consoles_icon_without_logging_in():
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert "max-age=86400" in response["Cache-Control"]


def test_favicon_ico_refuses_a_post():
    assert Client().post("/favicon.ico").status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/admin/login/",
        "/admin/",
        "/admin/cases/case/",
        "/admin/detection/ingestreport/upload/",
        "/accounts/login/",
        "/cases/",
    ],
)
def test_console_and_admin_pages_name_the_icon(admin_user, path):
    client = Client()
    if path != "/admin/login/" and path != "/accounts/login/":
        client.force_login(admin_user)
    response = client.get(path)
    assert response.status_code == 200
    assert 'rel="icon" href="/static/favicon.svg"' in response.content.decode()
