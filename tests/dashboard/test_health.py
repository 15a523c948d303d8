from unittest import mock

import pytest
from django.db.utils import OperationalError


@pytest.mark.django_db
def test_healthz_answers_200_without_login_when_database_and_broker_answer(client, settings):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_does_not(client):
    with mock.patch(
        "django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")
    ):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("failing")


@pytest.mark.django_db
def test_healthz_is_degraded_not_503_when_the_configured_broker_does_not_answer(client, settings):
    """Pages keep serving without the broker (work they start waits in its rows), so the load
    balancer keeps the node; monitoring reads "degraded" and the failing check."""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["broker"].startswith("failing")


@pytest.mark.django_db
def test_healthz_is_degraded_not_503_when_the_configured_cache_fails(client, settings):
    """Pages work without the cache, so the load balancer keeps the node; monitoring reads
    the body."""
    settings.CACHE_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CACHE_URL,
            "OPTIONS": {"serializer": "dashboard.cache.JSONSerializer"},
        }
    }

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["cache"].startswith("failing")


@pytest.mark.django_db
def test_healthz_says_when_no_shared_cache_is_configured(client, settings):
    settings.CACHE_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["cache"].startswith("not configured")
