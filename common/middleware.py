"""Middleware every app's pages rely on."""

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
