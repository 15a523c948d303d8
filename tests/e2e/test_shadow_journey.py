"""A draft in shadow over time, in a real browser: the admin opens the draft's shadow
comparisons from its page, reads the run-by-run table and trend chart, and follows a figure
to the accounts it counts and on to an account's page."""

import re

import pytest
from playwright.sync_api import expect

from cases.labels.services import labels_record
from detection.backtest import config_shadow, shadow_start
from detection.config import DetectionParams, config_new_version
from detection.models import Account, Backtest
from detection.services import detection_run_create, detection_run_execute
from detection.tasks import backtest_task
from tests.detection.cohorts import Cohort
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shadowed(roles):
    """A fleet among ordinary accounts; the version in force flags nothing, a draft (the
    defaults) in shadow flags the fleet; two scheduled runs shadowed. One fleet account is
    labelled legitimate by mistake, the others confirmed."""
    cohort = Cohort()
    fleet = sorted(cohort.fleet())
    cohort.ordinary(8)
    cohort.save()
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    config_new_version(
        params=DetectionParams(campaign_min_accounts=100000, lone_threshold=1.0), reason="quiet"
    )
    draft = config_new_version(params=DetectionParams(), reason="defaults", draft=True)
    pks = dict(Account.objects.filter(account_id__in=fleet).values_list("account_id", "pk"))
    labels_record(
        account_ids=[pks[a] for a in fleet[1:]],
        outcome="confirmed",
        reason_code="shared-infrastructure",
        source="case_closed",
        by=admin,
    )
    labels_record(
        account_ids=[pks[fleet[0]]],
        outcome="legitimate",
        reason_code="legitimate-lookalike",
        source="case_closed",
        by=admin,
    )
    config_shadow(config=draft, days=7)
    for _ in range(2):
        shadow_start(run=detection_run_execute(run=detection_run_create()))
    for shadow in Backtest.objects.all():
        assert backtest_task(shadow.pk) == Backtest.Status.SUCCEEDED
    return {"admin": admin, "draft": draft, "fleet": fleet}


def test_admin_reads_a_draft_in_shadow_run_by_run(
    page, live_server, login, shadowed, console_errors
):
    login(shadowed["admin"])
    page.goto(f"{live_server.url}/admin/detection/detectionconfig/{shadowed['draft'].pk}/change/")
    page.get_by_role("link", name="its comparisons, run by run").click()
    expect(page.locator("#content-main h1")).to_contain_text("in shadow, run by run")
    rows = page.locator("#shadow-history tbody tr")
    expect(rows).to_have_count(2)
    # Both runs: the draft newly flags the fleet beside a version that flags nothing.
    expect(rows.nth(0).get_by_role("link", name="12", exact=True)).to_be_visible()
    expect(rows.nth(1)).to_contain_text("0.917")  # the draft's precision, 11 of 12
    # The trend chart is drawn from our own plotly.js.
    expect(page.locator("[data-chart='chart-shadow-data'] .main-svg").first).to_be_visible()
    # "Flagged and legitimate" under the draft opens the one account it counts.
    rows.nth(1).get_by_title("flagged and legitimate").nth(1).click()
    heading = page.locator("#list-behind")
    expect(heading).to_have_text("Flagged and legitimate, under the draft (1)")
    page.locator("#list-behind + table a.account-link").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{shadowed['fleet'][0]}/$"))
    assert console_errors == []
