"""Numbers a person can type into the address bar: whatever their size, the queue, a case's
accounts section and the queue's export answer with a page or a 400, never a server error."""

from urllib.parse import urlencode

import pytest

from tests.factories import CaseAccountFactory, CaseFactory

pytestmark = pytest.mark.django_db

HUGE = "9" * 40
# Past what a PostgreSQL bigint holds, past what Python's float holds, negative, and a
# float Python reads as infinity.
NUMBERS = [HUGE, "9223372036854775808", "-" + HUGE, "1e400", "-5", "nan", "inf"]


@pytest.mark.parametrize("value", NUMBERS)
@pytest.mark.parametrize("param", ["campaign", "closed_within", "page"])
def test_the_queue_and_its_fragment_answer_any_number(analyst_client, htmx_headers, param, value):
    CaseFactory(title="A case")
    for headers in ({}, htmx_headers):
        response = analyst_client.get("/cases/", {param: value}, headers=headers)
        assert response.status_code in (200, 400), response.status_code
    # A page past the end of the listing shows the first one.
    response = analyst_client.get("/cases/", {"page": HUGE})
    assert "A case" in response.content.decode()


@pytest.mark.parametrize("value", NUMBERS)
def test_the_accounts_section_answers_any_page(analyst_client, htmx_headers, value):
    link = CaseAccountFactory()
    response = analyst_client.get(
        f"/cases/{link.case_id}/accounts/", {"page": value}, headers=htmx_headers
    )
    assert response.status_code == 200
    assert link.account.account_id in response.content.decode()


@pytest.mark.parametrize("value", NUMBERS)
@pytest.mark.parametrize("param", ["campaign", "closed_within", "page"])
def test_the_queue_export_answers_any_number(manager_client, param, value):
    CaseFactory(title="A case")
    response = manager_client.post(f"/cases/export/csv/?{urlencode({param: value})}")
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        assert b"".join(response.streaming_content).decode().startswith("\ufeffid,title,")
