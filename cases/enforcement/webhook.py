"""The webhook backend: POST the action to the account platform, signed, idempotent.

The contract (docs/enforcement.md) in short: the body is the message's payload as compact
JSON with sorted keys, identical on every attempt; ``X-Console-Signature`` is
``sha256=<hex HMAC-SHA256 of the raw body with ENFORCEMENT_WEBHOOK_SECRET>``;
``Idempotency-Key`` (also ``idempotency_key`` in the body) is the action's key, the same on
every attempt, so the platform applies an action once however often it arrives. Any 2xx
answer confirms delivery. Timeouts, connection errors, 5xx, 408 and 429 are retried; any
other answer (a redirect, a 4xx) or a missing secret dead-letters the message at once,
because retrying cannot fix it.
"""

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

from cases.enforcement.backends import DeliveryResult

SIGNATURE_HEADER = "X-Console-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "X-Console-Attempt"
RETRYABLE_STATUSES = {408, 425, 429}
ERROR_EXCERPT = 300


def body_bytes(payload: dict) -> bytes:
    """The exact bytes sent (and signed): stable for a given payload."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str) -> bool:
    """What a receiver does: recompute over the raw body and compare in constant time."""
    return bool(header) and hmac.compare_digest(sign(body, secret), header)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET without its body; refuse instead.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def deliver(message) -> DeliveryResult:
    url = settings.ENFORCEMENT_WEBHOOK_URL
    secret = settings.ENFORCEMENT_WEBHOOK_SECRET
    if not url:
        return DeliveryResult(ok=False, error="ENFORCEMENT_WEBHOOK_URL is not set", permanent=True)
    if urlsplit(url).scheme not in ("http", "https"):
        return DeliveryResult(
            ok=False, error="ENFORCEMENT_WEBHOOK_URL must be http(s)", permanent=True
        )
    if not secret:
        return DeliveryResult(
            ok=False, error="ENFORCEMENT_WEBHOOK_SECRET is not set; refusing to send unsigned",
            permanent=True,
        )  # fmt: skip
    body = body_bytes(message.payload)
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "distillation-console/enforcement",
            SIGNATURE_HEADER: sign(body, secret),
            IDEMPOTENCY_HEADER: str(message.payload["idempotency_key"]),
            ATTEMPT_HEADER: str(message.attempts),
        },
    )
    timeout = float(getattr(settings, "ENFORCEMENT_WEBHOOK_TIMEOUT", 10))
    try:
        with _opener.open(request, timeout=timeout) as response:
            return DeliveryResult(ok=True, status_code=response.status)
    except urllib.error.HTTPError as exc:
        code = exc.code
        excerpt = _excerpt(exc)
        retry = code >= 500 or code in RETRYABLE_STATUSES
        return DeliveryResult(
            ok=False,
            status_code=code,
            error=f"HTTP {code} {exc.reason}{': ' + excerpt if excerpt else ''}",
            permanent=not retry,
        )
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return DeliveryResult(ok=False, error=f"{type(exc).__name__}: {reason}"[:ERROR_EXCERPT])


def _excerpt(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(ERROR_EXCERPT).decode("utf-8", "replace").strip()
    except OSError:
        return ""
