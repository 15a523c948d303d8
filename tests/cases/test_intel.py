"""The case's Watch list section, the account page's, and a campaign's indicators shared as
STIX 2.1 or CSV with a TLP (and read back in)."""

import csv
import io
from pathlib import Path

import pytest

from cases.models import AuditEvent
from detection.indicators.services import external_flag_record, indicators_import
from detection.models import Indicator, Tlp
from tests.factories import AccountFactory, CaseAccountFactory, CaseFactory, ExchangeFactory

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "indicators"
K = Indicator.Kind


@pytest.fixture
def fleet():
    """A case of four fleet accounts: one card, one sign-up domain, two exits of their own,
    one template; and an ordinary customer who shares a public exit and a free-mail domain."""
    case = CaseFactory(title="Fleet <script>alert(1)</script>")
    accounts = []
    for n in range(4):
        account = AccountFactory(
            account_id=f"fleet-{n}",
            payment_fingerprint="fp_fleet",
            email_domain="mailbox-farm.example" if n < 3 else "gmail.com",
        )
        CaseAccountFactory(case=case, account=account)
        ExchangeFactory(
            account=account,
            ip=f"203.0.113.{n % 2 + 1}",
            asn=64511,
            prompt=f"Explain step by step: problem {n}",
            prompt_hash=42,
        )
        ExchangeFactory(account=account, ip="192.0.2.200", asn=64500, prompt_hash=None)
        accounts.append(account)  # fmt: skip
    for n in range(3):
        other = AccountFactory(account_id=f"ordinary-{n}", email_domain="gmail.com")
        ExchangeFactory(account=other, ip="192.0.2.200", asn=64500, prompt_hash=None)
    return case, accounts


def test_the_case_section_lists_matches_with_their_source_and_flags(fleet, analyst_client):
    case, _ = fleet
    data = FIXTURES.joinpath("partner_bundle.json").read_bytes()
    record = indicators_import(data=data, file_name="partner_bundle.json")
    external_flag_record(source="billing", reason="chargeback <b>ring</b>", account_id="fleet-1")
    page = analyst_client.get(f"/cases/{case.pk}/watch-list/", HTTP_HX_REQUEST="true")
    html = page.content.decode()
    assert page.status_code == 200
    # 203.0.113.7 is in no traffic here; the domain and AS network are.
    assert "mailbox-farm.example" in html and "64511" in html
    assert "Partner Lab Trust &amp; Safety" in html and "TLP:GREEN" not in html
    assert "fleet-0" in html and record.file_name in html
    assert "chargeback &lt;b&gt;ring&lt;/b&gt;" in html
    # Not staff: the source is text, not a link into the admin.
    assert "/admin/detection/indicatorimport/" not in html
    full = analyst_client.get(f"/cases/{case.pk}/watch-list/")
    assert full.status_code == 200 and "← Case #" in full.content.decode()


def test_the_case_page_loads_the_section(fleet, analyst_client):
    case, _ = fleet
    html = analyst_client.get(f"/cases/{case.pk}/").content.decode()
    assert f'hx-get="/cases/{case.pk}/watch-list/"' in html


def test_the_account_page_shows_its_matches_and_flags(fleet, analyst_client):
    indicators_import(
        data=b"indicator_type,indicator_value,comment\npayment_fingerprint,fp_fleet,<i>x</i>\n",
        file_name="cards.csv",
        source="Partner",
        tlp=Tlp.RED,
    )
    external_flag_record(source="platform", reason="card testing", account_id="fleet-2")
    html = analyst_client.get("/accounts/fleet-2/").content.decode()
    assert 'id="account-intel"' in html
    assert "fp_fleet" in html and "TLP:RED" in html and "&lt;i&gt;x&lt;/i&gt;" in html
    assert "card testing" in html and "platform" in html


def test_outsiders_see_neither(fleet, outsider_client):
    case, _ = fleet
    assert outsider_client.get(f"/cases/{case.pk}/watch-list/").status_code == 403
    assert outsider_client.get(f"/cases/{case.pk}/indicators/").status_code == 403


def test_analysts_cannot_export_indicators(fleet, analyst_client):
    case, _ = fleet
    data = {"format": "stix", "tlp": "red"}
    response = analyst_client.post(f"/cases/{case.pk}/indicators/", data)
    assert response.status_code == 403


def test_the_export_page_says_what_the_file_would_hold(fleet, approver_client):
    case, _ = fleet
    html = approver_client.get(f"/cases/{case.pk}/indicators/").content.decode()
    assert "Account id: 4" in html and "Payment fingerprint: 1" in html
    assert "Email domain: 1" in html and "IP address: 2" in html
    assert "ASN: 1" in html and "Prompt template: 1" in html
    assert 'name="tlp"' in html and "TLP:AMBER+STRICT" in html


def test_a_campaign_exported_as_stix_reimports_cleanly(fleet, approver_client):
    case, _ = fleet
    response = approver_client.post(
        f"/cases/{case.pk}/indicators/", {"format": "stix", "tlp": Tlp.GREEN}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/stix+json")
    assert ".stix.json" in response["Content-Disposition"]
    bundle = response.content
    # Only the fleet's own: not the public exit, the ordinary network or the free-mail domain.
    for public in (b"192.0.2.200", b"64500", b"gmail.com"):
        assert public not in bundle
    record = indicators_import(data=bundle, file_name="from-partner.json")
    assert record.rejected == 0 and record.status == "done"
    got = set(Indicator.objects.values_list("kind", "value", "tlp", "source"))
    expected = {
        *((K.ACCOUNT, f"fleet-{n}") for n in range(4)),
        (K.PAYMENT, "fp_fleet"),
        (K.EMAIL_DOMAIN, "mailbox-farm.example"),
        (K.IP, "203.0.113.1"),
        (K.IP, "203.0.113.2"),
        (K.ASN, "64511"),
        (K.PROMPT, "Explain step by step: problem 0"),
    }
    assert got == {(k, v, Tlp.GREEN, "Trust and Safety") for k, v in expected}
    # The re-imported indicators mark the fleet and no one else.
    marked = set(
        Indicator.objects.filter(matches__isnull=False).values_list(
            "matches__account__account_id", flat=True
        )
    )
    assert marked == {f"fleet-{n}" for n in range(4)}
    event = AuditEvent.objects.get(verb="export.created", case=case)
    assert event.data == {
        "format": "stix", "scope": "case_indicators", "rows": 10, "tlp": "TLP:GREEN"
    }  # fmt: skip


def test_the_csv_export_is_metas_layout_with_the_tlp_and_no_formulas(fleet, approver_client):
    case, accounts = fleet
    for account in accounts[:2]:
        account.payment_fingerprint = "=HYPERLINK(1)"
        account.save()
    response = approver_client.post(
        f"/cases/{case.pk}/indicators/", {"format": "csv", "tlp": Tlp.AMBER_STRICT}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["indicator_type", "indicator_value", "comment", "tlp"]
    assert {r[3] for r in rows[1:]} == {"TLP:AMBER+STRICT"}
    assert ["account_id", "fleet-0", "account of the campaign", "TLP:AMBER+STRICT"] in rows
    assert rows[5][:2] == ["payment_fingerprint", "'=HYPERLINK(1)"]
    assert not any(cell.startswith("=") for row in rows for cell in row)
    record = indicators_import(data=response.content, file_name="back.csv", source="us")
    assert record.rejected == 0 and record.added == len(rows) - 1


def test_a_bad_export_form_is_shown_again(fleet, approver_client):
    case, _ = fleet
    response = approver_client.post(f"/cases/{case.pk}/indicators/", {"format": "pdf", "tlp": "x"})
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    assert not AuditEvent.objects.filter(verb="export.created").exists()


@pytest.mark.parametrize("extra", [0, 8])
def test_the_section_costs_the_same_queries_whatever_the_matches(
    fleet, analyst_client, django_assert_num_queries, extra
):
    case, _ = fleet
    for n in range(extra):
        account = AccountFactory(account_id=f"more-{n}", payment_fingerprint="fp_fleet")
        CaseAccountFactory(case=case, account=account)
        external_flag_record(source=f"system-{n}", reason="r", account_id=account.account_id)
    indicators_import(data=FIXTURES.joinpath("meta_cib_report.csv").read_bytes(),
                      file_name="m.csv")  # fmt: skip
    indicators_import(
        data=b"indicator_type,indicator_value\npayment_fingerprint,fp_fleet\n", file_name="c.csv"
    )
    # The session (4), the case, its accounts, their marks, their flags.
    with django_assert_num_queries(4 + 4):
        response = analyst_client.get(f"/cases/{case.pk}/watch-list/", HTTP_HX_REQUEST="true")
        assert response.status_code == 200


def test_the_section_caps_its_lists_and_says_how_many_there_are(fleet, analyst_client, monkeypatch):
    from cases.intel import selectors

    case, accounts = fleet
    monkeypatch.setattr(selectors, "MAX_CASE_INDICATORS", 1)
    monkeypatch.setattr(selectors, "MAX_CASE_FLAGS", 2)
    monkeypatch.setattr(selectors, "SHOWN_ACCOUNTS", 2)
    indicators_import(
        data=b"indicator_type,indicator_value\n"
        b"payment_fingerprint,fp_fleet\nemail_domain,mailbox-farm.example\n",
        file_name="c.csv",
    )
    for n, account in enumerate(accounts):
        external_flag_record(
            source=f"system-{n}", reason=f"flag {n}", account_id=account.account_id
        )
    html = analyst_client.get(f"/cases/{case.pk}/watch-list/", HTTP_HX_REQUEST="true").content
    html = html.decode()
    # The card all four accounts share comes first; two of them by name, the rest counted.
    assert "Showing the 1 most relevant of 2 indicators matched" in html
    assert "fp_fleet" in html and "mailbox-farm.example" not in html
    assert "fleet-0" in html and "fleet-1" in html and "and 2 more" in html
    # The newest flags first, and the cap said.
    assert "Showing the newest 2 of 4 flags." in html
    assert "flag 3" in html and "flag 2" in html and "flag 0" not in html
