"""Watch-list indicators: real CSV and STIX files in, per-row rejects, matches, the signal."""

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from detection import services
from detection.indicators import stix
from detection.indicators.services import (
    ExternalFlagError,
    external_flag_record,
    indicators_import,
)
from detection.models import (
    AccountScore,
    ExternalFlag,
    Indicator,
    IndicatorImport,
    IndicatorMatch,
    Tlp,
)
from tests.factories import AccountFactory, ExchangeFactory

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "indicators"
K = Indicator.Kind


def _import(name, **kwargs):
    path = FIXTURES / name
    return indicators_import(data=path.read_bytes(), file_name=path.name, **kwargs)


def test_meta_csv_loads_the_watched_kinds_and_refuses_the_rest_by_row():
    record = _import("meta_cib_report.csv", source="Meta CIB report", tlp=Tlp.GREEN)
    assert record.status == IndicatorImport.Status.DONE
    assert record.rows_read == 16
    assert record.added == 9 and record.updated == 0 and record.rejected == 7
    values = dict(Indicator.objects.values_list("value", "kind"))
    assert values == {
        "203.0.113.7": K.IP,
        "2001:db8::42": K.IP,
        "198.51.100.0/28": K.CIDR,
        "64511": K.ASN,
        "mailbox-farm.example": K.EMAIL_DOMAIN,
        "relay-inbox.example": K.EMAIL_DOMAIN,
        "fp_7f3a9c1e": K.PAYMENT,
        "Explain step by step with full working: problem 17": K.PROMPT,
        "acct-harvest-0001": K.ACCOUNT,
    }
    assert set(Indicator.objects.values_list("source", flat=True)) == {"Meta CIB report"}
    assert set(Indicator.objects.values_list("tlp", flat=True)) == {Tlp.GREEN}
    reasons = {r["row"]: r["reason"] for r in record.rejects}
    assert sorted(reasons) == [11, 12, 13, 14, 15, 16, 17]
    assert "not one this console watches" in reasons[11]
    assert "not an IP address" in reasons[13]
    assert reasons[14] == "the value is empty"
    assert "too wide" in reasons[15]
    assert "not an AS number" in reasons[16]
    assert "not a domain" in reasons[17]


def test_reimporting_the_same_file_adds_nothing():
    _import("meta_cib_report.csv", source="Meta")
    again = _import("meta_cib_report.csv", source="Meta", tlp=Tlp.RED)
    assert again.added == 0 and again.updated == 9
    assert Indicator.objects.count() == 9
    assert set(Indicator.objects.values_list("tlp", flat=True)) == {Tlp.RED}


def test_stix_bundle_loads_or_values_source_tlp_and_expiry_and_refuses_the_rest():
    record = _import("partner_bundle.json")
    assert record.format == IndicatorImport.Format.STIX
    assert record.added == 5 and record.rejected == 4
    by_value = {i.value: i for i in Indicator.objects.all()}
    assert set(by_value) == {
        "203.0.113.7",
        "192.0.2.0/29",
        "mailbox-farm.example",
        "64511",
        "acct-harvest-0002",
    }
    exits = by_value["192.0.2.0/29"]
    assert exits.kind == K.CIDR and exits.tlp == Tlp.GREEN
    assert exits.source == "Partner Lab Trust & Safety"
    assert exits.stix_id == "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    assert exits.comment.startswith("Distillation fleet exit nodes")
    assert by_value["mailbox-farm.example"].expires_at == datetime(2027, 3, 1, tzinfo=UTC)
    # No creator in the file: the file's name stands for the source; no marking: the default.
    assert by_value["acct-harvest-0002"].source == "partner_bundle.json"
    assert by_value["acct-harvest-0002"].tlp == Tlp.AMBER
    reasons = " | ".join(r["reason"] for r in record.rejects)
    assert "joins conditions with AND" in reasons
    assert "file:hashes" in reasons
    by_row = {r["row"]: r for r in record.rejects}
    assert by_row[9]["value"] == "indicator--e4b3d6c7-8f90-4102-9d2e-3f4a5b6c7d8e"
    assert "'pattern'" in by_row[9]["reason"]
    assert "required properties" in by_row[10]["reason"]


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("x.csv", b"\xff\xfe\x00garbage", "not UTF-8"),
        ("x.csv", b"", "empty"),
        ("x.csv", b"type,value\nip,1.2.3.4\n", "missing: indicator_type, indicator_value"),
        ("x.json", b"{not json", "not JSON"),
        ("x.json", b'{"type": "report", "objects": []}', "not a STIX bundle"),
        ("x.json", b'{"type": "bundle", "objects": 7}', 'no "objects" list'),
        ("x.json", b"[1, 2, 3]", "not a STIX bundle"),
    ],
)
def test_a_file_that_cannot_be_read_fails_whole_with_a_reason_and_loads_nothing(name, data, error):
    record = indicators_import(data=data, file_name=name)
    assert record.status == IndicatorImport.Status.FAILED
    assert error in record.error
    assert Indicator.objects.count() == 0


def test_hostile_text_is_stripped_of_invisible_characters():
    data = "indicator_type,indicator_value,comment\nemail_domain,evil\u202e.example,a\x00b\n"
    record = indicators_import(data=data.encode(), file_name="h.csv", source="s\x00rc")
    assert record.added == 1
    indicator = Indicator.objects.get()
    assert indicator.value == "evil.example" and indicator.comment == "ab"
    assert indicator.source == "src"


def test_import_marks_accounts_by_details_and_by_traffic():
    by_domain = AccountFactory(account_id="dom", email_domain="Mailbox-Farm.example")
    by_card = AccountFactory(account_id="card", payment_fingerprint="fp_7f3a9c1e")
    by_id = AccountFactory(account_id="acct-harvest-0001")
    by_ip = ExchangeFactory(account=AccountFactory(account_id="ip"), ip="203.0.113.7").account
    by_v6 = ExchangeFactory(account=AccountFactory(account_id="v6"), ip="2001:db8::42").account
    by_range = ExchangeFactory(account=AccountFactory(account_id="rng"), ip="198.51.100.9").account
    by_asn = ExchangeFactory(account=AccountFactory(account_id="asn"), asn=64511).account
    from detection.ingest.parse import prompt_hash

    text = "Explain step by step with full working: problem 912"
    by_prompt = ExchangeFactory(
        account=AccountFactory(account_id="tpl"), prompt=text, prompt_hash=prompt_hash(text)
    ).account
    outside = ExchangeFactory(account=AccountFactory(account_id="no"), ip="198.51.100.200").account
    record = _import("meta_cib_report.csv", source="Meta")
    marked = set(IndicatorMatch.objects.values_list("account__account_id", flat=True))
    expected = {by_domain, by_card, by_id, by_ip, by_v6, by_range, by_asn, by_prompt}
    assert marked == {a.account_id for a in expected}
    assert outside.account_id not in marked
    assert record.matched_accounts == 8


def test_a_run_scores_the_watch_list_and_external_flags_and_explains_them():
    from tests.detection.cohorts import Cohort

    cohort = Cohort().everyone()
    cohort.save()
    ordinary = next(a for a, label in cohort.labels.items() if label != "fleet")
    data = f"indicator_type,indicator_value,comment\naccount_id,{ordinary},partner report\n"
    indicators_import(data=data.encode(), file_name="one.csv", source="Partner")
    external_flag_record(source="billing", reason="chargebacks", account_id=ordinary)
    run = services.detection_run_execute(run=services.detection_run_create())
    score = AccountScore.objects.get(run=run, account__account_id=ordinary)
    signals = {s["name"]: s for s in score.signals}
    assert signals["watch_list"]["value"] == 1
    assert "matches 1 watch-list indicator" in signals["watch_list"]["reason"]
    assert signals["external_flag"]["value"] == 1
    assert score.risk_score > 0


def test_an_expired_indicator_no_longer_counts():
    from detection.indicators.matching import watch_list_counts

    account = AccountFactory(account_id="acct-harvest-0001")
    _import("meta_cib_report.csv", source="Meta")
    assert watch_list_counts([account.pk]) == {account.pk: 1}
    Indicator.objects.update(expires_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert watch_list_counts([account.pk]) == {}


def test_external_flags_are_idempotent_by_source_and_id_and_refuse_what_names_nothing():
    account = AccountFactory(account_id="acct-1")
    flag, new = external_flag_record(
        source="platform", reason="card testing", account_id="acct-1", external_id="F-1"
    )
    again, new_again = external_flag_record(
        source="platform", reason="card testing", account_id="acct-1", external_id="F-1"
    )
    assert new and not new_again and flag.pk == again.pk and flag.account == account
    with pytest.raises(ExternalFlagError, match="no account"):
        external_flag_record(source="platform", reason="x", account_id="nobody")
    with pytest.raises(ExternalFlagError, match="either an account or an indicator"):
        external_flag_record(source="platform", reason="x")
    with pytest.raises(ExternalFlagError, match="not an IP address"):
        external_flag_record(
            source="platform", reason="x", indicator_kind="ip", indicator_value="nope"
        )
    ExchangeFactory(account=account, ip="203.0.113.99")
    flag, _ = external_flag_record(
        source="fraud-engine",
        reason="proxy exit",
        indicator_kind="ip",
        indicator_value="203.0.113.99",
    )
    assert flag.indicator.source == "fraud-engine"
    assert IndicatorMatch.objects.filter(indicator=flag.indicator, account=account).exists()
    assert ExternalFlag.objects.count() == 2


def test_a_campaign_bundle_built_for_export_imports_back_as_it_left():
    rows = [
        (K.IP, "203.0.113.7", "exit"),
        (K.CIDR, "192.0.2.0/29", "range"),
        (K.ASN, "64511", ""),
        (K.EMAIL_DOMAIN, "mailbox-farm.example", ""),
        (K.PAYMENT, "fp_'quoted'\\", ""),
        (K.PROMPT, "Say 'hi' \\ then [stop] = OR AND", ""),
        (K.ACCOUNT, "acct-1", ""),
    ]
    text = stix.build_bundle(
        rows, tlp=Tlp.AMBER_STRICT, identity_name="Our console", name="Case 7",
        created=datetime(2026, 10, 1, tzinfo=UTC),
    )  # fmt: skip
    record = indicators_import(data=text.encode(), file_name="case-7.json")
    assert record.rejected == 0 and record.added == len(rows)
    got = set(Indicator.objects.values_list("kind", "value", "source", "tlp"))
    assert got == {(k, v, "Our console", Tlp.AMBER_STRICT) for k, v, _ in rows}


def test_the_command_prints_counts_and_rejects_and_fails_on_an_unreadable_file(tmp_path):
    out = io.StringIO()
    call_command("import_indicators", str(FIXTURES / "meta_cib_report.csv"), stdout=out)
    text = out.getvalue()
    assert "16 rows read, 9 indicators added, 0 updated, 7 refused" in text
    assert "row 13: not an IP address" in text
    with pytest.raises(CommandError, match="refused"):
        call_command(
            "import_indicators", str(FIXTURES / "meta_cib_report.csv"), "--strict",
            stdout=io.StringIO(),
        )  # fmt: skip
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "nope"}))
    err = io.StringIO()
    with pytest.raises(CommandError, match="could not be imported"):
        call_command("import_indicators", str(bad), stdout=io.StringIO(), stderr=err)
    assert "not a STIX bundle" in err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_command_runs_as_a_process():
    """In a process of its own, which commits: the database is emptied after the test."""
    from tests.conftest import ROOT, _test_database_url

    result = subprocess.run(
        [sys.executable, "manage.py", "import_indicators", str(FIXTURES / "partner_bundle.json"),
         "--tlp", "red"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**__import__("os").environ, "DATABASE_URL": _test_database_url()},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "5 indicators added" in result.stdout


@pytest.mark.parametrize(
    "objects",
    [
        [{"type": "identity", "id": ["x"], "name": {"a": 1}}],
        [{"type": "marking-definition", "id": ["y"], "definition": "z"}],
        [{"type": "indicator", "id": ["nope"], "pattern": ["x"], "pattern_type": "stix"}],
        [{"type": "indicator", "spec_version": "2.1", "pattern": 7}],
        ["not an object", 12, None],
    ],
)
def test_objects_of_the_wrong_shape_are_refused_by_row_not_by_a_crash(objects):
    data = json.dumps({"type": "bundle", "objects": objects}).encode()
    record = indicators_import(data=data, file_name="odd.json")
    assert record.status == IndicatorImport.Status.DONE
    assert record.added == 0
    assert record.rejected == sum(
        1 for o in objects if not isinstance(o, dict) or o.get("type") == "indicator"
    )


def test_json_nested_too_deeply_is_refused_whole():
    record = indicators_import(data=b"[" * 100_000, file_name="deep.json")
    assert record.status == IndicatorImport.Status.FAILED
    assert "nests JSON too deeply" in record.error


def test_ranges_of_both_families_and_several_lengths_match_in_one_pass():
    inside = {
        "v6": "2001:db8:1::5",
        "v4-24": "192.0.2.77",
        "v4-16": "198.18.200.1",
    }
    for name, ip in inside.items():
        ExchangeFactory(account=AccountFactory(account_id=name), ip=ip)
    ExchangeFactory(account=AccountFactory(account_id="outside"), ip="2001:db8:2::5")
    data = (
        b"indicator_type,indicator_value\n"
        b"cidr,2001:db8:1::/48\ncidr,192.0.2.0/24\ncidr,198.18.0.0/16\ncidr,203.0.113.0/24\n"
    )
    record = indicators_import(data=data, file_name="ranges.csv")
    assert record.matched_accounts == 3
    marked = dict(IndicatorMatch.objects.values_list("account__account_id", "indicator__value"))
    assert marked == {
        "v6": "2001:db8:1::/48",
        "v4-24": "192.0.2.0/24",
        "v4-16": "198.18.0.0/16",
    }
