"""Rate limits: each token's requests per scope, failed token logins per address; 429 with
Retry-After over a rate, counted in the shared cache."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from api import services
from tests.api.conftest import client_with

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

CASES = "/api/v1/cases/"
DECISIONS = "/api/v1/decisions/"
BATCHES = "/api/v1/batches/"


@pytest.fixture
def rates(settings):
    settings.API_THROTTLE_RATES = {
        "read": "3/minute",
        "decide": "2/minute",
        "ingest": "2/hour",
        "auth_failures": "2/minute",
    }
    return settings.API_THROTTLE_RATES


def test_a_token_over_its_scopes_rate_is_answered_429_with_retry_after(make_token, rates):
    client = client_with(make_token("read")[1])
    assert [client.get(CASES).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(CASES)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()


def test_each_scope_of_a_token_has_a_rate_of_its_own(make_token, rates):
    client = client_with(make_token("read", "decide", "ingest")[1])
    for _ in range(3):
        client.get(CASES)
    assert client.get(CASES).status_code == 429
    assert client.get(DECISIONS).status_code == 200  # the decide scope's count is its own
    assert client.get(BATCHES).status_code == 200
    assert client.get(BATCHES).status_code == 200
    hourly = client.get(BATCHES)
    assert hourly.status_code == 429 and 3000 < int(hourly["Retry-After"]) <= 3600


def test_each_token_is_counted_on_its_own(make_token, rates):
    first = client_with(make_token("read", name="one")[1])
    second = client_with(make_token("read", name="two")[1])
    for _ in range(3):
        first.get(CASES)
    assert first.get(CASES).status_code == 429
    assert second.get(CASES).status_code == 200


def test_a_request_the_token_may_not_make_is_403_and_costs_nothing(make_token, rates):
    client = client_with(make_token("read")[1])
    assert [client.get(DECISIONS).status_code for _ in range(5)] == [403] * 5
    assert client.get(CASES).status_code == 200


def test_an_empty_rate_is_no_limit(make_token, rates):
    rates["read"] = ""
    client = client_with(make_token("read")[1])
    assert {client.get(CASES).status_code for _ in range(6)} == {200}


def test_failed_token_logins_lock_the_address_for_any_token(make_token, rates):
    _, plain = make_token("read")
    wrong = client_with("not-a-token")
    assert [wrong.get(CASES).status_code for _ in range(2)] == [401, 401]
    refused = wrong.get(CASES)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "failed token authentications" in refused.json()["detail"]
    # The address is refused whatever it presents now, a valid token included...
    assert client_with(plain).get(CASES).status_code == 429
    # ...while another address is not, and a request without a token is not counted.
    other = client_with(plain)
    assert other.get(CASES, REMOTE_ADDR="192.0.2.7").status_code == 200
    assert APIClient().get(CASES, REMOTE_ADDR="192.0.2.8").status_code == 401


def test_revoked_and_malformed_tokens_count_as_failures(make_token, admin_user, rates):
    token, plain = make_token("read")
    services.token_revoke(token=token, by=admin_user)
    assert client_with(plain).get(CASES).status_code == 401
    malformed = APIClient()
    malformed.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    assert malformed.get(CASES).status_code == 401
    assert malformed.get(CASES).status_code == 429


def test_failures_are_counted_per_address_the_outermost_trusted_proxy_saw(
    make_token, rates, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    _, plain = make_token("read")
    wrong = client_with("not-a-token")
    for _ in range(2):
        wrong.get(CASES, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")
    # The client chose the first entry, so changing it is still the same address...
    spoofed = wrong.get(CASES, HTTP_X_FORWARDED_FOR="198.51.100.2, 203.0.113.9")
    assert spoofed.status_code == 429
    # ...and one the proxy saw differently is another.
    fresh = client_with(plain).get(CASES, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert fresh.status_code == 200


def test_a_cache_that_does_not_answer_lets_requests_through(make_token, rates, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    client = client_with(make_token("read")[1])
    assert {client.get(CASES).status_code for _ in range(5)} == {200}
    assert {client_with("nope").get(CASES).status_code for _ in range(4)} == {401}


@pytest.mark.parametrize(
    ("value", "starts"), [("fast", False), ("0/minute", False), ("10/week", False), ("5/h", True)]
)
def test_a_rate_the_settings_cannot_read_stops_the_app_from_starting(value, starts):
    env = {**os.environ, "API_THROTTLE_READ": value, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode == 0) == starts, result.stderr
    if not starts:
        assert f"API_THROTTLE_READ='{value}'" in result.stderr


def test_the_schema_names_429_and_retry_after_for_every_operation(client):
    schema = client.get("/api/schema/?format=json").json()
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert operations
    for operation in operations:
        assert "Retry-After" in operation["responses"]["429"]["headers"]
