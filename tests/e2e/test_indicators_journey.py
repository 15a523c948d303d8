"""The watch list in a real browser: an admin uploads a partner's STIX bundle in the admin
and sees the rows it refused; an analyst finds its source on the case and on the account;
an approver shares the campaign's indicators as STIX with a TLP, and the file imports back."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    ExchangeFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
BUNDLE = Path(__file__).resolve().parent.parent / "fixtures" / "indicators" / "partner_bundle.json"


@pytest.fixture
def world():
    from dashboard.roles import ANALYST, APPROVER, ensure_roles

    ensure_roles()
    campaign = CampaignFactory(label="Exit-node fleet")
    case = CaseFactory(title="Exit-node fleet", campaign=campaign, account_count=3)
    for n in range(3):
        account = AccountFactory(account_id=f"fleet-{n}", payment_fingerprint="fp_fleet")
        CaseAccountFactory(case=case, account=account)
        ExchangeFactory(account=account, ip="192.0.2.3", asn=64511)
    return {
        "case": case,
        "admin": UserFactory(username="root", is_staff=True, is_superuser=True),
        "analyst": UserFactory(username="erin", roles=[ANALYST]),
        "approver": UserFactory(username="april", roles=[APPROVER]),
    }


def test_a_bundle_uploaded_in_the_admin_marks_the_fleet_and_shows_its_source(
    page, live_server, login, world, console_errors
):
    login(world["admin"])
    page.goto(f"{live_server.url}/admin/detection/indicatorimport/")
    page.get_by_role("link", name="Upload indicators").click()
    page.get_by_label("File").set_input_files(str(BUNDLE))
    page.get_by_label("TLP").select_option("amber")
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "5 indicators added, 0 updated, 4 rows refused"
    )
    expect(page.locator(".messagelist")).to_contain_text("3 accounts match")
    expect(page.get_by_text("the pattern joins conditions with AND")).to_be_visible()

    page.context.clear_cookies()
    login(world["analyst"])
    case = world["case"]
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    section = page.locator("#case-intel")
    expect(section.get_by_role("heading", name="Watch list")).to_be_visible()
    row = section.locator("#intel-indicators tr", has_text="192.0.2.0/29")
    expect(row).to_contain_text("Partner Lab Trust & Safety")
    expect(row).to_contain_text("TLP:GREEN")
    expect(row).to_contain_text("partner_bundle.json")
    row.get_by_role("link", name="fleet-1").click()
    expect(page.get_by_role("heading", name="Account fleet-1")).to_be_visible()
    intel = page.locator("#account-intel")
    expect(intel).to_contain_text("Fleet hosting network")
    expect(intel).to_contain_text("Partner Lab Trust & Safety")
    # Analysts do not share: the button is not offered.
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("#case-intel #intel-indicators")).to_be_visible()
    expect(page.locator("#case-indicators-export")).to_have_count(0)
    assert console_errors == []


def test_an_approver_shares_the_campaign_as_stix_with_a_tlp_and_it_imports_back(
    page, live_server, login, world, console_errors
):
    from cases.models import AuditEvent
    from detection.indicators.services import indicators_import
    from detection.models import Indicator

    login(world["approver"])
    case = world["case"]
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.locator("#case-indicators-export").click()
    expect(page.get_by_role("heading", name="Share the campaign's indicators")).to_be_visible()
    expect(page.locator("#indicator-export-counts")).to_contain_text("Account id: 3")
    page.get_by_label("STIX 2.1 bundle (JSON)").check()
    page.get_by_label("Sharing level (TLP)").select_option("amber+strict")
    with page.expect_download() as info:
        page.locator("#indicator-export-start").click()
    download = info.value
    assert download.suggested_filename.startswith(f"case-{case.pk}-indicators-amber-strict")
    data = Path(download.path()).read_bytes()
    event = AuditEvent.objects.get(verb="export.created", case=case)
    assert event.data["tlp"] == "TLP:AMBER+STRICT" and event.actor.username == "april"

    record = indicators_import(data=data, file_name=download.suggested_filename)
    # The 3 accounts, and their card, sign-up domain, exit and network.
    assert record.rejected == 0 and record.added == 7
    assert set(Indicator.objects.values_list("tlp", flat=True)) == {"amber+strict"}
    assert console_errors == []
