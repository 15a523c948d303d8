"""Login throttling's project-specific parts (which callers it counts, their address) and
re-authentication (whether the password was entered recently, and checking it again)."""

import time

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest


class ThrottlingBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for people logging in through a request (the console's
    login form, the admin's). Code that authenticates without a request (a management
    command, a shell) has no address to count and is not a login attempt, so it is passed on
    to the next backend instead of being refused, as django-axes' own backend would."""

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_address(request: HttpRequest) -> str:
    """The address a login attempt came from. Behind ``TRUSTED_PROXY_COUNT`` proxies it is the
    one the outermost of them saw: each proxy appends the address it received from to
    ``X-Forwarded-For``, so the entries before that one are whatever the client chose to send
    and cannot be trusted (a client could otherwise pick a fresh address per attempt)."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")


# When the password was last entered in this session: at login (common.receivers) or when a
# form asked for it again (mark_authenticated).
AUTHENTICATED_AT = "_authenticated_at"


def recently_authenticated(request: HttpRequest) -> bool:
    """Whether the password was entered in this session within ``REAUTH_MINUTES``."""
    entered = request.session.get(AUTHENTICATED_AT, 0)
    return time.time() - entered <= settings.REAUTH_MINUTES * 60


def mark_authenticated(request: HttpRequest) -> None:
    request.session[AUTHENTICATED_AT] = int(time.time())


def password_confirms(request: HttpRequest, password: str) -> bool:
    """Whether ``password`` is the logged-in user's, checked through ``authenticate`` so a
    wrong one counts against the login throttle like a failed login does."""
    user = authenticate(request, username=request.user.get_username(), password=password)
    return user is not None and user.pk == request.user.pk
