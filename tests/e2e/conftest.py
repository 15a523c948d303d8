"""Real-browser journeys: headless Debian Chromium through pytest-playwright, live_server."""

import os
import shutil
from pathlib import Path

import pytest

from tests.factories import PASSWORD

# live_server runs in a thread while Playwright's sync API holds an event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Screenshots the journeys take for people to look at (CI keeps test-results/ as an artifact).
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOT_DIR", "test-results/screenshots")).resolve()


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"screenshots: {SCREENSHOTS}")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def console_errors(page):
    """Collects browser console errors and uncaught page errors for the test to assert on."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture
def login(page, live_server):
    """log in as `user` through the real login form; returns the page."""

    def _login(user):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        # Where a role lands (dashboard.views.landing): anywhere but the login page.
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    return _login


@pytest.fixture(autouse=True)
def _reason_codes(request):
    """The starting reason codes in every journey's database: a journey's database is
    flushed after it (transactional tests), taking the data migration's rows with it, and
    the deciding dialogs offer the codes."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    from tests.factories import ensure_reason_codes

    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    ensure_reason_codes()


@pytest.fixture
def enforcement_lists(transactional_db):
    """The policies and violation categories a proposal picks from: seeded by a migration,
    but a journey's database is emptied between tests, so they are put back here."""
    from tests.factories import enforcement_terms

    return enforcement_terms()


def choose_terms(form, *, length: str | None = None) -> None:
    """Fill the proposal form's required policy and violation category (the first of each)."""
    form.get_by_label("Policy").select_option(index=1)
    form.get_by_label("Violation category").select_option(index=1)
    if length:
        form.get_by_label("Length").select_option(label=length)
