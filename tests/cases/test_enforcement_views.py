"""Enforcement screens: the section (page and fragment), the propose / decide / reverse
modals, retry, the approvals queue and the ban list, per role."""

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from cases.enforcement.models import EnforcementAction, OutboxMessage
from cases.enforcement.services import action_decide, action_propose, outbox_deliver
from cases.models import Case
from tests.cases.conftest import HOSTILE
from tests.factories import (
    AccountFactory,
    CaseAccountFactory,
    CaseFactory,
    enforcement_terms,
    enforcement_terms_form,
)

pytestmark = pytest.mark.django_db
A = EnforcementAction.Status


@pytest.fixture(autouse=True)
def _no_webhook(settings, monkeypatch):
    settings.ENFORCEMENT_WEBHOOK_URL = ""
    from cases.enforcement.tasks import deliver_outbox_message_task

    monkeypatch.setattr(deliver_outbox_message_task, "apply_async", lambda *a, **kw: None)


def url(name, *args):
    return reverse(f"cases:{name}", args=args)


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_section_fragment_and_page(make_case, analyst, analyst_client, htmx_headers):
    case = make_case(accounts=2)
    action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason=HOSTILE)
    fragment = analyst_client.get(url("case_enforcement", case.pk), headers=htmx_headers)
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert "<html" not in html and 'id="case-enforcement"' in html
    assert "Ban" in html and "Proposed" in html and "no evidence snapshot" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "You proposed this" in html and "Approve or reject" not in html
    page = analyst_client.get(url("case_enforcement", case.pk))
    assert "<html" in page.content.decode() and 'id="case-enforcement"' in page.content.decode()


def test_section_roles(make_case, manager_client, outsider_client, approver_client):
    case = make_case(accounts=1)
    assert outsider_client.get(url("case_enforcement", case.pk)).status_code == 403
    manager_html = manager_client.get(url("case_enforcement", case.pk)).content.decode()
    assert "Propose an action" not in manager_html
    assert (
        "Propose an action"
        in approver_client.get(url("case_enforcement", case.pk)).content.decode()
    )


def test_section_queries_do_not_grow_with_actions(
    make_case, analyst, approver, analyst_client, django_assert_max_num_queries
):
    case = make_case(accounts=3)
    for _ in range(4):
        action = action_propose(
            **enforcement_terms(), case=case, by=analyst, kind="ban", reason="r"
        )
    action_decide(action=action, by=approver, approve=True)
    for message in action.outbox.all():
        outbox_deliver(message_id=message.pk)
    with django_assert_max_num_queries(14):
        response = analyst_client.get(url("case_enforcement", case.pk), HTTP_HX_REQUEST="true")
    assert response.content.decode().count('class="enf-action') == 4


def test_propose_modal_then_saved(make_case, analyst_client, htmx_headers):
    case = make_case(accounts=3, status=Case.Status.INVESTIGATING)
    form = analyst_client.get(url("action_propose", case.pk), headers=htmx_headers)
    assert form.status_code == 200
    html = form.content.decode()
    assert "<dialog" in html and "Blast radius" in html and "no evidence snapshot" in html
    response = analyst_client.post(
        url("action_propose", case.pk),
        {"kind": "ban", "scope": "all", "reason": "Fleet", **enforcement_terms_form()},
        headers=htmx_headers,
    )
    assert response.status_code == 204
    assert "caseChanged" in json.loads(response["HX-Trigger"])
    action = EnforcementAction.objects.get()
    assert action.accounts.count() == 3
    case.refresh_from_db()
    assert case.status == Case.Status.PENDING_APPROVAL


def test_propose_invalid_form_comes_back_with_200(make_case, analyst_client, htmx_headers):
    case = make_case(accounts=2)
    response = analyst_client.post(
        url("action_propose", case.pk),
        {"kind": "ban", "scope": "selected", "reason": "x", **enforcement_terms_form()},
        headers=htmx_headers,
    )
    assert response.status_code == 200
    assert "Pick at least one account" in response.content.decode()
    assert not EnforcementAction.objects.exists()


def test_propose_a_selection_of_accounts(make_case, analyst_client):
    case = make_case(accounts=3)
    picked = list(case.case_accounts.values_list("account_id", flat=True))[:1]
    response = analyst_client.post(
        url("action_propose", case.pk),
        {
            "kind": "rate_limit",
            "scope": "selected",
            "picked": picked,
            "reason": "one",
            **enforcement_terms_form(),
        },
    )
    assert response.status_code == 302
    assert list(EnforcementAction.objects.get().accounts.values_list("pk", flat=True)) == picked


@pytest.mark.parametrize("persona", ["manager", "outsider"])
def test_manager_and_outsider_cannot_propose(make_case, persona, request):
    case = make_case(accounts=1)
    c = client_for(request.getfixturevalue(persona))
    assert c.get(url("action_propose", case.pk)).status_code == 403
    response = c.post(
        url("action_propose", case.pk),
        {"kind": "ban", "scope": "all", "reason": "r", **enforcement_terms_form()},
    )
    assert response.status_code == 403
    assert not EnforcementAction.objects.exists()


def test_four_eyes_on_the_decision_views(
    make_case, approver, approver2, analyst, manager, outsider
):
    case = make_case(accounts=1)
    action = action_propose(**enforcement_terms(), case=case, by=approver, kind="ban", reason="r")
    decide = url("action_decide", case.pk, action.pk)
    body = {"decision": "approve", "comment": "ok"}
    proposer = client_for(approver)
    assert proposer.get(decide).status_code == 403  # the proposer never gets the form
    assert proposer.post(decide, body).status_code == 403
    for user in (analyst, manager, outsider):
        assert client_for(user).get(decide).status_code == 403
        assert client_for(user).post(decide, body).status_code == 403
    action.refresh_from_db()
    assert action.status == A.PROPOSED
    other = client_for(approver2)
    form = other.get(decide, HTTP_HX_REQUEST="true")
    assert form.status_code == 200 and "<dialog" in form.content.decode()
    response = other.post(decide, body, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    action.refresh_from_db()
    assert action.status == A.APPROVED and action.decided_by == approver2
    again = other.post(decide, {"decision": "reject", "comment": "no"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and "already approved" in again.content.decode()


def test_reject_without_comment_is_refused_in_the_form(make_case, analyst, approver_client):
    case = make_case(accounts=1)
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    response = approver_client.post(
        url("action_decide", case.pk, action.pk), {"decision": "reject", "comment": " "}
    )
    assert response.status_code == 200 and "Say why you reject it" in response.content.decode()


def _executed(case, analyst, approver):
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    action_decide(action=action, by=approver, approve=True)
    for message in action.outbox.all():
        outbox_deliver(message_id=message.pk)
    return action


def test_reversal_request_and_approval_by_another(make_case, analyst, approver, approver2):
    case = make_case(accounts=2)
    ban = _executed(case, analyst, approver)
    reverse_url = url("action_reverse", case.pk, ban.pk)
    assert client_for(approver).post(reverse_url, {"reason": "customer"}).status_code == 302
    reversal = EnforcementAction.objects.get(kind="reverse")
    decide = url("action_decide", case.pk, reversal.pk)
    assert client_for(approver).post(decide, {"decision": "approve"}).status_code == 403
    assert client_for(approver2).post(decide, {"decision": "approve"}).status_code == 302
    for message in reversal.outbox.all():
        outbox_deliver(message_id=message.pk)
    ban.refresh_from_db()
    assert ban.status == A.REVERSED
    html = client_for(analyst).get(url("case_enforcement", case.pk)).content.decode()
    assert "Reversed" in html and f"#{reversal.pk}" in html


def test_manager_cannot_request_a_reversal(make_case, analyst, approver, manager):
    case = make_case(accounts=1)
    ban = _executed(case, analyst, approver)
    response = client_for(manager).post(url("action_reverse", case.pk, ban.pk), {"reason": "x"})
    assert response.status_code == 403


def test_retry_is_for_approvers(make_case, analyst, approver, approver2, analyst_client):
    case = make_case(accounts=1)
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    action_decide(action=action, by=approver, approve=True)
    message = action.outbox.get()
    OutboxMessage.objects.filter(pk=message.pk).update(status="dead", last_error="HTTP 500")
    retry = url("outbox_retry", case.pk, message.pk)
    assert analyst_client.post(retry).status_code == 403
    response = client_for(approver2).post(retry, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == "pending"


@pytest.fixture
def dead_letter(make_case, analyst, approver):
    """A case with a ban in force, one of whose deliveries was dead-lettered."""
    case = make_case(accounts=1)
    ban = _executed(case, analyst, approver)
    message = ban.outbox.first()
    OutboxMessage.objects.filter(pk=message.pk).update(status="dead", last_error="HTTP 500")
    return case, ban, message


ROLELESS = [
    ("GET", "case_enforcement", True),
    ("GET", "action_detail", False),
    ("GET", "action_detail", True),
    ("GET", "action_reverse", False),
    ("GET", "action_reverse", True),
    ("POST", "action_reverse", False),
    ("POST", "action_reverse", True),
    ("POST", "outbox_retry", False),
    ("POST", "outbox_retry", True),
]


@pytest.mark.parametrize(("method", "name", "htmx"), ROLELESS)
def test_roleless_users_get_403_on_actions_reversals_and_retries(
    outsider_client, dead_letter, method, name, htmx
):
    case, ban, message = dead_letter
    args = {
        "case_enforcement": (case.pk,),
        "action_detail": (case.pk, ban.pk),
        "action_reverse": (case.pk, ban.pk),
        "outbox_retry": (case.pk, message.pk),
    }[name]
    headers = {"HX-Request": "true"} if htmx else {}
    send = outsider_client.get if method == "GET" else outsider_client.post
    assert send(url(name, *args), {"reason": "x"}, headers=headers).status_code == 403
    assert not EnforcementAction.objects.filter(kind="reverse").exists()
    assert OutboxMessage.objects.get(pk=message.pk).status == "dead"


@pytest.mark.parametrize("htmx", [False, True])
def test_managers_cannot_retry_a_delivery(manager_client, dead_letter, htmx):
    case, _, message = dead_letter
    headers = {"HX-Request": "true"} if htmx else {}
    response = manager_client.post(url("outbox_retry", case.pk, message.pk), headers=headers)
    assert response.status_code == 403
    message.refresh_from_db()
    assert (message.status, message.last_error) == ("dead", "HTTP 500")


def test_retry_from_the_approvals_page_returns_there_and_never_off_site(
    make_case, analyst, approver, approver2
):
    case = make_case(accounts=1)
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    action_decide(action=action, by=approver, approve=True)
    message = action.outbox.get()
    retry = url("outbox_retry", case.pk, message.pk)
    client = client_for(approver2)
    OutboxMessage.objects.filter(pk=message.pk).update(status="dead")
    response = client.post(retry, {"next": url("approval_queue")})
    assert response.status_code == 302 and response["Location"] == url("approval_queue")
    OutboxMessage.objects.filter(pk=message.pk).update(status="dead")
    response = client.post(retry, {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == case.get_absolute_url()


def test_approvals_queue_lists_others_proposals(make_case, analyst, approver, approver2):
    mine = action_propose(
        **enforcement_terms(), case=make_case(accounts=1), by=approver, kind="ban", reason="r"
    )
    theirs = action_propose(
        **enforcement_terms(),
        case=make_case(accounts=2),
        by=analyst,
        kind="suspend",
        duration_days=30,
        reason="r",
    )
    html = client_for(approver).get(url("approval_queue")).content.decode()
    assert f'data-action="{theirs.pk}"' in html and f'data-action="{mine.pk}"' not in html
    assert "Your proposals, waiting for another approver" in html
    other = client_for(approver2).get(url("approval_queue")).content.decode()
    assert f'data-action="{mine.pk}"' in other
    assert 'href="/cases/approvals/"' in other  # linked from the nav


@pytest.mark.parametrize("persona", ["analyst", "manager", "outsider"])
def test_approvals_queue_is_for_approvers(persona, request):
    response = client_for(request.getfixturevalue(persona)).get(url("approval_queue"))
    assert response.status_code == 403


def test_ban_list_csv_is_neutralised_and_json_lists_the_same(
    make_case, analyst, approver, manager_client
):
    case = make_case(accounts=1)
    hostile = AccountFactory(account_id='=HYPERLINK("http://x")')
    CaseAccountFactory(case=case, account=hostile)
    _executed(case, analyst, approver)
    response = manager_client.get(url("ban_list", "csv"))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["account_id", "platform_status"]
    assert ['\'=HYPERLINK("http://x")', "banned"] in [r[:2] for r in rows[1:]]
    assert len(rows) == 3
    data = json.loads(b"".join(manager_client.get(url("ban_list", "json")).streaming_content))
    assert {a["account_id"] for a in data["accounts"]} == {
        hostile.account_id,
        *case.case_accounts.exclude(account=hostile).values_list("account__account_id", flat=True),
    }


def test_ban_list_access(settings, outsider_client, manager_client):
    settings.ENFORCEMENT_BANLIST_TOKEN = "platform-token"
    anonymous = Client()
    assert anonymous.get(url("ban_list", "json")).status_code == 302
    bad = anonymous.get(url("ban_list", "json"), HTTP_AUTHORIZATION="Bearer wrong")
    assert bad.status_code == 302
    good = anonymous.get(url("ban_list", "json"), HTTP_AUTHORIZATION="Bearer platform-token")
    assert good.status_code == 200
    assert outsider_client.get(url("ban_list", "csv")).status_code == 403
    assert outsider_client.get(url("ban_list", "xml")).status_code == 403
    assert manager_client.get(url("ban_list", "xml")).status_code == 404
    assert manager_client.post(url("ban_list", "csv")).status_code == 405


def test_dead_letter_shows_with_retry_for_approvers_only(make_case, analyst, approver, approver2):
    case = make_case(accounts=1)
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    action_decide(action=action, by=approver, approve=True)
    message = action.outbox.get()
    OutboxMessage.objects.filter(pk=message.pk).update(
        status="dead", attempts=8, last_error="HTTP 500 <b>boom</b>"
    )
    EnforcementAction.objects.filter(pk=action.pk).update(status=A.FAILED)
    section = url("case_enforcement", case.pk)
    approver_html = client_for(approver2).get(section).content.decode()
    assert "Dead-lettered" in approver_html and "Delivery failed" in approver_html
    assert url("outbox_retry", case.pk, message.pk) in approver_html
    assert "&lt;b&gt;boom" in approver_html
    analyst_html = client_for(analyst).get(section).content.decode()
    assert "Dead-lettered" in analyst_html
    assert url("outbox_retry", case.pk, message.pk) not in analyst_html
    queue = client_for(approver2).get(url("approval_queue")).content.decode()
    assert "Deliveries that gave up (1)" in queue


def test_polling_section_tells_the_page_when_delivery_finished(
    make_case, analyst, approver, analyst_client, htmx_headers
):
    case = make_case(accounts=1)
    action = action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    action_decide(action=action, by=approver, approve=True)
    polling = analyst_client.get(url("case_enforcement", case.pk), headers=htmx_headers)
    assert "every 3s" in polling.content.decode() and "HX-Trigger-After-Swap" not in polling
    for message in action.outbox.all():
        outbox_deliver(message_id=message.pk)
    done = analyst_client.get(url("case_enforcement", case.pk) + "?polling=1", headers=htmx_headers)
    assert "every 3s" not in done.content.decode()
    assert "caseChanged" in json.loads(done["HX-Trigger-After-Swap"])


def test_action_page_shows_the_frozen_blast_radius(make_case, analyst, manager_client):
    case = make_case(accounts=2)
    AccountFactory(org_id="org-0")
    AccountFactory(org_id="org-0")  # org-0 now has 3 accounts: a shared organisation
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="r", lookalike_reason="r"
    )
    page = manager_client.get(url("action_detail", case.pk, action.pk))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Look-alike warning" in html and "organisation org-0 has 3 accounts" in html
    assert str(action.idempotency_key) in html
    assert "Approve or reject" not in html  # a manager reads, never decides
    other = make_case(accounts=1)
    assert manager_client.get(url("action_detail", other.pk, action.pk)).status_code == 404


def test_blast_radius_says_traffic_unknown_rather_than_zero_without_scores(
    make_case, analyst, manager_client
):
    scored = make_case(accounts=2)  # make_case scores each account: 100 and 101 exchanges
    unscored = CaseFactory(account_count=1)
    CaseAccountFactory(case=unscored, account=AccountFactory())
    for case in (scored, unscored):
        action_propose(**enforcement_terms(), case=case, by=analyst, kind="ban", reason="r")
    scored_html = manager_client.get(url("case_enforcement", scored.pk)).content.decode()
    assert "201 exchanges" in scored_html and "traffic-unknown" not in scored_html
    unscored_html = manager_client.get(url("case_enforcement", unscored.pk)).content.decode()
    assert "traffic-unknown" in unscored_html and "0 exchanges" not in unscored_html


def test_approvals_queue_queries_do_not_grow_with_proposals(
    make_case, analyst, approver, approver2, django_assert_max_num_queries
):
    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url("approval_queue"))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    client = client_for(approver2)
    # Every make_case names its accounts org-0, org-1, ...: shared organisations, look-alikes.
    action_propose(
        **enforcement_terms(),
        case=make_case(accounts=2),
        by=analyst,
        kind="ban",
        reason="r",
        lookalike_reason="r",
    )
    few = count_queries()
    for _ in range(5):
        action_propose(
            **enforcement_terms(),
            case=make_case(accounts=3),
            by=approver,
            kind="suspend",
            duration_days=30,
            reason="r",
            lookalike_reason="r",
        )
    html = client.get(url("approval_queue")).content.decode()
    assert html.count("data-action=") == 6
    with django_assert_max_num_queries(few):
        client.get(url("approval_queue"))
