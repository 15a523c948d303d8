"""Middleware every app's pages rely on."""

import time

from django.conf import settings
from django.contrib.auth import middleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

from common.htmx import is_fragment


class LoginRequiredMiddleware(middleware.LoginRequiredMiddleware):
    """Django's, with htmx in mind. Once a session has ended (logged out in another tab,
    expired), the next htmx request (a section loading, a filter changed, a note saved)
    would follow the redirect and swap the login form into the part of the page it updates.
    Instead htmx is told to send the browser to the login page (``HX-Redirect``), with
    ``next`` the page the user was on (``HX-Current-URL``, if it is on this site) rather
    than the fragment's URL. A boosted request is a page of its own, and a history restore
    swaps the whole body anyway: both get Django's redirect."""

    def handle_no_permission(self, request: HttpRequest, view_func) -> HttpResponse:
        if not is_fragment(request):
            return super().handle_no_permission(request, view_func)
        page = request.htmx.current_url_abs_path or request.get_full_path()
        login = redirect_to_login(
            page,
            resolve_url(self.get_login_url(view_func)),
            self.get_redirect_field_name(view_func),
        )
        return HttpResponseClientRedirect(login["Location"])


class NoStoreForUsersMiddleware:
    """``Cache-Control: no-store`` on every response to a logged-in user. Pages show
    investigated people's data, and a page a browser keeps can be shown again (Back, a
    shared machine) without a request: the audited prompt page would then be read without
    its audit event. Static files and the login page are not affected."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response["Cache-Control"] = "no-store"
        return response


class IdleSessionMiddleware:
    """Ends a session after ``SESSION_COOKIE_AGE`` seconds without a request, while a session
    in use lives on. Django's ``SESSION_SAVE_EVERY_REQUEST`` would do this by writing the
    session row on every request; here the row (and its expiry, and the cookie) is written
    only when the last write is older than ``TOUCH_EVERY`` seconds (or a tenth of the
    timeout, if shorter), so a session expires between ``age - TOUCH_EVERY`` and ``age``
    seconds after its last use, at one write a minute at most."""

    KEY = "_touched_at"
    TOUCH_EVERY = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is None or user is None or not user.is_authenticated:
            return response
        now = int(time.time())
        every = min(self.TOUCH_EVERY, settings.SESSION_COOKIE_AGE // 10)
        if session.modified or now - session.get(self.KEY, 0) >= every:
            session[self.KEY] = now  # marks it modified: SessionMiddleware saves it
        return response
