"""Service tokens made the way an admin makes them, and clients that send them."""

import pytest
from rest_framework.test import APIClient

from api import services
from tests.cases.conftest import make_case  # noqa: F401 (a fixture, shared)


@pytest.fixture(autouse=True)
def _api_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    # The feeds hold back the last seconds' rows in production; tests read at once.
    settings.API_FEED_SETTLE_SECONDS = 0


@pytest.fixture
def make_token(admin_user):
    def _make(*scopes: str, name: str = "gateway", expires_at=None):
        return services.token_create(name=name, scopes=scopes, expires_at=expires_at, by=admin_user)

    return _make


def client_with(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client


@pytest.fixture
def ingest_client(make_token):
    token, plain = make_token("ingest")
    client = client_with(plain)
    client.token = token
    return client


@pytest.fixture
def read_client(make_token):
    return client_with(make_token("read", name="analytics")[1])


@pytest.fixture
def decide_client(make_token):
    return client_with(make_token("decide", name="account platform")[1])
