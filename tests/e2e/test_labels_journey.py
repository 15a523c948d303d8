"""Labels, the allow-list, backtests and signal quality, in a real browser: bulk dismiss
with an outcome and a reason code, an admin backtesting a draft (progress, cancel, results
paged and linked, publishing with a reason), and a manager reading signal quality."""

import re

import pytest
from playwright.sync_api import expect

from cases.labels.models import AccountLabel
from cases.labels.services import labels_record
from detection.backtest import backtest_default_window, backtest_start
from detection.config import DetectionParams, config_new_version, current_config
from detection.models import Account, Backtest
from detection.tasks import backtest_task
from tests.detection.cohorts import Cohort
from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CaseAccountFactory,
    CaseFactory,
    DetectionRunFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def roles():
    from dashboard.roles import ensure_roles

    ensure_roles()


def test_bulk_dismiss_from_the_queue_labels_every_account(page, live_server, login, roles):
    from dashboard.roles import ANALYST

    analyst = UserFactory(username="erin", roles=[ANALYST])
    cases = [CaseFactory(title=f"Benchmark look-alike {i}", risk_score=0.8) for i in range(2)]
    for i, case in enumerate(cases):
        CaseAccountFactory(case=case, account=AccountFactory(account_id=f"bench-{i}"))
    login(analyst)
    page.goto(f"{live_server.url}/cases/")
    for case in cases:
        page.get_by_label(f"Select case #{case.pk}").check()
    page.get_by_label("Bulk action").select_option("status")
    page.get_by_label("Status", exact=True).select_option("dismissed")
    page.get_by_label("Resolution (to dismiss)").select_option("false_positive")
    page.get_by_label("Outcome (to dismiss)").select_option("legitimate")
    page.get_by_label("Reason code (to dismiss)").select_option("legitimate-lookalike")
    page.get_by_label("Reason", exact=True).fill("A benchmark suite")
    page.get_by_role("button", name="Apply to selected…").click()
    dialog = page.locator("#modal-root dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=re.compile(r"^Yes, move to dismissed")).click()
    expect(page.locator("#messages")).to_contain_text("2 changed")
    labels = AccountLabel.objects.select_related("reason", "decided_by")
    assert {(x.account.account_id, x.outcome, x.reason.code, x.source) for x in labels} == {
        ("bench-0", "legitimate", "legitimate-lookalike", "bulk_dismissed"),
        ("bench-1", "legitimate", "legitimate-lookalike", "bulk_dismissed"),
    }
    assert {x.decided_by for x in labels} == {analyst}


@pytest.fixture
def tuning(roles, monkeypatch):
    """A fleet among ordinary accounts; the version in force flags nothing, a draft (the
    defaults) flags the fleet. No worker: a backtest started from the page stays queued."""
    monkeypatch.setattr(backtest_task, "apply_async", lambda *a, **kw: None)
    cohort = Cohort()
    fleet = sorted(cohort.fleet())
    cohort.ordinary(8)
    cohort.save()
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    strict = config_new_version(
        params=DetectionParams(campaign_min_accounts=100000, lone_threshold=1.0), reason="quiet"
    )
    draft = config_new_version(params=DetectionParams(), reason="defaults", draft=True)
    labels_record(
        account_ids=list(Account.objects.filter(account_id__in=fleet).values_list("pk", flat=True)),
        outcome="confirmed",
        reason_code="shared-infrastructure",
        source="case_closed",
        by=admin,
    )
    return {"admin": admin, "strict": strict, "draft": draft, "fleet": fleet}


def test_admin_backtests_a_draft_reads_the_results_and_publishes_it(
    page, live_server, login, tuning, monkeypatch
):
    from dashboard.admin import BacktestAdmin

    monkeypatch.setattr(BacktestAdmin, "PER_PAGE", 5)
    draft = tuning["draft"]
    login(tuning["admin"])
    # Shadow mode: the draft runs beside the scheduled runs for a week.
    page.goto(f"{live_server.url}/admin/detection/detectionconfig/{draft.pk}/change/")
    page.get_by_role("link", name="Run in shadow…").click()
    page.get_by_label("Days in shadow").fill("7")
    page.get_by_role("button", name="Run in shadow").click()
    expect(page.locator(".messagelist")).to_contain_text("runs in shadow until")
    expect(page.get_by_role("link", name="its comparisons")).to_be_visible()
    # Start one from the draft's page, see it queued with its progress, cancel it.
    page.get_by_role("link", name="Backtest against the version in force").click()
    page.get_by_role("button", name="Start the backtest").click()
    expect(page.locator("#backtest-status")).to_contain_text("Queued")
    page.get_by_role("button", name="Cancel the backtest").click()
    expect(page.locator("#backtest-status")).to_contain_text("Cancelled")
    # A finished one: the figures and every newly flagged account, paged and linked.
    start, end = backtest_default_window(draft)
    backtest = backtest_start(config=draft, window_start=start, window_end=end)
    assert backtest_task(backtest.pk) == Backtest.Status.SUCCEEDED
    page.goto(f"{live_server.url}/admin/detection/backtest/{backtest.pk}/change/")
    figures = page.locator("#backtest-figures")
    expect(figures.get_by_role("row", name=re.compile(r"^Draft"))).to_contain_text("1.000")
    expect(page.get_by_role("heading", name="Accounts newly flagged (12)")).to_be_visible()
    expect(page.get_by_role("heading", name="Campaigns newly flagged (1)")).to_be_visible()
    expect(page.get_by_text("Page 1 of 3")).to_be_visible()
    page.get_by_role("link", name="next").first.click()
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()
    page.locator("#list-new + table a.account-link").first.click()
    expect(page).to_have_url(re.compile(r"/accounts/fleet-"))
    # Publishing needs a reason; then the draft is the version in force.
    page.goto(f"{live_server.url}/admin/detection/backtest/{backtest.pk}/change/")
    page.get_by_role("link", name=f"Publish {draft}…").click()
    page.get_by_role("button", name=re.compile(r"^Publish")).click()
    expect(page.locator(".errorlist")).to_contain_text("required")
    assert current_config() == tuning["strict"]
    page.get_by_label("Reason").fill("The backtest found the fleet and nobody else")
    page.get_by_role("button", name=re.compile(r"^Publish")).click()
    expect(page.locator(".messagelist")).to_contain_text("now in force")
    assert current_config().pk == draft.pk


def test_manager_reads_signal_quality_and_follows_an_example(page, live_server, login, roles):
    from dashboard.roles import MANAGER

    manager = UserFactory(username="mona", roles=[MANAGER])
    run = DetectionRunFactory()
    run.finished_at = run.created_at
    run.save()
    signal = {"name": "tool_use", "value": 1, "threshold": 0.5, "norm": 0, "contribution": 0.3}
    for name, outcome, code in (
        ("agent-1", "legitimate", "legitimate-lookalike"),
        ("agent-2", "legitimate", "legitimate-lookalike"),
        ("fleet-9", "confirmed", "shared-infrastructure"),
    ):
        account = AccountFactory(account_id=name)
        AccountScoreFactory(run=run, account=account, signals=[signal])
        labels_record(
            account_ids=[account.pk], outcome=outcome, reason_code=code, source="case_closed"
        )
    login(manager)
    page.get_by_role("link", name="Signal quality").click()
    row = page.locator('#signal-quality tr[data-signal="tool_use"]')
    expect(row).to_contain_text("fires mostly on legitimate accounts")
    expect(row).to_contain_text("33.3%")
    page.locator("#period-form").get_by_role("button", name="Show").click()
    expect(row).to_be_visible()
    # Sorting by a column swaps the table and keeps the URL shareable.
    page.locator("#signal-quality").get_by_role("link", name="Precision").click()
    expect(page).to_have_url(re.compile(r"sort=precision"))
    expect(page.locator("#signal-quality th.orderable.asc")).to_have_text("Precision")
    expect(row).to_be_visible()
    row.get_by_role("link", name="agent-1").click()
    expect(page).to_have_url(re.compile(r"/accounts/agent-1/$"))
