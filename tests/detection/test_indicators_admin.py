"""The watch list in the admin: uploading a file, the rows it refused, adding and expiring
indicators, all audited."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.models import AuditEvent
from detection.models import ExternalFlag, Indicator, IndicatorImport, IndicatorMatch
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "indicators"
UPLOAD = "/admin/detection/indicatorimport/upload/"


def _file(name):
    return SimpleUploadedFile(name, FIXTURES.joinpath(name).read_bytes())


def test_an_admin_uploads_a_meta_csv_and_sees_the_refused_rows(admin_client_):
    AccountFactory(account_id="acct-harvest-0001")
    response = admin_client_.post(
        UPLOAD, {"file": _file("meta_cib_report.csv"), "source": "Meta", "tlp": "green"}
    )
    record = IndicatorImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/detection/indicatorimport/{record.pk}/change/"
    assert (record.added, record.rejected, record.matched_accounts) == (9, 7, 1)
    page = admin_client_.get(response["Location"]).content.decode()
    assert "9 indicators added, 0 updated, 7 rows refused" in page
    assert "not an IP address or range" in page
    assert "=HYPERLINK(&quot;http://evil.example&quot;)" in page  # escaped, as text
    event = AuditEvent.objects.get(verb="admin.added")
    assert event.data["changes"]["rejected"] == [None, 7]


def test_an_unreadable_file_is_refused_on_the_form_with_its_reason(admin_client_):
    bad = SimpleUploadedFile("bundle.json", b'{"type": "not-a-bundle"}')
    page = admin_client_.post(UPLOAD, {"file": bad, "tlp": "amber"})
    assert page.status_code == 200
    assert "Nothing was imported: the file is not a STIX bundle" in page.content.decode()
    assert Indicator.objects.count() == 0


def test_staff_without_the_permission_cannot_upload(client, roles):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="staffer", is_staff=True))
    assert client.get(UPLOAD).status_code == 403


def test_an_admin_adds_one_indicator_normalised_and_matched(admin_client_):
    account = AccountFactory(account_id="a1", email_domain="Relay.Example")
    response = admin_client_.post(
        "/admin/detection/indicator/add/",
        {"kind": "email_domain", "value": "ops@RELAY.example", "source": "our team",
         "comment": "", "tlp": "amber"},
    )  # fmt: skip
    assert response.status_code == 302
    indicator = Indicator.objects.get()
    assert indicator.value == "relay.example"
    assert IndicatorMatch.objects.filter(indicator=indicator, account=account).exists()
    bad = admin_client_.post(
        "/admin/detection/indicator/add/",
        {"kind": "ip", "value": "not-an-ip", "source": "x", "tlp": "amber"},
    )
    assert bad.status_code == 200 and "not an IP address" in bad.content.decode()


def test_the_expire_action_stops_the_watch_and_is_audited(admin_client_):
    indicator = Indicator.objects.create(kind="ip", value="203.0.113.7", source="s")
    response = admin_client_.post(
        "/admin/detection/indicator/",
        {"action": "expire_now", "_selected_action": [indicator.pk]},
    )
    assert response.status_code == 302
    indicator.refresh_from_db()
    assert indicator.expires_at is not None and not indicator.is_active
    assert AuditEvent.objects.filter(verb="admin.changed", target_id=str(indicator.pk)).exists()


def test_flags_are_listed_read_only(admin_client_):
    ExternalFlag.objects.create(
        account=AccountFactory(account_id="a2"), source="billing", reason="<b>x</b>"
    )
    page = admin_client_.get("/admin/detection/externalflag/").content.decode()
    assert "billing" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert admin_client_.get("/admin/detection/externalflag/add/").status_code == 403
