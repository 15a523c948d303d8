"""What an htmx request asks for: the whole page or a part of it."""

from django.http import HttpRequest
from django.views.decorators.vary import vary_on_headers

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
