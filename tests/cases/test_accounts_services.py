"""Bulk add and opening a case by hand: audited, counted, evidence asked for once."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cases.evidence.models import EvidenceSnapshot
from cases.models import AuditEvent, Case, CaseAccount
from cases.services.accounts import MAX_BULK_ACCOUNTS, case_accounts_add
from cases.services.opening import case_open_manual
from tests.cases.accounts_data import make_world
from tests.factories import AccountFactory, AccountScoreFactory

pytestmark = pytest.mark.django_db


def test_bulk_add_writes_one_event_per_account_and_asks_for_evidence_once(
    analyst, django_capture_on_commit_callbacks
):
    world = make_world()
    case = world.case
    removed = world.card_sharers[1]
    CaseAccount.objects.create(
        case=case, account=removed, removed_at="2026-10-02T00:00:00Z", removed_reason="customer"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        added = case_accounts_add(
            case=case,
            accounts=[world.card_sharers[0], removed, world.members[0]],
            by=analyst,
            reason="same card",
        )
    assert [a.account_id for a in added] == ["outside-card-000", "outside-card-001"]
    back = CaseAccount.objects.get(case=case, account=removed)
    assert back.removed_at is None and back.added_reason == "same card"
    assert Case.objects.get(pk=case.pk).account_count == 4
    events = AuditEvent.objects.filter(case=case, verb="case.account_added")
    assert sorted(e.data["account"] for e in events) == ["outside-card-000", "outside-card-001"]
    assert all(e.actor == analyst and e.data["reason"] == "same card" for e in events)
    assert EvidenceSnapshot.objects.filter(case=case).count() == 1
    assert len(callbacks) == 1  # the snapshot task, sent once the transaction commits


def test_bulk_add_of_accounts_already_on_the_case_changes_nothing(analyst):
    world = make_world()
    assert case_accounts_add(case=world.case, accounts=world.members, by=analyst, reason="x") == []
    assert not AuditEvent.objects.filter(case=world.case).exists()
    assert not EvidenceSnapshot.objects.filter(case=world.case).exists()


def test_bulk_add_needs_a_role_a_reason_an_open_case_and_a_bound(analyst, manager):
    world = make_world()
    accounts = world.card_sharers
    with pytest.raises(PermissionDenied):
        case_accounts_add(case=world.case, accounts=accounts, by=manager, reason="x")
    with pytest.raises(ValidationError):
        case_accounts_add(case=world.case, accounts=accounts, by=analyst, reason=" ")
    with pytest.raises(ValidationError):
        many = [AccountFactory.build()] * (MAX_BULK_ACCOUNTS + 1)
        case_accounts_add(case=world.case, accounts=many, by=analyst, reason="x")
    Case.objects.filter(pk=world.case.pk).update(status=Case.Status.ACTIONED)
    with pytest.raises(ValidationError):
        case_accounts_add(case=world.case, accounts=accounts, by=analyst, reason="x")
    assert not CaseAccount.objects.filter(account__in=accounts).exists()


def test_opening_a_case_by_hand(analyst, django_capture_on_commit_callbacks):
    hot = AccountFactory(account_id="hot")
    AccountScoreFactory(account=hot, risk_score=0.93)
    cold = AccountFactory(account_id="cold")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        case = case_open_manual(
            title="Card ring", accounts=[hot, cold], by=analyst, reason="same card"
        )
    assert case.risk_score == 0.93 and case.priority == Case.Priority.CRITICAL
    assert case.account_count == 2 and case.due_at is not None and case.is_open
    links = {link.account.account_id: link for link in case.case_accounts.all()}
    assert links["hot"].risk_score == 0.93 and links["cold"].added_by == analyst
    verbs = sorted(AuditEvent.objects.filter(case=case).values_list("verb", flat=True))
    assert verbs == [
        "case.account_added",
        "case.account_added",
        "case.opened",
        "evidence.requested",
    ]
    assert EvidenceSnapshot.objects.filter(case=case).count() == 1 and len(callbacks) == 1
    second = case_open_manual(title="Card ring", accounts=[hot], by=analyst, reason="again")
    assert second.pk != case.pk  # a case opened by hand never takes another's key


def test_opening_a_case_by_hand_needs_a_role_a_title_a_reason_and_accounts(analyst, manager):
    account = AccountFactory()
    with pytest.raises(PermissionDenied):
        case_open_manual(title="t", accounts=[account], by=manager, reason="r")
    for title, reason, accounts in (("", "r", [account]), ("t", "", [account]), ("t", "r", [])):
        with pytest.raises(ValidationError):
            case_open_manual(title=title, accounts=accounts, by=analyst, reason=reason)
    assert not Case.objects.exists()
