"""An admin makes a service token in the admin; the gateway pushes a batch with it over real
HTTP and reads the per-row rejects; the API's docs page draws every endpoint from our own
static files and runs a request with the token."""

import re

import pytest
from playwright.sync_api import expect

from detection.models import Exchange
from tests.detection.test_ingest_support import exchange_row

pytestmark = pytest.mark.e2e


@pytest.fixture
def tasks_in_process(monkeypatch):
    """The embedded default (no broker): the pushed batch is ingested when it commits."""
    from dashboard.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


def make_token(page, live_server, *scopes: str) -> str:
    page.goto(f"{live_server.url}/admin/api/servicetoken/add/")
    page.get_by_label("Name").fill("API gateway")
    for scope in scopes:
        page.get_by_label(re.compile(f"{scope}: ")).check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("it is not stored and will not be shown again")).to_be_visible()
    return page.locator("#service-token").inner_text().strip()


def test_a_token_made_in_the_admin_pushes_a_batch_and_reads_its_rejects(
    page, live_server, login, admin_user, tasks_in_process, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    login(admin_user)
    token = make_token(page, live_server, "ingest")
    auth = {"Authorization": f"Bearer {token}"}
    records = [exchange_row(0), exchange_row(1, ip="nope"), exchange_row(2)]

    pushed = page.request.post(
        f"{live_server.url}/api/v1/batches/",
        headers=auth,
        data={"kind": "exchanges", "records": records},
    )

    assert pushed.status == 202, pushed.text()
    report = page.request.get(pushed.headers["location"], headers=auth).json()
    assert report["status"] == "done"
    assert report["counts"]["loaded"] == 2
    assert [r["index"] for r in report["rejects"]] == [1]
    assert Exchange.objects.count() == 2
    # The page that showed the token is gone for good: the token's page shows its hint only.
    page.goto(f"{live_server.url}/admin/api/servicetoken/")
    expect(page.get_by_role("link", name="API gateway")).to_be_visible()
    assert token not in page.content()


def test_the_docs_page_draws_the_api_and_runs_a_request(
    page, live_server, login, admin_user, console_errors
):
    # No 404 anywhere, the admin's pages (which ask for the site's icon) included.
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    login(admin_user)
    token = make_token(page, live_server, "read")
    external = []
    page.on(
        "request",
        lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None,
    )
    page.goto(f"{live_server.url}/api/docs/")

    expect(page.get_by_text("Distillation console API")).to_be_visible()
    operation = page.locator("#operations-v1-v1_cases_list")
    expect(operation).to_be_visible()
    page.get_by_role("button", name=re.compile("Authorize")).first.click()
    page.locator(".auth-container input").first.fill(token)
    page.locator(".auth-btn-wrapper button.authorize").click()
    page.locator(".auth-btn-wrapper button.btn-done").click()
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    answer = operation.locator(".live-responses-table tbody .response-col_status")
    expect(answer).to_have_text("200")
    expect(operation.locator(".live-responses-table tbody")).to_contain_text("next_cursor")
    assert external == []
    assert missing == []
    assert console_errors == []
