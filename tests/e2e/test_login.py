import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_analyst_logs_in_and_sees_the_console(page, live_server, login, console_errors):
    from dashboard.roles import ANALYST, ensure_roles

    ensure_roles()
    user = UserFactory(username="erin", roles=[ANALYST])

    page.goto(f"{live_server.url}/cases/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/cases/")
    login(user)

    # Those who work cases land on the queue.
    expect(page).to_have_url(f"{live_server.url}/cases/")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue")
    ).to_be_visible()
    expect(page.get_by_text("erin · analyst")).to_be_visible()
    assert console_errors == []


def test_a_manager_lands_on_the_overview(page, live_server, login, console_errors):
    from dashboard.roles import MANAGER, ensure_roles

    ensure_roles()
    login(UserFactory(username="mona", roles=[MANAGER]))
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    assert console_errors == []
