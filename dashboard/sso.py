"""Single sign-on through OpenID Connect (mozilla-django-oidc), and the login page.

Enabled when ``OIDC_RP_CLIENT_ID`` is set (docs/operations.md, "Single sign-on"). The
identity provider says who someone is and, in the claim named by ``OIDC_ROLES_CLAIM``, what
they may do: each sign-in sets the person's role groups (``dashboard.roles``) to exactly
the roles that claim maps to (``OIDC_ROLE_MAP``), so a role removed at the provider is gone
at the next sign-in. Someone whose claim maps to no role, and who is not an administrator
(``OIDC_ADMIN_VALUES``), is not let in: a console of no role shows nothing, and an account
for them would be one more to audit. ``PASSWORD_LOGIN=false`` turns the username and
password form off (the console's and the admin's), leaving sign-in to the provider.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from dashboard.roles import ROLES

log = logging.getLogger(__name__)
# Where a refused sign-in lands (OIDC's LOGIN_REDIRECT_URL_FAILURE): the login page, saying so.
REFUSED = "sso"


def sso_enabled() -> bool:
    return bool(getattr(settings, "OIDC_ENABLED", False))


def password_login_enabled() -> bool:
    return bool(getattr(settings, "PASSWORD_LOGIN", True))


def roles_from_claims(claims: dict) -> tuple[set[str], bool]:
    """(roles, is admin) that the configured claim grants.

    The claim may be a list of values (Keycloak's and Okta's ``groups``) or one string; each
    value is looked up in ``OIDC_ROLE_MAP`` (``{claim value: role}``), and a value that is
    itself a role's name grants that role.
    """
    raw = claims.get(settings.OIDC_ROLES_CLAIM, [])
    values = [raw] if isinstance(raw, str) else [v for v in raw or [] if isinstance(v, str)]
    mapping = settings.OIDC_ROLE_MAP
    roles = {mapping.get(v, v) for v in values} & set(ROLES)
    admin = bool(set(values) & set(settings.OIDC_ADMIN_VALUES))
    return roles, admin


def username_from_claims(email: str, claims: dict | None = None) -> str:
    """The name the console shows: the provider's ``preferred_username`` unless a local
    user has it already, else the email address (``OIDC_USERNAME_ALGO``)."""
    from django.contrib.auth import get_user_model

    wanted = str((claims or {}).get("preferred_username") or "")[:150]
    if wanted and not get_user_model().objects.filter(username=wanted).exists():
        return wanted
    return email[:150]


class RoleMappingBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, matching people by verified email and setting their
    roles from the provider's claim at every sign-in."""

    def verify_claims(self, claims: dict) -> bool:
        if not super().verify_claims(claims):
            return False
        if claims.get("email_verified") is False:
            log.warning("SSO sign-in refused: the provider has not verified the email")
            return False
        roles, admin = roles_from_claims(claims)
        if not roles and not admin:
            log.warning("SSO sign-in refused: claim %r maps to no role", settings.OIDC_ROLES_CLAIM)
            return False
        return True

    def create_user(self, claims: dict):
        user = super().create_user(claims)
        return self._apply(user, claims)

    def update_user(self, user, claims: dict):
        return self._apply(user, claims)

    @transaction.atomic
    def _apply(self, user, claims: dict):
        roles, admin = roles_from_claims(claims)
        user.first_name = str(claims.get("given_name", user.first_name))[:150]
        user.last_name = str(claims.get("family_name", user.last_name))[:150]
        user.is_staff = user.is_superuser = admin
        # A person who signs in through the provider has no password here.
        if not user.has_usable_password():
            user.set_unusable_password()
        user.save()
        keep = user.groups.exclude(name__in=ROLES)
        user.groups.set([*keep, *Group.objects.filter(name__in=roles)])
        return user


@login_not_required
@require_GET
def sso_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the identity provider (mozilla-django-oidc's view)."""
    if not sso_enabled():
        raise Http404("Single sign-on is not configured")
    return OIDCAuthenticationRequestView.as_view()(request)


@login_not_required
@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the browser back; signs the person in, or says why not."""
    if not sso_enabled():
        raise Http404("Single sign-on is not configured")
    response = OIDCAuthenticationCallbackView.as_view()(request)
    if not request.user.is_authenticated:
        messages.error(
            request,
            "Single sign-on did not let you in: the identity provider refused, or gave you "
            "no role in this console. Ask an administrator to add you to one of its groups.",
        )
    return response


@login_not_required
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login form; with ``PASSWORD_LOGIN`` off, the console's login page (single
    sign-on), so no password form is left anywhere."""
    if password_login_enabled():
        return admin.site.login(request)
    query = request.META.get("QUERY_STRING", "")
    return redirect(reverse("login") + (f"?{query}" if query else ""))


class LoginView(auth_views.LoginView):
    """Django's login page, offering single sign-on when it is configured; with
    ``PASSWORD_LOGIN`` off it shows only that, and refuses a posted password."""

    def post(self, request, *args, **kwargs):
        if not password_login_enabled():
            messages.error(request, "Sign-in with a password is switched off: use single sign-on.")
            return redirect(request.get_full_path())
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "sso_enabled": sso_enabled(),
            "sso_name": settings.OIDC_PROVIDER_NAME,
            "password_login": password_login_enabled(),
        }
