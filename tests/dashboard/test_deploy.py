"""Production settings from the environment: ``check --deploy`` clean, and the headers a
browser gets (HSTS, the SSL redirect, the Content-Security-Policy)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-like-key-" + "k7Qz" * 10,
    "ALLOWED_HOSTS": "console.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://console.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "BEHIND_TLS_PROXY": "true",
}


def test_check_deploy_is_clean_with_production_settings():
    env = {**os.environ, **PRODUCTION, "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
    # The browser journeys' fixtures set this in the test process; a deployment never does.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_https_headers_follow_the_environment(settings, client):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    redirect = client.get("/accounts/login/")
    assert redirect.status_code == 301 and redirect["Location"].startswith("https://")
    secure = client.get("/accounts/login/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"
    # The health check answers load balancers that probe over plain HTTP.
    assert client.get("/healthz").status_code != 301


@pytest.mark.django_db
def test_every_page_has_a_content_security_policy_without_inline_script(analyst_client):
    policy = analyst_client.get("/cases/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_no_template_has_inline_script_or_event_handlers():
    """What the policy's ``script-src 'self'`` would block: a <script> with a body, on*=
    attributes, javascript: URLs. JSON data islands (``json_script``) are not script."""
    offences = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script\b([^>]*)>(.*?)</script>", text, re.S):
            attrs, body = match.groups()
            if body.strip() and "application/json" not in attrs:
                offences.append(f"{path}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", text) or "javascript:" in text:
            offences.append(f"{path}: event handler or javascript: URL")
    assert offences == []
