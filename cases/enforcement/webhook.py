"""The webhook backend: POST the action to the account platform, signed, idempotent.

The contract (docs/enforcement.md) in short: the body is the message's payload as compact
JSON with sorted keys, identical on every attempt; ``X-Console-Signature`` is
``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with ENFORCEMENT_WEBHOOK_SECRET>``
(as Stripe and Slack sign), made afresh for each attempt, so a receiver that refuses a
timestamp older than a few minutes cannot be fed a captured request again later;
``Idempotency-Key`` (also ``idempotency_key`` in the body) is the action's key, the same on
every attempt, so the platform applies an action once however often it arrives. Any 2xx
answer confirms delivery. Timeouts, connection errors, 5xx, 408 and 429 are retried; any
other answer (a redirect, a 4xx) or a missing secret dead-letters the message at once,
because retrying cannot fix it.
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

from cases.enforcement.backends import DeliveryResult

SIGNATURE_HEADER = "X-Console-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "X-Console-Attempt"
RETRYABLE_STATUSES = {408, 425, 429}
# How far a receiver lets the signed time stray from its own clock (either way), seconds.
SIGNATURE_TOLERANCE = 300
ERROR_EXCERPT = 300


def body_bytes(payload: dict) -> bytes:
    """The exact bytes sent (and signed): stable for a given payload."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The signature header for ``body`` sent at ``timestamp`` (now if not given)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    body: bytes,
    secret: str,
    header: str,
    *,
    tolerance: int = SIGNATURE_TOLERANCE,
    now: float | None = None,
) -> bool:
    """What a receiver does (docs/enforcement.md has the same in a snippet to copy): read
    ``t`` and every ``v1`` from the header, refuse a ``t`` more than ``tolerance`` seconds
    from its own clock, recompute over ``"<t>." + raw body`` and compare in constant time."""
    parts = [item.partition("=") for item in (header or "").split(",")]
    stamps = [value for key, _, value in parts if key.strip() == "t"]
    macs = [value.strip() for key, _, value in parts if key.strip() == "v1"]
    stamp = stamps[0].strip() if len(stamps) == 1 else ""
    # ASCII digits only: "²".isdigit() is true, and int() refuses it.
    if not (stamp.isascii() and stamp.isdecimal()) or not macs:
        return False
    t = int(stamp)
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = sign(body, secret, t).rpartition("v1=")[2]
    # Compared as bytes: compare_digest refuses str holding characters outside ASCII.
    return any(hmac.compare_digest(expected.encode(), mac.encode()) for mac in macs)


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
