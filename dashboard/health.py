"""``/healthz``: 200 when the database answers, 503 when it does not.

The broker and the shared cache (if configured) are reported too, but one that does not
answer leaves the status at 200, "degraded": every page works without them (the queue reads
its lists from the database; work a page starts is committed with its row and sent once the
broker is back), so a load balancer should not take the web nodes out of rotation for them;
monitoring reads the body."""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("health: database check failed: %s", exc)
        return f"{type(exc).__name__}"
    return None


def check_broker() -> str | None:
    if not settings.CELERY_BROKER_URL:
        return None
    from dashboard.celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        logger.warning("health: broker check failed: %s", exc)
        return f"{type(exc).__name__}"
    return None


def check_cache() -> str | None:
    if not settings.CACHE_URL:
        return None
    try:
        cache.set("healthz", 1, timeout=10)
        if cache.get("healthz") != 1:
            return "not stored"
    except Exception as exc:
        logger.warning("health: cache check failed: %s", exc)
        return f"{type(exc).__name__}"
    return None


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "broker": check_broker(), "cache": check_cache()}
    ok = checks["database"] is None
    whole = checks["broker"] is None and checks["cache"] is None
    body = {
        "status": ("ok" if whole else "degraded") if ok else "unavailable",
        "checks": {
            name: ("ok" if problem is None else f"failing: {problem}")
            for name, problem in checks.items()
        },
    }
    if not settings.CELERY_BROKER_URL:
        body["checks"]["broker"] = "not configured (tasks run in-process)"
    if not settings.CACHE_URL:
        body["checks"]["cache"] = "not configured (each process keeps its own)"
    return JsonResponse(body, status=200 if ok else 503)
