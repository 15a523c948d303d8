from rest_framework import permissions

from api.models import ServiceToken


class ScopeRequired(permissions.BasePermission):
    """The view's ``required_scope`` must be one of the token's scopes. No token: 401."""

    message = "this token lacks the scope this endpoint needs"

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ServiceToken):
            return False
        scope = getattr(view, "required_scope", None)
        if scope is None:
            return False
        scope = str(scope)
        self.message = f"this token lacks the {scope!r} scope"
        return token.has_scope(scope)
