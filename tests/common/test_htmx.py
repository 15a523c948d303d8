"""Page or fragment (common/htmx.py): htmx asks for a part of a page, except when it restores
a pushed URL from the server after a miss in its history cache; and a logged-out htmx request
sends the browser to the login page instead of swapping the form into a part
(common/middleware.py)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, RequestFactory
from django_htmx.middleware import HtmxMiddleware

from common.htmx import is_fragment
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db

# What htmx 2 sends when Back or Forward reaches a URL it no longer has in its history cache
# (``historyRestoreAsHxRequest`` is on by default): HX-Request as well.
HISTORY_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


def _request(headers: dict):
    request = RequestFactory().get("/cases/", headers=headers)
    HtmxMiddleware(lambda request: None)(request)
    return request


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, False),
        ({"HX-Request": "true"}, True),
        ({"HX-Request": "true", "HX-Boosted": "true"}, False),
        (HISTORY_RESTORE, False),
    ],
    ids=["plain", "htmx", "boosted", "history-restore"],
)
def test_is_fragment(headers, fragment):
    assert is_fragment(_request(headers)) is fragment


def _is_whole_page(html: str) -> bool:
    return html.lstrip().startswith("<!doctype html>") and html.count('class="topbar"') == 1


@pytest.mark.parametrize("url", ["/cases/?status=any", "/"], ids=["queue", "overview"])
def test_a_history_restore_gets_the_whole_page_and_responses_vary_on_it(
    analyst_client, htmx_headers, url
):
    CaseFactory(title="Restored after a cache miss")
    fragment = analyst_client.get(url, headers=htmx_headers)
    assert fragment.status_code == 200
    assert not _is_whole_page(fragment.content.decode())

    restored = analyst_client.get(url, headers=HISTORY_RESTORE)
    assert restored.status_code == 200
    assert _is_whole_page(restored.content.decode())
    if url.startswith("/cases/"):
        assert restored.content.decode().count('id="filter-form"') == 1
        assert "Restored after a cache miss" in restored.content.decode()
    vary = {value.strip() for value in restored["Vary"].split(",")}
    assert {"HX-Request", "HX-Boosted", "HX-History-Restore-Request"} <= vary


def _next_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.path == "/accounts/login/"
    return parse_qs(parts.query)["next"][0]


def test_a_logged_out_htmx_request_sends_the_browser_to_log_in_and_back_to_its_page():
    case = CaseFactory()
    response = Client().get(
        f"/cases/{case.pk}/notes/",
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver/cases/{case.pk}/"},
    )
    # Not a redirect the XMLHttpRequest would follow (and swap the login form into the
    # notes section): htmx itself is told to go to the login page.
    assert response.status_code == 200
    assert response.content == b""
    assert _next_of(response["HX-Redirect"]) == f"/cases/{case.pk}/"


def test_next_is_the_fragments_url_when_the_current_page_is_on_another_site():
    response = Client().get(
        "/cases/?status=triage",
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/cases/"},
    )
    assert _next_of(response["HX-Redirect"]) == "/cases/?status=triage"


@pytest.mark.parametrize(
    "headers",
    [{}, {"HX-Request": "true", "HX-Boosted": "true"}, HISTORY_RESTORE],
    ids=["plain", "boosted", "history-restore"],
)
def test_a_logged_out_page_request_is_redirected_as_django_does(headers):
    response = Client().get("/cases/?status=triage", headers=headers)
    assert response.status_code == 302
    assert "HX-Redirect" not in response
    assert _next_of(response["Location"]) == "/cases/?status=triage"
