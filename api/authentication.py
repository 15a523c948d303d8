"""``Authorization: Bearer <token>`` for DRF, against the hashed service tokens."""

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from api.models import ServiceToken, token_digest
from api.services import token_touch
from api.throttling import FailedAuthThrottle


class ServiceTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates the calling system, not a person: ``request.auth`` is its token and
    ``request.user`` stays anonymous, so nothing of a console user's rights applies. Failed
    attempts are counted per address (``api.throttling.FailedAuthThrottle``)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        throttle = FailedAuthThrottle()
        throttle.check(request)  # an address that failed too often: 429, nothing looked up
        try:
            token = self._token(header)
        except exceptions.AuthenticationFailed:
            throttle.failed(request)
            raise
        token_touch(token)
        return AnonymousUser(), token

    def _token(self, header: list[bytes]) -> ServiceToken:
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("send: Authorization: Bearer <token>")
        try:
            plain = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("unknown token") from None
        token = ServiceToken.objects.filter(digest=token_digest(plain)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("unknown token")
        if token.state != "active":
            raise exceptions.AuthenticationFailed(f"this token is {token.state}")
        return token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
