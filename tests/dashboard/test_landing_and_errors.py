"""Where logging in lands, and the pages for refusals and misses."""

import pytest
from django.template.loader import get_template
from django.test import Client

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "lands"),
    [("analyst", "/cases/"), ("approver", "/cases/"), ("manager", "/"), ("outsider", "/")],
)
def test_logging_in_lands_by_role(request, who, lands):
    user = request.getfixturevalue(who)
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == lands


def test_a_refusal_is_a_page_of_the_console(outsider_client):
    response = outsider_client.get("/cases/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "You are not allowed to do that" in body
    assert 'class="topbar"' in body  # the console's layout, not a bare page


def test_a_miss_is_a_page_of_the_console(analyst_client):
    response = analyst_client.get("/cases/999999/")
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()
    assert analyst_client.get("/no/such/page/").status_code == 404


def test_the_server_error_page_renders_without_a_request_or_a_database(
    django_assert_num_queries,
):
    # Django's handler500 renders 500.html with no context at all.
    with django_assert_num_queries(0):
        html = get_template("500.html").render()
    assert "Something went wrong on our side" in html
    assert "/static/" in html  # styled by the console's stylesheet


def test_the_bad_request_page_renders(client):
    html = get_template("400.html").render()
    assert "could not be read" in html
