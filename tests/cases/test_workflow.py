from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cases.models import AuditEvent, Case, CaseAccount, Note
from cases.selectors import case_timeline
from cases.services import accounts as accounts_service
from cases.services import workflow
from cases.services.accounts import case_account_add, case_account_remove
from cases.services.bulk import cases_bulk_apply
from cases.services.merge import case_merge
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    NoteFactory,
)

pytestmark = pytest.mark.django_db
S = Case.Status


@pytest.mark.parametrize(
    ("priority", "hours"),
    [
        (Case.Priority.CRITICAL, 24),
        (Case.Priority.HIGH, 72),
        (Case.Priority.MEDIUM, 7 * 24),
        (Case.Priority.LOW, 14 * 24),
    ],
)
def test_each_priority_has_its_own_sla(analyst, priority, hours):
    opened = timezone.now() - timedelta(hours=1)
    case = CaseFactory(priority=priority, opened_at=opened)
    assert case.due_at == opened + timedelta(hours=hours)
    # Re-prioritised later, the due date still counts from the opening.
    start = Case.Priority.CRITICAL if priority == Case.Priority.LOW else Case.Priority.LOW
    other = CaseFactory(priority=start, opened_at=opened)
    workflow.case_set_priority(case=other, priority=priority, by=analyst)
    assert Case.objects.get(pk=other.pk).due_at == opened + timedelta(hours=hours)


def test_a_new_case_gets_the_due_date_of_its_priority():
    opened = timezone.now() - timedelta(hours=1)
    case = CaseFactory(priority=Case.Priority.CRITICAL, opened_at=opened)
    assert case.due_at == opened + timedelta(hours=24)
    closed = CaseFactory(status=S.DISMISSED)
    assert closed.due_at is None


@pytest.mark.parametrize(
    ("frm", "to", "allowed"),
    [
        (S.NEW, S.TRIAGE, True),
        (S.NEW, S.INVESTIGATING, True),
        (S.TRIAGE, S.INVESTIGATING, True),
        (S.INVESTIGATING, S.TRIAGE, True),
        (S.NEW, S.PENDING_APPROVAL, False),
        (S.INVESTIGATING, S.ACTIONED, False),
        (S.PENDING_APPROVAL, S.INVESTIGATING, False),
    ],
)
def test_analyst_transitions(analyst, frm, to, allowed):
    case = CaseFactory(status=frm)
    if allowed:
        workflow.case_change_status(case=case, to=to, by=analyst)
        assert Case.objects.get(pk=case.pk).status == to
        event = AuditEvent.objects.get(case=case)
        assert event.data["from"] == frm and event.data["to"] == to and event.actor == analyst
    else:
        with pytest.raises(ValidationError):
            workflow.case_change_status(case=case, to=to, by=analyst)
        assert Case.objects.get(pk=case.pk).status == frm
        assert not AuditEvent.objects.filter(case=case).exists()


def test_dismissing_needs_a_resolution_and_reason_and_reopening_a_reason(analyst):
    case = CaseFactory(status=S.INVESTIGATING)
    with pytest.raises(ValidationError):
        workflow.case_change_status(case=case, to=S.DISMISSED, by=analyst, reason="x")
    with pytest.raises(ValidationError):
        workflow.case_change_status(case=case, to=S.DISMISSED, by=analyst, resolution="legitimate")
    workflow.case_change_status(
        case=case, to=S.DISMISSED, by=analyst, resolution="legitimate", reason="a campus"
    )
    with pytest.raises(ValidationError):
        workflow.case_change_status(case=case, to=S.INVESTIGATING, by=analyst)
    workflow.case_change_status(case=case, to=S.INVESTIGATING, by=analyst, reason="new traffic")
    case.refresh_from_db()
    assert case.status == S.INVESTIGATING and case.resolution == "" and case.decided_at is None
    assert AuditEvent.objects.filter(case=case, verb="case.reopened").count() == 1


def test_only_approvers_reopen_actioned_cases_and_managers_change_nothing(
    analyst, approver, manager
):
    case = CaseFactory(status=S.ACTIONED)
    with pytest.raises(PermissionDenied):
        workflow.case_change_status(case=case, to=S.INVESTIGATING, by=analyst, reason="appeal")
    workflow.case_change_status(case=case, to=S.INVESTIGATING, by=approver, reason="appeal")
    with pytest.raises(PermissionDenied):
        workflow.case_change_status(case=case, to=S.TRIAGE, by=manager)
    with pytest.raises(PermissionDenied):
        workflow.case_assign(case=case, to=None, by=manager)
    with pytest.raises(PermissionDenied):
        workflow.case_add_tag(case=case, name="x", by=manager)


def test_assign_records_once_and_only_to_people_who_work_cases(analyst, manager):
    case = CaseFactory()
    with pytest.raises(ValidationError):
        workflow.case_assign(case=case, to=manager, by=analyst)
    workflow.case_assign(case=case, to=analyst, by=analyst)
    workflow.case_assign(case=case, to=analyst, by=analyst)
    assert AuditEvent.objects.filter(case=case, verb="case.assigned").count() == 1


def test_tags_are_slugs_created_on_first_use(analyst):
    case = CaseFactory()
    tag = workflow.case_add_tag(case=case, name="Residential Proxy", by=analyst)
    assert tag.name == "residential-proxy"
    assert workflow.case_add_tag(case=case, name="residential-proxy", by=analyst) is None
    with pytest.raises(ValidationError):
        workflow.case_add_tag(case=case, name="!!!", by=analyst)
    assert workflow.case_remove_tag(case=case, name="residential-proxy", by=analyst)
    assert not case.tags.exists()


def test_accounts_added_and_removed_with_reasons_and_evidence_is_asked_for(analyst, monkeypatch):
    calls = []
    monkeypatch.setattr(
        accounts_service, "evidence_snapshot_request", lambda **kw: calls.append(kw)
    )
    case = CaseFactory()
    AccountFactory(account_id="acct-a")
    with pytest.raises(ValidationError):
        case_account_add(case=case, account_id="acct-a", by=analyst, reason=" ")
    link = case_account_add(case=case, account_id="acct-a", by=analyst, reason="same card")
    with pytest.raises(ValidationError):
        case_account_add(case=case, account_id="acct-a", by=analyst, reason="again")
    assert Case.objects.get(pk=case.pk).account_count == 1
    case_account_remove(link=link, by=analyst, reason="a customer")
    assert Case.objects.get(pk=case.pk).account_count == 0
    again = case_account_add(case=case, account_id="acct-a", by=analyst, reason="came back")
    assert again.pk == link.pk and again.removed_at is None
    assert [c["reason"] for c in calls] == ["accounts_changed"] * 3
    assert all(c["case"].pk == case.pk and c["requested_by"] == analyst for c in calls)
    verbs = AuditEvent.objects.filter(case=case).values_list("verb", flat=True)
    assert sorted(verbs) == ["case.account_added", "case.account_added", "case.account_removed"]


def test_merge_keeps_notes_accounts_tags_and_history(analyst, analyst2):
    campaign = CampaignFactory()
    keep = CaseFactory(campaign=campaign, exchange_count=10, priority=3)
    gone = CaseFactory(campaign=campaign, exchange_count=5, priority=1, risk_score=0.97)
    shared = AccountFactory()
    CaseAccountFactory(case=keep, account=shared)
    CaseAccountFactory(case=gone, account=shared)
    CaseAccountFactory(case=gone)
    NoteFactory(case=gone, author=analyst2, body="evidence from the other case")
    workflow.case_add_tag(case=gone, name="proxy", by=analyst)
    workflow.case_change_status(case=gone, to=S.TRIAGE, by=analyst)

    case_merge(source=gone, target=keep, by=analyst, reason="same fleet")

    keep.refresh_from_db()
    gone.refresh_from_db()
    assert gone.merged_into == keep and gone.status == S.DISMISSED
    assert gone.resolution == Case.Resolution.DUPLICATE
    assert Note.objects.get(body="evidence from the other case").case == keep
    assert CaseAccount.objects.filter(case=keep, removed_at__isnull=True).count() == 2
    assert keep.account_count == 2 and keep.priority == 1 and keep.risk_score == 0.97
    assert list(keep.tags.values_list("name", flat=True)) == ["proxy"]
    verbs = [e.verb for e in case_timeline(keep)]
    assert verbs[0] == "case.merged" and "case.status_changed" in verbs and "case.tagged" in verbs
    # The merged-away case gave up its subject key: detection may open that subject again.
    CaseFactory(subject_key=gone.subject_key)


def test_merge_refuses_other_campaigns_and_itself(analyst):
    a = CaseFactory(campaign=CampaignFactory())
    b = CaseFactory(campaign=CampaignFactory())
    with pytest.raises(ValidationError, match="same campaign"):
        case_merge(source=a, target=b, by=analyst, reason="x")
    with pytest.raises(ValidationError):
        case_merge(source=a, target=a, by=analyst, reason="x")
    with pytest.raises(ValidationError):
        case_merge(source=a, target=b, by=analyst, reason="")


def test_bulk_applies_each_case_through_the_same_rules(analyst, approver):
    cases = [CaseFactory(), CaseFactory(), CaseFactory(status=S.ACTIONED)]
    result = cases_bulk_apply(cases=cases, action="status", by=analyst, value=S.TRIAGE)
    assert result.changed == [cases[0].pk, cases[1].pk]
    assert list(result.skipped) == [cases[2].pk]
    again = cases_bulk_apply(cases=cases[:2], action="status", by=analyst, value=S.TRIAGE)
    assert again.unchanged == [cases[0].pk, cases[1].pk]
    for case in cases[:2]:
        assert AuditEvent.objects.filter(case=case).count() == 1
