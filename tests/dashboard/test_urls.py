"""Every page needs login: anonymous requests to any URL are sent to the login page; the
API's endpoints need a service token instead, and refuse anonymous requests with 401."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Pages that are public on purpose: single sign-on starts and ends before anyone is logged
# in (and is a 404 unless configured, tests/dashboard/test_sso.py); the API's schema and its
# docs describe, and hold, no data; the icon is a static file.
PUBLIC = {
    "login",
    "healthz",
    "favicon",
    "oidc_authentication_init",
    "oidc_authentication_callback",
    "api:schema",
    "api:docs",
}


def _all_named_patterns(resolver=None, prefix="", namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue
            ns = pattern.namespace or namespace
            yield from _all_named_patterns(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, prefix + str(pattern.pattern)


def _example_path(route: str) -> str:
    import re

    path = re.sub(r"<int:\w+>", "1", route)
    path = re.sub(r"<uuid:\w+>", "00000000-0000-0000-0000-000000000001", path)
    path = re.sub(r"<(?:str|slug):\w+>", "x", path)
    path = re.sub(r"<(?:path|anytext):\w+>", "x", path)
    return "/" + path.lstrip("^").rstrip("$")


ROUTES = sorted(_all_named_patterns())


def test_the_route_list_is_not_empty():
    assert len(ROUTES) >= 4


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), ROUTES, ids=[name for name, _ in ROUTES])
def test_every_url_needs_login(client, name, route):
    if name in PUBLIC or name == "logout":
        return
    for method in (client.get, client.post):
        response = method(_example_path(route))
        if name.startswith("api:"):
            assert response.status_code == 401, (name, method.__name__)
            continue
        assert response.status_code == 302, (name, method.__name__)
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_login_page_is_public(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content


@pytest.mark.django_db
def test_login_then_logout(client, analyst):
    from tests.factories import PASSWORD

    response = client.post("/accounts/login/", {"username": "ana", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302
