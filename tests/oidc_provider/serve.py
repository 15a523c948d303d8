"""Run the test identity provider: ``python -m tests.oidc_provider.serve PORT REDIRECT_URI``.

Creates its database (``IDP_DATABASE``), a signing key, one confidential client for the
console (id and secret below) allowed to return to ``REDIRECT_URI``, and the people of the
journey with their groups; then serves on 127.0.0.1:PORT and prints "ready" when it listens.
"""

import os
import sys

CLIENT_ID = "console"
CLIENT_SECRET = "console-secret-for-tests-only"
PASSWORD = "provider-password"
# username -> (email, groups at the provider)
PEOPLE = {
    "olivia": ("olivia@corp.example", ["console-approvers", "staff-all"]),
    "nadia": ("nadia@corp.example", ["staff-all"]),
}


def _key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def main() -> None:
    port, redirect_uri = int(sys.argv[1]), sys.argv[2]
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    os.environ.setdefault("IDP_RSA_KEY", _key())
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.core.servers.basehttp import WSGIServer, run
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    for username, (email, groups) in PEOPLE.items():
        user = User.objects.create_user(username, email, PASSWORD)
        user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
    Application.objects.create(
        name="Distillation console",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    print("ready", flush=True)
    run("127.0.0.1", port, get_wsgi_application(), threading=True, server_cls=WSGIServer)


if __name__ == "__main__":
    main()
