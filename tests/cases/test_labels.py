"""Labels: every path that decides an account records outcome, reason code and person, and
a later decision revises the label with its history kept."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from cases.enforcement.services.proposals import (
    action_decide,
    action_propose,
    action_request_reversal,
)
from cases.labels.models import AccountLabel, AccountLabelRevision, ReasonCode
from cases.labels.services import labels_record
from cases.models import AuditEvent, CaseAccount
from cases.services.accounts import case_account_remove
from cases.services.bulk import cases_bulk_apply
from cases.services.workflow import case_change_status
from detection.models import KnownGood, KnownGoodEvent
from tests.factories import enforcement_terms

pytestmark = pytest.mark.django_db


def _labels(case):
    pks = CaseAccount.objects.filter(case=case).values_list("account_id", flat=True)
    return {
        label.account.account_id: (label.outcome, label.reason.code, label.source, label.decided_by)
        for label in AccountLabel.objects.filter(account_id__in=pks).select_related(
            "account", "reason", "decided_by"
        )
    }


def test_dismissing_a_case_labels_each_account_with_the_chosen_reason(make_case, analyst):
    case = make_case(accounts=3)
    case_change_status(
        case=case,
        to="dismissed",
        by=analyst,
        resolution="legitimate",
        reason="University lab",
        outcome="legitimate",
        reason_code="shared-network",
    )
    labels = _labels(case)
    assert len(labels) == 3
    assert set(labels.values()) == {("legitimate", "shared-network", "case_closed", analyst)}
    event = AuditEvent.objects.get(verb="label.recorded", case=case)
    assert event.actor == analyst and event.data["accounts"] == 3
    assert event.data["reason_code"] == "shared-network"


def test_dismissing_without_a_label_records_what_the_resolution_says(make_case, analyst):
    case = make_case(accounts=1)
    case_change_status(
        case=case, to="dismissed", by=analyst, resolution="insufficient_evidence", reason="thin"
    )
    assert set(_labels(case).values()) == {
        ("unsure", "insufficient-evidence", "case_closed", analyst)
    }


def test_a_reason_code_must_fit_the_outcome_and_be_in_use(make_case, analyst):
    case = make_case(accounts=1)
    with pytest.raises(ValidationError, match="explains confirmed fleet member"):
        case_change_status(
            case=case,
            to="dismissed",
            by=analyst,
            resolution="legitimate",
            reason="r",
            outcome="legitimate",
            reason_code="shared-infrastructure",
        )
    ReasonCode.objects.filter(code="shared-network").update(is_active=False)
    with pytest.raises(ValidationError, match="unknown reason code"):
        case_change_status(
            case=case,
            to="dismissed",
            by=analyst,
            resolution="legitimate",
            reason="r",
            outcome="legitimate",
            reason_code="shared-network",
        )
    case.refresh_from_db()
    assert case.status != "dismissed" and not AccountLabel.objects.exists()


def test_bulk_dismiss_labels_the_accounts_of_every_case(make_case, analyst):
    cases = [make_case(accounts=2), make_case(accounts=1)]
    result = cases_bulk_apply(
        cases=cases,
        action="status",
        by=analyst,
        value="dismissed",
        reason="benchmarks",
        resolution="false_positive",
        outcome="legitimate",
        reason_code="legitimate-lookalike",
    )
    assert len(result.changed) == 2
    for case in cases:
        assert set(_labels(case).values()) == {
            ("legitimate", "legitimate-lookalike", "bulk_dismissed", analyst)
        }


def test_dismissing_one_account_labels_it_and_can_allow_list_its_organisation(make_case, analyst):
    case = make_case(accounts=2)
    link = CaseAccount.objects.filter(case=case).select_related("account").first()
    case_account_remove(
        link=link,
        by=analyst,
        reason="Known research partner",
        outcome="legitimate",
        reason_code="known-customer",
        allow_scope="org",
        allow_days=30,
    )
    assert _labels(case) == {
        link.account.account_id: ("legitimate", "known-customer", "account_dismissed", analyst)
    }
    entry = KnownGood.objects.get()
    assert (entry.scope, entry.value, entry.created_by) == ("org", link.account.org_id, analyst)
    assert entry.holds() and 29 <= (entry.expires_at - entry.created_at).days <= 30
    assert KnownGoodEvent.objects.get(entry=entry).verb == "added"
    assert AuditEvent.objects.filter(verb="allowlist.added", case=case).exists()


def test_only_a_legitimate_dismissal_goes_on_the_allow_list(make_case, analyst):
    case = make_case(accounts=1)
    link = CaseAccount.objects.get(case=case)
    with pytest.raises(ValidationError, match="legitimate"):
        case_account_remove(
            link=link,
            by=analyst,
            reason="r",
            outcome="unsure",
            reason_code="insufficient-evidence",
            allow_scope="account",
            allow_days=10,
        )
    assert not KnownGood.objects.exists() and not AccountLabel.objects.exists()


def test_approval_confirms_and_an_approved_reversal_revises_with_history(
    make_case, analyst, approver, approver2
):
    case = make_case(accounts=2)
    ban = action_propose(case=case, by=analyst, kind="ban", reason="fleet", **enforcement_terms())
    action_decide(
        action=ban, by=approver, approve=True, reason_code="synchronised-shifts", outcome=""
    )
    assert set(_labels(case).values()) == {
        ("confirmed", "synchronised-shifts", "action_approved", approver)
    }
    # Delivery is tested elsewhere; a reversal needs the action in force.
    type(ban).objects.filter(pk=ban.pk).update(status="executed")
    reversal = action_request_reversal(action=ban, by=approver, reason="Appeal upheld")
    with pytest.raises(ValidationError, match="legitimate or unsure"):
        action_decide(
            action=reversal, by=approver2, approve=True, outcome="confirmed", reason_code=""
        )
    action_decide(
        action=reversal,
        by=approver2,
        approve=True,
        outcome="legitimate",
        reason_code="reversed-on-appeal",
    )
    assert set(_labels(case).values()) == {
        ("legitimate", "reversed-on-appeal", "reversal_approved", approver2)
    }
    account = ban.accounts.first()
    history = list(
        AccountLabelRevision.objects.filter(account=account).values_list("outcome", "source")
    )
    assert history == [("legitimate", "reversal_approved"), ("confirmed", "action_approved")]
    assert AccountLabel.objects.get(account=account).revision_count == 2


def test_dialogs_carry_the_outcome_and_reason_fields(make_case, analyst_client, approver, analyst):
    case = make_case(accounts=1)
    page = analyst_client.get(reverse("cases:case_status", args=[case.pk]) + "?to=dismissed")
    body = page.content.decode()
    assert 'name="outcome"' in body and 'name="reason_code"' in body
    assert "Detection false positive" in body
    bad = analyst_client.post(
        reverse("cases:case_status", args=[case.pk]),
        {
            "to": "dismissed",
            "resolution": "legitimate",
            "reason": "r",
            "outcome": "legitimate",
            "reason_code": "extraction-prompts",
        },
    )
    assert bad.status_code == 200 and "explains confirmed fleet member" in bad.content.decode()
    assert not AccountLabel.objects.exists()
    link = CaseAccount.objects.get(case=case)
    remove = reverse("cases:case_account_remove", args=[case.pk, link.pk])
    done = analyst_client.post(
        remove,
        {
            "reason": "customer",
            "outcome": "legitimate",
            "reason_code": "known-customer",
            "allow_scope": "account",
            "allow_days": "14",
        },
    )
    assert done.status_code == 302
    assert AccountLabel.objects.get().reason.code == "known-customer"
    assert KnownGood.objects.get().value == link.account.account_id


def test_labels_export_for_offline_evaluation(make_case, analyst, tmp_path):
    case = make_case(accounts=2)
    pks = list(CaseAccount.objects.filter(case=case).values_list("account_id", flat=True))
    labels_record(
        account_ids=pks[:1],
        outcome="confirmed",
        reason_code="extraction-prompts",
        source="case_closed",
        by=analyst,
        note='=HYPERLINK("http://x")',
    )
    labels_record(
        account_ids=pks,
        outcome="legitimate",
        reason_code="false-positive",
        source="case_closed",
        by=analyst,
    )
    current = tmp_path / "labels.jsonl"
    call_command("export_labels", "-o", str(current))
    import orjson

    rows = [orjson.loads(line) for line in current.read_text().splitlines()]
    assert [r["outcome"] for r in rows] == ["legitimate", "legitimate"]
    assert {r["decided_by"] for r in rows} == {"ana"}
    assert rows[0]["risk_score"] is None  # no run yet
    history = tmp_path / "history.csv"
    call_command("export_labels", "--history", "--format", "csv", "-o", str(history))
    lines = history.read_text().splitlines()
    assert lines[0].startswith("account_id,outcome,reason_code,source")
    assert len(lines) == 4  # three revisions
    assert "'=HYPERLINK" in history.read_text()  # formula neutralised


def test_the_account_page_shows_its_decisions_and_its_allow_list_entry(
    make_case, analyst, analyst_client
):
    case = make_case(accounts=1)
    link = CaseAccount.objects.select_related("account").get(case=case)
    case_account_remove(
        link=link,
        by=analyst,
        reason="<b>partner</b>",
        outcome="legitimate",
        reason_code="known-customer",
        allow_scope="account",
        allow_days=5,
    )
    page = analyst_client.get(reverse("accounts:account_detail", args=[link.account.account_id]))
    body = page.content.decode()
    assert 'id="account-decisions"' in body and "Known customer or contract" in body
    assert "Account dismissed from a case" in body and "ana" in body
    assert "On the known-good list" in body and "&lt;b&gt;partner&lt;/b&gt;" in body
