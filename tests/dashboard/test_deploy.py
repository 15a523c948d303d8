"""Production settings from the environment: ``check --deploy`` clean, and the headers a
browser gets (HSTS, the SSL redirect, the Content-Security-Policy)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The deployment settings `check --deploy` judges, as .env.example gives them (the docs say
# that file's production values pass it), and a real-looking key in place of its blank one.
DEPLOY_KEYS = ("DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "BEHIND_TLS_PROXY")


def example_deploy_settings() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    chosen = {k: v for k, v in pairs.items() if k in DEPLOY_KEYS or k.startswith("SECURE_")}
    return {**chosen, "SECRET_KEY": "a-long-random-production-like-key-" + "k7Qz" * 10}


def test_check_deploy_is_clean_with_production_settings():
    env = {
        **os.environ,
        **example_deploy_settings(),
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    }
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
