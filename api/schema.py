"""How drf-spectacular describes the API: the service token, and the refusals."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ServiceTokenAuthentication"
    name = "serviceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A service token made in the admin (API > Service tokens).",
        }


_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# A refused request's body: ``{"detail": ...}``, or for bad input ``{field: [messages]}``.
_INVALID = {"type": "object", "additionalProperties": True}
_ERRORS = {
    "400": ("Bad input: the fields at fault, each with its messages.", _INVALID),
    "401": ("No token, an unknown one, or one expired or revoked.", _DETAIL),
    "403": ("The token lacks the scope this endpoint needs.", _DETAIL),
    "429": (
        "Over the token's rate for this scope, or too many failed token authentications "
        "from this address: wait Retry-After seconds.",
        _DETAIL,
    ),
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's, with the refusals every endpoint can answer written down, so a
    client (and schemathesis) knows a 401, a 404 or a 429 is an answer, not a surprise."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(_ERRORS)
        if "{" in self.path:
            errors["404"] = ("Nothing there, or not this token's.", _DETAIL)
        for code, (description, schema) in errors.items():
            response = {
                "description": description,
                "content": {"application/json": {"schema": schema}},
            }
            if code == "429":
                response["headers"] = _RETRY_AFTER
            responses.setdefault(code, response)
        return responses
