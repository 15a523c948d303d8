from django.http import HttpRequest

from dashboard.roles import roles_of


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "user_roles": roles_of(user),
        "unread_notifications": user.notifications.filter(read_at__isnull=True).count(),
    }
