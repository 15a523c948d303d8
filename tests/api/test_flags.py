"""Flags from other systems through the API: recorded once, under the token's name, audited,
and seen by detection (the account's signal, the indicator's watch-list marks)."""

import pytest

from cases.models import AuditEvent
from detection.indicators.matching import external_flag_counts
from detection.indicators.models import ExternalFlag, Indicator, IndicatorMatch
from tests.api.conftest import client_with
from tests.factories import AccountFactory, ExchangeFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/flags/"


def test_an_account_flag_is_recorded_once_under_the_tokens_name_and_audited(ingest_client):
    account = AccountFactory(account_id="acct/7")
    body = {"account_id": "acct/7", "reason": "chargeback ring", "external_id": "fraud-91"}

    first = ingest_client.post(URL, body, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["account_id"] == "acct/7"
    assert first.json()["source"] == "api:gateway"
    again = ingest_client.post(URL, {**body, "reason": "changed"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]

    flag = ExternalFlag.objects.get()
    assert (flag.account, flag.reason, flag.source) == (account, "chargeback ring", "api:gateway")
    assert external_flag_counts([account.pk]) == {account.pk: 1}
    event = AuditEvent.objects.get(verb="api.flag_recorded")
    assert event.data["flag"] == flag.pk and event.data["name"] == "gateway"


def test_an_indicator_flag_joins_the_watch_list_and_marks_matching_accounts(ingest_client):
    hit = AccountFactory()
    ExchangeFactory(account=hit, ip="203.0.113.9")
    ExchangeFactory(account=AccountFactory(), ip="198.51.100.1")

    response = ingest_client.post(
        URL,
        {"indicator_kind": "ip", "indicator_value": "203.0.113.9", "reason": "partner report"},
        format="json",
    )
    assert response.status_code == 201, response.content
    indicator = Indicator.objects.get()
    assert (indicator.kind, indicator.value, indicator.source) == (
        "ip",
        "203.0.113.9",
        "api:gateway",
    )
    assert set(IndicatorMatch.objects.values_list("account_id", flat=True)) == {hit.pk}


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"reason": "no subject"}, "either an account"),
        (
            {
                "account_id": "a",
                "indicator_kind": "ip",
                "indicator_value": "1.2.3.4",
                "reason": "x",
            },
            "either an account",
        ),
        ({"account_id": "nobody-here", "reason": "x"}, "no account"),
        ({"indicator_kind": "url", "indicator_value": "http://x", "reason": "x"}, "url"),
        ({"account_id": "a"}, "reason"),
        ({"account_id": "a", "reason": "x", "tlp": "purple"}, "tlp"),
    ],
)
def test_a_flag_that_cannot_be_recorded_is_a_400_and_records_nothing(ingest_client, body, expected):
    AccountFactory(account_id="a")
    response = ingest_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert expected in response.content.decode().lower()
    assert not ExternalFlag.objects.exists() and not Indicator.objects.exists()
    assert not AuditEvent.objects.filter(verb="api.flag_recorded").exists()


def test_flagging_needs_the_ingest_scope(make_token, read_client):
    AccountFactory(account_id="a")
    body = {"account_id": "a", "reason": "x"}
    assert read_client.post(URL, body, format="json").status_code == 403
    assert client_with("not-a-token").post(URL, body, format="json").status_code == 401
    assert not ExternalFlag.objects.exists()
