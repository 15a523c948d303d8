"""What an htmx request asks for: the whole page or a part of it."""

from django.contrib.auth import middleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

# The request headers that decide between the page and a fragment (see ``is_fragment``).
FRAGMENT_HEADERS = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request")


def is_fragment(request: HttpRequest) -> bool:
    """An htmx request for part of a page, which gets only that part.

    Not a boosted link or form, which swaps the whole body; and not htmx restoring a pushed
    URL after a miss in its history cache (Back or Forward past the ten pages it keeps,
    or after a reload): that request carries ``HX-Request`` too, but htmx puts the response
    in place of the whole body, so it must be the whole page.
    """
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


# For views whose response is a page or a fragment by ``is_fragment``: a cache between the
# browser and the server must not answer one with the other.
vary_on_fragment = vary_on_headers(*FRAGMENT_HEADERS)


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
