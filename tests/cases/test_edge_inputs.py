"""Numbers a person can type into the address bar: whatever their size, the queue, a case's
accounts section and the queue's export answer with a page or a 400, never a server error."""

from urllib.parse import urlencode

import pytest

from tests.factories import AccountFactory, CaseAccountFactory, CaseFactory

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


def test_search_finds_an_account_by_a_term_salted_with_nul(analyst_client):
    """Stored telemetry holds no NUL (ingest removes them), so a term holding one is looked up
    without it rather than sent to PostgreSQL, which refuses it."""
    account = AccountFactory(account_id="fleet-nul-1", org_id="Acme")
    response = analyst_client.get("/search/?q=fleet-%00nul")
    assert response.status_code == 200
    assert account.account_id in response.content.decode()


@pytest.mark.parametrize("kind", ["org", "domain", "card", "agent"])
def test_a_pivot_on_a_value_salted_with_nul_finds_the_stored_value(analyst_client, kind):
    account = AccountFactory(
        account_id="fleet-nul-2",
        org_id="Acme",
        email_domain="acme.example",
        payment_fingerprint="card-1",
    )
    value = {"org": "Ac%00me", "domain": "acme%00.example", "card": "card%00-1", "agent": "%00"}
    response = analyst_client.get(f"/accounts/shared/{kind}/?value={value[kind]}")
    assert response.status_code in (200, 404)
    if kind != "agent":
        assert account.account_id in response.content.decode()
