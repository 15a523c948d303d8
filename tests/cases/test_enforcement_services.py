"""Enforcement services: proposal, four eyes, supersession, outbox rows, execution, reversal,
and the audit trail of each step (delivery here goes to the ban list only; the webhook is
tested against a real receiver in test_enforcement_delivery)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cases.enforcement import banlist
from cases.enforcement.models import (
    BanListEntry,
    EnforcementAction,
    ImmutableActionError,
    OutboxMessage,
)
from cases.enforcement.services import (
    action_decide,
    action_propose,
    action_request_reversal,
    outbox_deliver,
)
from cases.models import AuditEvent, Case, EvidenceSnapshot
from detection.models import Account
from tests.factories import AccountFactory, CaseAccountFactory, CaseFactory, enforcement_terms

pytestmark = pytest.mark.django_db
A = EnforcementAction.Status
S = Case.Status


@pytest.fixture(autouse=True)
def _no_webhook(settings):
    settings.ENFORCEMENT_WEBHOOK_URL = ""


def verbs(case) -> list[str]:
    return list(
        AuditEvent.objects.filter(case=case).order_by("at", "id").values_list("verb", flat=True)
    )


def deliver_all(action) -> None:
    for pk in action.outbox.values_list("pk", flat=True):
        outbox_deliver(message_id=pk)


def test_propose_pins_the_latest_done_snapshot_and_moves_the_case(make_case, analyst):
    case = make_case(accounts=3, status=S.INVESTIGATING)
    EvidenceSnapshot.objects.create(case=case, status="done", finished_at=timezone.now())
    newest_done = EvidenceSnapshot.objects.create(case=case, status="done")
    EvidenceSnapshot.objects.create(case=case, status="running")  # not finished: not pinned
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="Fleet of 3"
    )
    assert action.snapshot == newest_done
    assert action.accounts.count() == 3
    assert action.status == A.PROPOSED
    case.refresh_from_db()
    assert case.status == S.PENDING_APPROVAL
    assert verbs(case) == ["action.proposed", "case.status_changed"]
    proposed = AuditEvent.objects.get(case=case, verb="action.proposed")
    assert proposed.actor == analyst
    assert proposed.data["accounts"] == 3 and proposed.data["snapshot"] == newest_done.pk


def test_propose_without_a_snapshot_is_allowed_and_says_so(make_case, analyst):
    case = make_case(accounts=1)
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="suspend", duration_days=30, reason="r"
    )
    assert action.snapshot is None
    assert AuditEvent.objects.get(verb="action.proposed").data["snapshot"] is None


def test_propose_on_a_selection_rejects_accounts_not_on_the_case(make_case, analyst):
    case = make_case(accounts=3)
    ids = list(case.case_accounts.values_list("account_id", flat=True))
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="r", account_ids=ids[:2]
    )
    assert set(action.accounts.values_list("pk", flat=True)) == set(ids[:2])
    stranger = AccountFactory()
    with pytest.raises(ValidationError, match="not on this case"):
        action_propose(
            **enforcement_terms(),
            case=case,
            by=analyst,
            kind="ban",
            reason="r",
            account_ids=[stranger.pk],
        )


@pytest.mark.parametrize(
    ("kind", "reason", "message"),
    [("reverse", "r", "cannot propose"), ("ban", "   ", "reason is required")],
)
def test_propose_refuses_bad_input(make_case, analyst, kind, reason, message):
    case = make_case(accounts=1)
    with pytest.raises(ValidationError, match=message):
        action_propose(**enforcement_terms(), case=case, by=analyst, kind=kind, reason=reason)
    assert not EnforcementAction.objects.exists()


def test_closed_case_takes_no_proposal(make_case, analyst):
    case = make_case(accounts=1, status=S.DISMISSED)
    with pytest.raises(ValidationError, match="reopen it first"):
        action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")


def test_manager_and_outsider_cannot_propose(make_case, manager, outsider):
    case = make_case(accounts=1)
    for user in (manager, outsider):
        with pytest.raises(PermissionDenied):
            action_propose(**enforcement_terms(), case=case, by=user, kind="ban", reason="r")


def test_a_new_proposal_supersedes_the_open_one_which_never_changes(make_case, analyst, analyst2):
    case = make_case(accounts=2)
    first = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="first")
    second = action_propose(
        **enforcement_terms(),
        case=case,
        by=analyst2,
        kind="suspend",
        duration_days=30,
        reason="second",
    )
    first.refresh_from_db()
    assert first.status == A.SUPERSEDED and first.reason == "first" and first.kind == "ban"
    assert second.supersedes == first and second.status == A.PROPOSED
    assert "action.superseded" in verbs(case)
    second.reason = "edited"
    with pytest.raises(ImmutableActionError):
        second.save()
    assert EnforcementAction.objects.get(pk=second.pk).reason == "second"


def test_blast_radius_counts_traffic_other_cases_and_lookalikes(make_case, analyst):
    case = make_case(accounts=2)
    old = AccountFactory(
        created_at=timezone.now() - timedelta(days=400), plan="enterprise", org_id="acme"
    )
    AccountFactory(org_id="acme")
    AccountFactory(org_id="acme")
    CaseAccountFactory(case=case, account=old)
    other = CaseFactory(status=S.TRIAGE)
    CaseAccountFactory(case=other, account=old)
    CaseAccountFactory(case=CaseFactory(status=S.DISMISSED), account=old)  # closed: not counted
    action = action_propose(
        **enforcement_terms(),
        case=case,
        by=analyst,
        kind="ban",
        reason="r",
        lookalike_reason="shell org",
    )
    blast = action.blast_radius
    assert blast["account_count"] == 3
    assert blast["exchange_count"] == 100 + 101  # the two scored accounts of make_case
    assert blast["other_open_cases"] == [{"case_id": other.pk, "accounts": 1}]
    codes = {(w["account_id"], w["code"]) for w in blast["warnings"]}
    assert codes == {(old.account_id, "shared_org"), (old.account_id, "old_paying")}
    org_warning = next(w for w in blast["warnings"] if w["code"] == "shared_org")
    assert "3 accounts, 2 of them not in this proposal" in org_warning["text"]
    assert blast["lookalike_count"] == 1


def test_proposer_can_never_approve_and_analyst_cannot_decide(make_case, approver, analyst):
    case = make_case(accounts=1)
    action = action_propose(**enforcement_terms(), case=case, by=approver, kind="ban", reason="r")
    with pytest.raises(PermissionDenied, match="four eyes"):
        action_decide(action=action, by=approver, approve=True)
    with pytest.raises(PermissionDenied):
        action_decide(action=action, by=analyst, approve=True)
    action.refresh_from_db()
    assert action.status == A.PROPOSED and action.decided_by is None
    assert not OutboxMessage.objects.exists()


def test_reject_needs_a_comment_and_returns_the_case_to_investigating(make_case, analyst, approver):
    case = make_case(accounts=1, status=S.INVESTIGATING)
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    with pytest.raises(ValidationError, match="comment"):
        action_decide(action=action, by=approver, approve=False, comment="")
    action_decide(action=action, by=approver, approve=False, comment="Campus NAT, not a fleet")
    action.refresh_from_db()
    case.refresh_from_db()
    assert action.status == A.REJECTED and action.decided_by == approver
    assert case.status == S.INVESTIGATING
    assert not OutboxMessage.objects.exists()
    assert verbs(case)[-2:] == ["action.rejected", "case.status_changed"]
    with pytest.raises(ValidationError, match="already rejected"):
        action_decide(action=action, by=approver, approve=True)


def test_approval_writes_outbox_rows_and_enqueues_after_commit(
    make_case, analyst, approver, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.ENFORCEMENT_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    sent = []
    from cases.enforcement.tasks import deliver_outbox_message_task

    monkeypatch.setattr(
        deliver_outbox_message_task, "apply_async", lambda args, *_, **__: sent.append(*args)
    )
    case = make_case(accounts=2)
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        action_decide(action=action, by=approver, approve=True, comment="clear fleet")
    messages = list(OutboxMessage.objects.filter(action=action).order_by("backend"))
    assert [m.backend for m in messages] == ["banlist", "webhook"]
    assert len(callbacks) == 3  # the two deliveries, and the proposer's e-mail
    assert sorted(sent) == sorted(m.pk for m in messages)
    payload = messages[1].payload
    assert payload["idempotency_key"] == str(action.idempotency_key)
    assert payload["action"] == "ban" and payload["platform_status"] == "banned"
    assert payload["accounts"] == sorted(a.account_id for a in action.accounts.all())
    assert payload["approved_by"] == approver.username
    # Nothing changes on the accounts before delivery is confirmed.
    assert set(action.accounts.values_list("platform_status", flat=True)) == {"active"}
    action.refresh_from_db()
    assert action.status == A.APPROVED


def test_ban_list_delivery_executes_the_action_and_the_case_is_actioned(
    make_case, analyst, approver
):
    case = make_case(accounts=2)
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    action_decide(action=action, by=approver, approve=True)
    deliver_all(action)
    action.refresh_from_db()
    case.refresh_from_db()
    assert action.status == A.EXECUTED and action.executed_at is not None
    assert set(action.accounts.values_list("platform_status", flat=True)) == {"banned"}
    assert case.status == S.ACTIONED and case.resolution == Case.Resolution.ACTIONED
    rows = list(banlist.current_rows())
    assert [r["account_id"] for r in rows] == sorted(a.account_id for a in action.accounts.all())
    assert {r["platform_status"] for r in rows} == {"banned"}
    # A second delivery of the same message is a no-op: nothing is delivered twice.
    message = action.outbox.get()
    assert outbox_deliver(message_id=message.pk) == "not due or already taken"
    assert message.attempt_log.count() == 1
    assert verbs(case).count("action.executed") == 1
    # Approval labels the accounts as confirmed fleet members in the same transaction.
    assert verbs(case)[-5:] == [
        "action.approved",
        "label.recorded",
        "action.delivered",
        "action.executed",
        "case.status_changed",
    ]


def test_reversal_is_four_eyes_and_returns_accounts_to_active(
    make_case, analyst, approver, approver2
):
    case = make_case(accounts=2)
    ban = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    action_decide(action=ban, by=approver, approve=True)
    deliver_all(ban)
    # One account is also rate-limited by another case's action, which stays in force.
    shared = ban.accounts.first()
    other_case = make_case(accounts=0)
    CaseAccountFactory(case=other_case, account=shared)
    limit = action_propose(
        **enforcement_terms(), case=other_case, by=analyst, kind="rate_limit", reason="r2"
    )
    action_decide(action=limit, by=approver, approve=True)
    deliver_all(limit)
    shared.refresh_from_db()
    assert shared.platform_status == "banned"  # the most severe action in force wins

    reversal = action_request_reversal(action=ban, by=approver, reason="Legit customer")
    with pytest.raises(ValidationError, match="already requested"):
        action_request_reversal(action=ban, by=analyst, reason="again")
    with pytest.raises(PermissionDenied):
        action_decide(action=reversal, by=approver, approve=True)
    action_decide(action=reversal, by=approver2, approve=True, comment="agreed")
    assert set(ban.accounts.values_list("platform_status", flat=True)) == {"banned"}
    deliver_all(reversal)
    ban.refresh_from_db()
    reversal.refresh_from_db()
    case.refresh_from_db()
    assert ban.status == A.REVERSED and reversal.status == A.EXECUTED
    statuses = dict(ban.accounts.values_list("pk", "platform_status"))
    assert statuses.pop(shared.pk) == "rate_limited"
    assert set(statuses.values()) == {"active"}
    assert case.status == S.INVESTIGATING  # reopened: nothing is in force on it any more
    assert BanListEntry.objects.filter(action=ban, lifted_by=reversal).count() == 2
    assert [r["account_id"] for r in banlist.current_rows()] == [shared.account_id]
    history = verbs(case)
    for verb in (
        "action.proposed",
        "action.approved",
        "action.delivered",
        "action.executed",
        "action.reversal_requested",
        "action.reversal_approved",
        "action.reversed",
        "case.reopened",
    ):
        assert verb in history


def test_only_executed_actions_can_be_reversed(make_case, analyst):
    case = make_case(accounts=1)
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    with pytest.raises(ValidationError, match="only an executed"):
        action_request_reversal(action=action, by=analyst, reason="oops")


def test_platform_status_is_untouched_until_every_backend_confirms(make_case, analyst, approver):
    case = make_case(accounts=1)
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="suspend", duration_days=30, reason="r"
    )
    action_decide(action=action, by=approver, approve=True)
    assert Account.objects.filter(platform_status="suspended").count() == 0
    deliver_all(action)
    assert Account.objects.filter(platform_status="suspended").count() == 1
