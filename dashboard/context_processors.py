from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from dashboard.roles import roles_of


def navigation(request: HttpRequest) -> dict:
    """The top bar's roles and unread count, queried only if the template shows them: an
    htmx fragment (a case section, the queue's rows) has no top bar, so costs no query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "user_roles": SimpleLazyObject(lambda: roles_of(user)),
        "unread_notifications": SimpleLazyObject(
            lambda: user.notifications.filter(read_at__isnull=True).count()
        ),
    }
