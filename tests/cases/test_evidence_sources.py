"""The evidence source interface: a deployment's own source, registered through settings."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from cases.evidence.services import evidence_snapshot_collect
from cases.evidence.sources import CaseAccounts, Window, load_sources
from cases.evidence.telemetry import TelemetrySource
from cases.models import EvidenceSnapshot
from tests.cases.test_evidence_fixtures import make_campaign

SEEN: list[tuple[CaseAccounts, Window]] = []


class WarehouseSource:
    """What a deployment might write: its own data about the case's accounts."""

    name = "warehouse"

    def collect(self, case_accounts, window):
        SEEN.append((case_accounts, window))
        return {
            "chargebacks": {
                "accounts": list(case_accounts.account_ids),
                "total": 3,
                "note": "<b>from the warehouse</b>",
            }
        }


class NotJSONSource:
    name = "broken"

    def collect(self, case_accounts, window):
        return {"oops": {"value": object()}}


class NamelessSource:
    def collect(self, case_accounts, window):
        return {}


def test_default_is_the_builtin_telemetry_source(settings):
    settings.EVIDENCE_SOURCES = None
    sources = load_sources()
    assert [type(s) for s in sources] == [TelemetrySource]


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (["no.such.Source"], "cannot import"),
        ([f"{__name__}.NamelessSource"], "needs a non-empty `name`"),
        ([f"{__name__}.WarehouseSource", f"{__name__}.WarehouseSource"], "two sources"),
    ],
)
def test_misconfigured_sources_are_refused_clearly(paths, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load_sources(paths)


@pytest.mark.django_db
def test_a_custom_source_adds_its_sections_next_to_the_builtin_ones(settings):
    settings.EVIDENCE_SOURCES = [
        "cases.evidence.telemetry.TelemetrySource",
        f"{__name__}.WarehouseSource",
    ]
    SEEN.clear()
    case, accounts, _ = make_campaign(4, days=2)
    snapshot = EvidenceSnapshot.objects.create(case=case)

    assert evidence_snapshot_collect(snapshot.pk) == "done"

    snapshot.refresh_from_db()
    assert snapshot.sources == ["telemetry", "warehouse"]
    item = snapshot.items.get(source="warehouse")
    assert item.kind == "chargebacks"
    assert sorted(item.data["accounts"]) == sorted(a.account_id for a in accounts)
    assert snapshot.items.filter(source="telemetry", kind="traffic").exists()
    # The source saw plain data: account ids and the run's window, not model instances.
    case_accounts, window = SEEN[0]
    assert case_accounts.case_id == case.pk and len(case_accounts) == 4
    assert (window.start, window.end) == (case.last_run.window_start, case.last_run.window_end)


@pytest.mark.django_db
def test_custom_sections_are_shown_escaped_on_the_case(settings, analyst_client, htmx_headers):
    settings.EVIDENCE_SOURCES = [f"{__name__}.WarehouseSource"]
    case, _, _ = make_campaign(3, days=2)
    snapshot = EvidenceSnapshot.objects.create(case=case)
    evidence_snapshot_collect(snapshot.pk)

    html = analyst_client.get(f"/cases/{case.pk}/evidence/", headers=htmx_headers).content.decode()
    assert "chargebacks" in html and "source: warehouse" in html
    assert "&lt;b&gt;from the warehouse&lt;/b&gt;" in html
    assert "<b>from the warehouse</b>" not in html


@pytest.mark.django_db
def test_a_source_returning_non_json_fails_the_snapshot_with_its_name(settings):
    settings.EVIDENCE_SOURCES = [f"{__name__}.NotJSONSource"]
    case, _, _ = make_campaign(2, days=1)
    snapshot = EvidenceSnapshot.objects.create(case=case)

    assert evidence_snapshot_collect(snapshot.pk) == "failed"

    snapshot.refresh_from_db()
    assert snapshot.status == "failed"
    assert "broken" in snapshot.error and "not JSON" in snapshot.error
    assert not snapshot.items.exists()
