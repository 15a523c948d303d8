"""Rate limits for the API: each token's requests per scope, and failed token logins per
address, counted in the shared cache (Redis in production, so every web process counts
together).

The rates are ``API_THROTTLE_RATES`` (from the environment; ``"<n>/<second|minute|hour|
day>"``, or none for no limit), read when a request comes rather than when DRF is imported,
so a changed setting takes effect at once. A request over its rate is answered 429 with
``Retry-After`` (DRF's ``Throttled``). A cache that does not answer lets requests through:
an outage of Redis must not become an outage of the API, and the rates are a brake on a
runaway client, not a security boundary (tokens are long random secrets).
"""

import logging

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from api.models import ServiceToken
from common.auth import client_address

logger = logging.getLogger(__name__)

# The rate that counts failed authentications (per address) in API_THROTTLE_RATES.
AUTH_FAILURES = "auth_failures"


def _rate(scope: str) -> str | None:
    return settings.API_THROTTLE_RATES.get(str(scope)) or None


class TokenScopeThrottle(ScopedRateThrottle):
    """A token's requests to the endpoints of one scope (the view's ``required_scope``:
    ingest, read, decide), whichever address they come from. Runs after the permission
    check, so a request the token may not make is a 403 and costs it nothing."""

    scope_attr = "required_scope"

    def get_rate(self):
        return _rate(self.scope)

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ServiceToken):
            return None  # the permission check has refused it already
        return self.cache_format % {"scope": self.scope, "ident": f"token-{request.auth.pk}"}

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache is down: let it through (see the module's note)
            logger.warning("API throttle: cache unavailable, not counting: %s", exc)
            return True


class FailedAuthThrottle(SimpleRateThrottle):
    """Failed token authentications (unknown, revoked or malformed tokens) per client
    address (``common.auth.client_address``, which honours ``TRUSTED_PROXY_COUNT``). Once an
    address is over the rate, every request from it that presents a token is refused before
    the token is looked up, valid or not (as the login throttle locks an address), so
    guessing cannot go on at any pace; requests without a token are not counted (401)."""

    scope = AUTH_FAILURES

    def get_rate(self):
        return _rate(self.scope)

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}

    def _recent(self, request) -> list[float]:
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        history = self.cache.get(self.key, [])
        return [t for t in history if t > self.now - self.duration]

    def check(self, request) -> None:
        """Raise ``Throttled`` if the caller's address has failed too often lately."""
        if self.rate is None:
            return
        try:
            self.history = self._recent(request)
        except Exception as exc:
            logger.warning("API auth throttle: cache unavailable, not checking: %s", exc)
            return
        if len(self.history) >= self.num_requests:
            raise Throttled(
                wait=self.wait(),
                detail="too many failed token authentications from this address",
            )

    def failed(self, request) -> None:
        """Count a failed authentication against the caller's address."""
        if self.rate is None:
            return
        try:
            history = self._recent(request)  # newest first, as DRF's throttles keep it
            history.insert(0, self.now)
            self.cache.set(self.key, history[: self.num_requests], self.duration)
        except Exception as exc:
            logger.warning("API auth throttle: cache unavailable, not counting: %s", exc)
