import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from cases.models import AuditEvent, Case, CaseAccount, Notification, Tag
from cases.services import workflow
from cases.services.accounts import case_account_add
from cases.services.merge import case_merge
from dashboard.roles import ANALYST
from tests.cases.conftest import HOSTILE, PAYLOAD, signal
from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    NoteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

READ_URLS = ["", "why/", "accounts/", "accounts/?removed=1", "notes/", "timeline/"]
WRITE_URLS = ["assign/", "status/", "priority/", "tags/add/", "merge/", "accounts/add/"]


def url(case, suffix=""):
    return f"/cases/{case.pk}/{suffix}"


@pytest.mark.parametrize("who", ["analyst_client", "approver_client", "manager_client"])
@pytest.mark.parametrize("suffix", READ_URLS)
def test_readers_get_each_page_and_its_fragment(request, who, suffix, make_case, htmx_headers):
    client = request.getfixturevalue(who)
    case = make_case()
    page = client.get(url(case, suffix))
    assert page.status_code == 200
    assert b"<html" in page.content and f"Case #{case.pk}".encode() in page.content
    fragment = client.get(url(case, suffix), headers=htmx_headers)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content


@pytest.mark.parametrize("suffix", READ_URLS + WRITE_URLS + ["notes/1/edit/", "notes/1/history/"])
def test_no_role_means_403_on_every_case_url_and_fragment(outsider_client, suffix, htmx_headers):
    case = CaseFactory()
    NoteFactory(case=case, pk=1)
    assert outsider_client.get(url(case, suffix)).status_code == 403
    assert outsider_client.get(url(case, suffix), headers=htmx_headers).status_code == 403
    assert outsider_client.post(url(case, suffix), {"assignee": "me"}).status_code in (403, 405)


def test_no_role_means_403_on_removing_an_account_and_tags(outsider_client):
    link = CaseAccountFactory()
    case = link.case
    assert (
        outsider_client.post(url(case, f"accounts/{link.pk}/remove/"), {"reason": "x"}).status_code
        == 403
    )
    assert outsider_client.post(url(case, "tags/x/remove/")).status_code == 403
    assert outsider_client.get("/cases/notifications/").status_code == 403
    assert CaseAccount.objects.get(pk=link.pk).removed_at is None


@pytest.mark.parametrize("mark", ["one", "all"])
@pytest.mark.parametrize("htmx", [False, True])
def test_no_role_means_403_on_marking_notifications_read(
    outsider, outsider_client, mark, htmx, htmx_headers
):
    # A notification from before the user lost their role stays unread and unopened.
    case = CaseFactory()
    notification = Notification.objects.create(user=outsider, case=case, message="old mention")
    data = {"id": notification.pk, "open": "1"} if mark == "one" else {}
    response = outsider_client.post(
        "/cases/notifications/read/", data, headers=htmx_headers if htmx else {}
    )
    assert response.status_code == 403
    notification.refresh_from_db()
    assert notification.read_at is None


@pytest.mark.parametrize("suffix", WRITE_URLS)
def test_managers_read_but_cannot_act(manager_client, suffix):
    case = CaseFactory()
    assert manager_client.get(url(case, suffix)).status_code == 403
    assert (
        manager_client.post(url(case, suffix), {"assignee": "me", "to": "triage"}).status_code
        == 403
    )
    assert manager_client.post(url(case, "notes/"), {"body": "hi"}).status_code == 403
    case.refresh_from_db()
    assert case.assignee is None and case.status == Case.Status.NEW and not case.notes.exists()


@pytest.mark.parametrize("what", ["tag", "account"])
@pytest.mark.parametrize("htmx", [False, True])
def test_managers_cannot_remove_tags_or_accounts(manager_client, what, htmx, htmx_headers):
    case = CaseFactory(account_count=1)
    case.tags.add(Tag.objects.create(name="resi-proxy"))
    link = CaseAccountFactory(case=case)
    suffix = "tags/resi-proxy/remove/" if what == "tag" else f"accounts/{link.pk}/remove/"
    response = manager_client.post(
        url(case, suffix), {"reason": "not a fleet"}, headers=htmx_headers if htmx else {}
    )
    assert response.status_code == 403
    assert list(case.tags.values_list("name", flat=True)) == ["resi-proxy"]
    link.refresh_from_db()
    assert link.removed_at is None and Case.objects.get(pk=case.pk).account_count == 1
    assert not AuditEvent.objects.filter(case=case).exists()


def test_managers_see_no_action_buttons(manager_client, analyst_client):
    case = CaseFactory()
    assert b"Assign to me" not in manager_client.get(url(case)).content
    assert b"Assign to me" in analyst_client.get(url(case)).content


def test_a_missing_case_is_404(analyst_client):
    assert analyst_client.get("/cases/999999/").status_code == 404
    assert analyst_client.get("/cases/999999/accounts/").status_code == 404


def test_the_page_has_the_header_facts_and_the_other_engineers_sections(analyst_client, make_case):
    case = make_case(
        accounts=3, traffic_share=0.0123, priority=1, opened_at=timezone.now() - timedelta(days=3)
    )
    content = analyst_client.get(url(case)).content.decode()
    for fact in ("P1 critical", "unassigned", "0.85", case.campaign.label, "1.23%", "overdue"):
        assert fact in content
    for section in (
        "case-why",
        "case-accounts",
        "case-evidence",
        "case-charts",
        "case-enforcement",
        "case-notes",
        "case-timeline",
    ):
        assert f'id="{section}"' in content


def test_the_htmx_header_is_the_fragment_that_refreshes_on_case_changed(
    analyst_client, htmx_headers
):
    case = CaseFactory()
    content = analyst_client.get(url(case), headers=htmx_headers).content.decode()
    assert content.lstrip().startswith('<header id="case-header"')
    assert 'hx-trigger="caseChanged from:body"' in content


def test_why_flagged_shows_each_signal_against_its_norm(analyst_client):
    case = CaseFactory(
        explanation={
            "summary": "Chain-of-thought harvesting",
            "signals": [
                signal("reasoning_elicitation", 0.62, 0.03),
                signal("sync_shifts", 0.9, 0.1),
            ],
        }
    )
    content = analyst_client.get(url(case, "why/")).content.decode()
    assert "Chain-of-thought harvesting" in content
    assert content.index("reasoning_elicitation") < content.index("sync_shifts")
    assert "0.62" in content and "0.03" in content


def test_why_flagged_copes_with_no_or_odd_explanation(analyst_client):
    case = CaseFactory(explanation={"signals": [{"name": "x", "value": "n/a"}, "junk"]})
    assert analyst_client.get(url(case, "why/")).status_code == 200
    empty = CaseFactory(explanation={})
    assert b"no explanation" in analyst_client.get(url(empty, "why/")).content


def test_accounts_show_signals_volume_and_other_cases(analyst_client):
    case = CaseFactory()
    shared = AccountFactory(account_id="acct-shared", plan="team")
    CaseAccountFactory(case=case, account=shared)
    AccountScoreFactory(account=shared, exchange_count=4321, signals=[signal("tool_use", 0.7)])
    other = CaseFactory()
    CaseAccountFactory(case=other, account=shared)
    content = analyst_client.get(url(case, "accounts/")).content.decode()
    assert "acct-shared" in content and "4,321" in content and "tool_use" in content
    assert "team" in content
    assert "1 other case" in content and "/cases/?account=acct-shared&amp;status=any" in content


def test_hostile_account_text_stays_text_and_long_text_is_clipped(analyst_client):
    case = CaseFactory(title=HOSTILE)
    account = AccountFactory(email_domain=HOSTILE, org_id="x" * 200)
    CaseAccountFactory(case=case, account=account)
    for suffix in ("", "accounts/"):
        content = analyst_client.get(url(case, suffix)).content.decode()
        assert "<script>alert" not in content and "<img src=x" not in content
        assert "&lt;script&gt;" in content
    content = analyst_client.get(url(case, "accounts/")).content.decode()
    # The org is a link to the accounts sharing it: shortened, all of it in the title and
    # in the link (an expand control cannot sit inside a link).
    assert f'title="{"x" * 200}"' in content and "x" * 31 + "…</a>" in content
    assert f"/accounts/shared/org/?value={'x' * 200}&amp;case={case.pk}" in content
    assert "/accounts/shared/domain/?value=%3Cscript%3Ealert" in content


# Queries per case page and section, pinned. Each starts with Django's four (SESSION): the
# session, its user, the user's own permissions and their groups'; the page adds the top
# bar's unread count and roles (TOP_BAR). The page reads its case with the merge check, then
# its tags, then the summary card's figures; the accounts section its case (with the removed
# and look-alike counts) and a page of rows; the notes their case and the notes; the timeline
# its case, the cases merged
# into it and the events; why-flagged its case alone; the summary card its case (with its
# campaign) and the figures.
SESSION = 4
TOP_BAR = 2
CASE_QUERIES = {
    "": SESSION + TOP_BAR + 3,
    "summary/": SESSION + 2,
    "accounts/": SESSION + 2,
    "accounts/?removed=1": SESSION + 2,
    "notes/": SESSION + 2,
    "timeline/": SESSION + 3,
    "why/": SESSION + 1,
}


@pytest.mark.parametrize("size", [2, 30])
def test_queries_per_case_page_and_section_are_pinned_whatever_the_data_size(
    analyst_client, analyst, make_case, django_assert_num_queries, size, htmx_headers
):
    case = make_case(accounts=size, author=analyst, notes=size)
    case.tags.add(*(Tag.objects.create(name=f"tag-{i}") for i in range(min(size, 5))))
    for i in range(size):
        workflow.case_set_priority(case=case, priority=1 + i % 4, by=analyst)
    for suffix, expected in CASE_QUERIES.items():
        with django_assert_num_queries(expected):
            response = analyst_client.get(url(case, suffix), headers=htmx_headers if suffix else {})
        assert response.status_code == 200


def test_assign_to_me_answers_204_with_case_changed(analyst_client, analyst, htmx_headers):
    case = CaseFactory()
    response = analyst_client.post(url(case, "assign/"), {"assignee": "me"}, headers=htmx_headers)
    assert response.status_code == 204
    triggers = json.loads(response["HX-Trigger"])
    assert "caseChanged" in triggers and triggers["closeModal"]
    case.refresh_from_db()
    assert case.assignee == analyst


def test_assign_without_js_redirects_to_the_case(analyst_client, analyst2):
    case = CaseFactory()
    response = analyst_client.post(url(case, "assign/"), {"assignee": "alex"})
    assert response.status_code == 302 and response["Location"] == url(case)
    case.refresh_from_db()
    assert case.assignee == analyst2


def test_the_assign_modal_is_a_dialog_and_rejects_people_who_cannot_work(
    analyst_client, manager, htmx_headers
):
    case = CaseFactory()
    modal = analyst_client.get(url(case, "assign/"), headers=htmx_headers)
    assert modal.content.lstrip().startswith(b"<dialog")
    bad = analyst_client.post(
        url(case, "assign/"), {"assignee": manager.username}, headers=htmx_headers
    )
    assert bad.status_code == 200 and b"<dialog" in bad.content
    case.refresh_from_db()
    assert case.assignee is None


def test_move_to_investigating_then_dismiss_with_reason(analyst_client, htmx_headers):
    case = CaseFactory()
    response = analyst_client.post(
        url(case, "status/"), {"to": "investigating"}, headers=htmx_headers
    )
    assert response.status_code == 204
    assert Case.objects.get(pk=case.pk).status == "investigating"
    missing = analyst_client.post(url(case, "status/"), {"to": "dismissed"}, headers=htmx_headers)
    assert missing.status_code == 200 and b"Give a reason" in missing.content
    assert Case.objects.get(pk=case.pk).status == "investigating"
    done = analyst_client.post(
        url(case, "status/"),
        {"to": "dismissed", "resolution": "legitimate", "reason": "University lab"},
        headers=htmx_headers,
    )
    assert done.status_code == 204
    case.refresh_from_db()
    assert (case.status, case.resolution, case.resolution_reason) == (
        "dismissed",
        "legitimate",
        "University lab",
    )


def test_the_server_refuses_transitions_the_buttons_do_not_offer(analyst_client, htmx_headers):
    case = CaseFactory()
    response = analyst_client.post(url(case, "status/"), {"to": "actioned"}, headers=htmx_headers)
    assert response.status_code == 200
    assert Case.objects.get(pk=case.pk).status == "new"
    actioned = CaseFactory(status=Case.Status.ACTIONED)
    # Reopening an actioned case is an approver's call.
    response = analyst_client.post(
        url(actioned, "status/"), {"to": "investigating", "reason": "appeal"}, headers=htmx_headers
    )
    assert response.status_code == 200
    assert Case.objects.get(pk=actioned.pk).status == "actioned"


def test_priority_moves_the_due_date(analyst_client, htmx_headers):
    case = CaseFactory(priority=4)
    before = Case.objects.get(pk=case.pk).due_at
    analyst_client.post(url(case, "priority/"), {"priority": "1"}, headers=htmx_headers)
    case.refresh_from_db()
    assert case.priority == 1 and case.due_at < before
    assert case.due_at == case.opened_at + timedelta(hours=24)


def test_tags_are_added_and_removed(analyst_client, htmx_headers):
    case = CaseFactory()
    analyst_client.post(url(case, "tags/add/"), {"name": "resi-proxy"}, headers=htmx_headers)
    assert list(case.tags.values_list("name", flat=True)) == ["resi-proxy"]
    bad = analyst_client.post(url(case, "tags/add/"), {"name": "<b>"}, headers=htmx_headers)
    assert bad.status_code == 200 and b"<dialog" in bad.content
    analyst_client.post(url(case, "tags/resi-proxy/remove/"), headers=htmx_headers)
    assert not case.tags.exists()
    verbs = list(AuditEvent.objects.filter(case=case).values_list("verb", flat=True))
    assert sorted(verbs) == ["case.tagged", "case.untagged"]


def test_add_and_remove_an_account_with_a_reason(analyst_client, htmx_headers):
    case = CaseFactory(account_count=1)
    link = CaseAccountFactory(case=case)
    AccountFactory(account_id="acct-extra")
    no_reason = analyst_client.post(
        url(case, "accounts/add/"), {"account_id": "acct-extra"}, headers=htmx_headers
    )
    assert (
        no_reason.status_code == 200
        and not case.case_accounts.filter(account__account_id="acct-extra").exists()
    )
    unknown = analyst_client.post(
        url(case, "accounts/add/"),
        {"account_id": "nope", "reason": "same card"},
        headers=htmx_headers,
    )
    assert b"no account with id" in unknown.content
    added = analyst_client.post(
        url(case, "accounts/add/"),
        {"account_id": "acct-extra", "reason": "same card"},
        headers=htmx_headers,
    )
    assert added.status_code == 204
    assert Case.objects.get(pk=case.pk).account_count == 2
    removed = analyst_client.post(
        url(case, f"accounts/{link.pk}/remove/"),
        {"reason": "a real customer"},
        headers=htmx_headers,
    )
    assert removed.status_code == 204
    link.refresh_from_db()
    assert link.removed_at is not None and link.removed_reason == "a real customer"
    assert Case.objects.get(pk=case.pk).account_count == 1
    listed = analyst_client.get(url(case, "accounts/?removed=1")).content.decode()
    assert link.account.account_id in listed and "a real customer" in listed


EVENT = re.compile(
    r'<li class="event[^"]*">.*?<span class="what">(.*?)</span>\s*'
    r'(?:<span class="badge">(.*?)</span>)?',
    re.S,
)


def timeline_lines(content: str) -> list[tuple[str, str]]:
    """(what happened, its "from #N" badge or "") for each timeline event, top to bottom."""
    return [(what, badge or "") for what, badge in EVENT.findall(content)]


def test_timeline_is_newest_first_and_includes_merged_cases(analyst_client, analyst, htmx_headers):
    campaign = CampaignFactory()
    case = CaseFactory(campaign=campaign)
    gone = CaseFactory(campaign=campaign)
    workflow.case_change_status(case=case, to="triage", by=analyst)
    workflow.case_add_tag(case=gone, name="proxy", by=analyst)
    workflow.case_assign(case=case, to=analyst, by=analyst)
    case_merge(source=gone, target=case, by=analyst, reason="same fleet")
    content = analyst_client.get(url(case, "timeline/"), headers=htmx_headers).content.decode()
    # The merged-away case's events sit among the kept case's by time, each marked.
    assert timeline_lines(content) == [
        (f"merged case #{gone.pk} into this one", ""),
        (f"merged into case #{case.pk}", f"from #{gone.pk}"),
        ("assigned to ana", ""),
        ("tagged proxy", f"from #{gone.pk}"),
        ("moved from New to Triage", ""),
    ]


def test_merge_from_the_case_page(analyst_client, analyst, make_case, htmx_headers):
    keep = make_case(accounts=1)
    other = make_case(accounts=2, campaign=keep.campaign, author=analyst)
    modal = analyst_client.get(url(keep, "merge/"), headers=htmx_headers).content.decode()
    assert f"#{other.pk}" in modal
    response = analyst_client.post(
        url(keep, "merge/"), {"other": other.pk, "reason": "same fleet"}, headers=htmx_headers
    )
    assert response.status_code == 204
    other.refresh_from_db()
    assert other.merged_into == keep and other.resolution == "duplicate"
    assert keep.notes.count() == 1


def test_the_header_lists_tags_by_name_with_a_remove_form_for_workers_only(
    analyst_client, manager_client
):
    case = CaseFactory()
    for name in ("resi-proxy", "fleet-b", "api_keys"):
        case.tags.add(Tag.objects.create(name=name))
    content = analyst_client.get(url(case)).content.decode()
    shown = [content.index(f'<span class="tag">{name}') for name in ("api_keys", "fleet-b")]
    assert shown == sorted(shown) and content.index("fleet-b") < content.index("resi-proxy")
    assert f'action="/cases/{case.pk}/tags/fleet-b/remove/"' in content
    assert 'aria-label="Remove tag api_keys"' in content
    content = manager_client.get(url(case)).content.decode()
    assert '<span class="tag">fleet-b' in content and "/tags/fleet-b/remove/" not in content


def test_a_hostile_campaign_label_in_the_summary_stays_text_and_is_clipped(analyst_client):
    label = PAYLOAD + " harvesting fleet"
    case = CaseFactory(title="Plain title", campaign=CampaignFactory(label=label))
    for path, headers in (("", {}), ("summary/", {"HX-Request": "true"})):
        content = analyst_client.get(url(case, path), headers=headers).content.decode()
        assert "<script>alert(1)" not in content and "<img src=x" not in content
        start = content.index("<dt>Campaign</dt>")
        campaign = content[start : content.index("</dd>", start)]
        # Longer than the card's 60 characters: cut, with the whole label behind the control.
        assert f'<span class="clip-short">{escape(label[:59])}…</span>' in campaign
        assert f'<span class="clip-full">{escape(label)}</span>' in campaign


def test_hostile_titles_and_event_text_on_the_timeline_stay_text(
    analyst_client, analyst, htmx_headers
):
    case = CaseFactory(title=PAYLOAD)
    AccountFactory(account_id=f"acct-{PAYLOAD}")
    case_account_add(case=case, account_id=f"acct-{PAYLOAD}", by=analyst, reason=PAYLOAD)
    page = analyst_client.get(url(case, "timeline/")).content.decode()
    fragment = analyst_client.get(url(case, "timeline/"), headers=htmx_headers).content.decode()
    for content in (page, fragment):
        assert "<script>alert(1)" not in content and "<img src=x" not in content
        assert f'<span class="what">added account acct-{escape(PAYLOAD)}</span>' in content
        assert f'<div class="reason"><span class="clip">{escape(PAYLOAD)}</span></div>' in content
    assert f'Case #{case.pk}: <span class="clip">{escape(PAYLOAD)}</span></a>' in page


def test_a_hostile_username_on_the_timeline_stays_text(analyst_client, htmx_headers):
    hostile = UserFactory(username=PAYLOAD, roles=[ANALYST])
    case = CaseFactory()
    workflow.case_change_status(case=case, to="triage", by=hostile)
    content = analyst_client.get(url(case, "timeline/"), headers=htmx_headers).content.decode()
    assert "<script>alert(1)" not in content and "<img src=x" not in content
    assert f'<span class="actor">{escape(PAYLOAD)}</span>' in content


# The form's reason field, marked in error, with the message under it (not another field's).
REASON_ERROR = re.compile(
    r'<div class="field has-error">\s*<label for="id_reason">'
    r'(?:(?!<div class="field).)*<div class="error">Give a reason\.</div>',
    re.S,
)


def test_reopening_from_the_case_page_needs_a_reason_and_shows_on_the_timeline(
    analyst_client, analyst, htmx_headers
):
    case = CaseFactory(status=Case.Status.INVESTIGATING)
    workflow.case_change_status(
        case=case, to="dismissed", by=analyst, resolution="legitimate", reason="a campus"
    )
    events = AuditEvent.objects.filter(case=case).count()

    refused = analyst_client.post(
        url(case, "status/"), {"to": "investigating", "reason": " "}, headers=htmx_headers
    )
    assert refused.status_code == 200 and b"<dialog" in refused.content
    assert REASON_ERROR.search(refused.content.decode())
    case.refresh_from_db()
    assert (case.status, case.resolution) == ("dismissed", "legitimate")
    assert AuditEvent.objects.filter(case=case).count() == events

    done = analyst_client.post(
        url(case, "status/"), {"to": "investigating", "reason": "new traffic"}, headers=htmx_headers
    )
    assert done.status_code == 204 and "caseChanged" in json.loads(done["HX-Trigger"])
    case.refresh_from_db()
    assert (case.status, case.resolution, case.decided_at) == ("investigating", "", None)
    timeline = analyst_client.get(url(case, "timeline/"), headers=htmx_headers).content.decode()
    assert timeline_lines(timeline)[0] == ("reopened from Dismissed to Investigating", "")
    assert '<div class="reason"><span class="clip">new traffic</span></div>' in timeline
