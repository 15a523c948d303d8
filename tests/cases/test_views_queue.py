import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from cases.models import AuditEvent, Case, Tag
from cases.services import workflow
from dashboard.roles import ANALYST
from tests.cases.conftest import HOSTILE, PAYLOAD
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    NoteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
QUEUE = "/cases/"
ROW = re.compile(r'<tr data-row="case".*?</tr>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def titles(response) -> list[str]:
    return [row.record.title for row in response.context["table"].paginated_rows]


@pytest.mark.parametrize("who", ["analyst_client", "approver_client", "manager_client"])
def test_every_role_that_reads_cases_gets_the_page_and_the_fragment(request, who, htmx_headers):
    client = request.getfixturevalue(who)
    CaseFactory(title="Visible case")
    page = client.get(QUEUE)
    assert page.status_code == 200
    assert b"<html" in page.content and b"Visible case" in page.content
    fragment = client.get(QUEUE, headers=htmx_headers)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert b'id="queue-results"' in fragment.content and b"Visible case" in fragment.content
    assert "HX-Request" in page["Vary"]


def test_a_boosted_request_gets_the_whole_page(analyst_client):
    response = analyst_client.get(QUEUE, headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert b"<html" in response.content


def test_no_role_means_403_on_the_page_the_fragment_and_bulk(outsider_client, htmx_headers):
    case = CaseFactory()
    assert outsider_client.get(QUEUE).status_code == 403
    assert outsider_client.get(QUEUE, headers=htmx_headers).status_code == 403
    response = outsider_client.post(
        "/cases/bulk/", {"cases": [case.pk], "action": "priority", "priority": 1, "confirm": 1}
    )
    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).priority == Case.Priority.MEDIUM


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(QUEUE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_by_default_the_queue_shows_open_cases_highest_risk_first(analyst_client):
    CaseFactory(title="low", risk_score=0.2)
    CaseFactory(title="high", risk_score=0.95)
    CaseFactory(title="closed", status=Case.Status.DISMISSED, risk_score=0.99)
    assert titles(analyst_client.get(QUEUE)) == ["high", "low"]
    assert "closed" in titles(analyst_client.get(QUEUE + "?status=any"))


def test_saved_views(analyst_client, analyst, analyst2):
    CaseFactory(title="mine", assignee=analyst)
    CaseFactory(title="theirs", assignee=analyst2)
    CaseFactory(title="nobody")
    CaseFactory(title="pending", status=Case.Status.PENDING_APPROVAL, assignee=analyst2)
    CaseFactory(
        title="closed recently",
        status=Case.Status.ACTIONED,
        decided_at=timezone.now() - timedelta(days=2),
    )
    CaseFactory(
        title="closed long ago",
        status=Case.Status.DISMISSED,
        decided_at=timezone.now() - timedelta(days=90),
    )
    page = analyst_client.get(QUEUE)
    views = {v["key"]: v["url"] for v in page.context["saved_views"]}
    assert titles(analyst_client.get(views["mine"])) == ["mine"]
    assert titles(analyst_client.get(views["unassigned"])) == ["nobody"]
    assert titles(analyst_client.get(views["pending"])) == ["pending"]
    closed = analyst_client.get(views["closed"])
    assert titles(closed) == ["closed recently"]
    assert "closed" in closed.context["table"].columns.names()
    assert b'aria-current="page"' in closed.content


def test_the_queue_never_counts_the_whole_table(analyst_client):
    CaseFactory.create_batch(3)
    with CaptureQueriesContext(connection) as ctx:
        analyst_client.get(QUEUE)
    # A row's own counts (its look-alikes) are subqueries of the row query; a count of the
    # table is a query of its own.
    case_counts = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT COUNT(") and "cases_case" in q["sql"]
    ]
    assert case_counts == []


# Queries per queue page, pinned (NetBox keeps such baselines as ``query_counts``). Every
# request starts with Django's four: the session, its user, the user's own permissions and
# their groups'. A full page adds the top bar's unread count and roles (TOP_BAR). Then the
# page's rows; a search first looks its term up (one query, ``case_text_match``); a typed page
# number first reads the sort key of the row before it (``KeysetPaginator``). The filter bar's
# choice lists come from the cache once the first page has stored them
# (``queue_choice_names``: the workers and the tags, two queries); the htmx fragment draws
# neither bar nor top bar. A full page also lists the user's and the team's saved views
# (VIEWS, one query).
SESSION = 4
TOP_BAR = 2
VIEWS = 1
QUEUE_QUERIES = {
    "default": SESSION + TOP_BAR + VIEWS + 1,
    "filter": SESSION + TOP_BAR + VIEWS + 1,
    "search": SESSION + TOP_BAR + VIEWS + 2,
    "sort": SESSION + TOP_BAR + VIEWS + 1,
    "next link": SESSION + TOP_BAR + VIEWS + 1,
    "typed page": SESSION + TOP_BAR + VIEWS + 2,
    "fragment": SESSION + 1,
    "choices not cached": SESSION + TOP_BAR + VIEWS + 4,
}


@pytest.mark.parametrize("size", [3, 120])
def test_queries_per_queue_page_are_pinned_whatever_the_data_size(
    analyst_client, analyst, htmx_headers, django_assert_num_queries, size
):
    campaign = CampaignFactory()
    tag = Tag.objects.create(name="fleet")
    for i in range(size):
        case = CaseFactory(
            campaign=campaign if i % 2 else CampaignFactory(),
            assignee=analyst if i % 3 else None,
            priority=1 + i % 4,
        )
        case.tags.add(tag)
        CaseAccountFactory(case=case)
    with django_assert_num_queries(QUEUE_QUERIES["choices not cached"]):
        first = analyst_client.get(QUEUE)
    assert len(titles(first)) == min(size, 50)
    pages = {
        "default": QUEUE,
        "filter": QUEUE + "?assignee=me&status=open&priority=2&tag=fleet",
        "search": QUEUE + "?q=case&status=any",
        "sort": QUEUE + "?sort=-exchanges",
        "typed page": QUEUE + "?page=2&per_page=2",
    }
    for name, page in pages.items():
        with django_assert_num_queries(QUEUE_QUERIES[name]):
            assert analyst_client.get(page).status_code == 200, name
    # A deep page by the pager's links: Next after Next, each by its cursor.
    page = first
    while b'rel="next"' in page.content:
        href = unescape(re.search(r'<a rel="next" href="([^"]+)"', page.content.decode())[1])
        with django_assert_num_queries(QUEUE_QUERIES["next link"]):
            page = analyst_client.get(href)
        assert titles(page)
    with django_assert_num_queries(QUEUE_QUERIES["fragment"]):
        analyst_client.get(QUEUE + "?sort=-assignee&status=triage", headers=htmx_headers)


def test_a_new_tag_or_worker_shows_in_the_filter_bar_and_bulk_toolbar(
    analyst_client, analyst, htmx_headers
):
    case = CaseFactory()
    analyst_client.get(QUEUE)  # the choice lists are now cached
    analyst_client.post(f"/cases/{case.pk}/tags/add/", {"name": "resi-proxy"}, headers=htmx_headers)
    UserFactory(username="newcomer", roles=["analyst"])
    content = analyst_client.get(QUEUE).content.decode()
    filter_bar = content[content.index('id="filter-form"') : content.index('id="bulk-form"')]
    toolbar = content[content.index('id="bulk-form"') :]
    assert '<option value="resi-proxy">resi-proxy</option>' in filter_bar
    assert '<option value="newcomer">newcomer</option>' in filter_bar
    assert '<option value="newcomer">newcomer</option>' in toolbar
    assert '<option value="resi-proxy">' in toolbar  # the tag names' datalist


def test_pages_without_counting(analyst_client):
    for i in range(55):
        CaseFactory(risk_score=1 - i / 100)
    first = analyst_client.get(QUEUE)
    assert len(titles(first)) == 50
    assert b'rel="next"' in first.content
    second = analyst_client.get(QUEUE + "?page=2")
    assert len(titles(second)) == 5
    assert b'rel="next"' not in second.content and b'rel="prev"' in second.content
    # A page past the end falls back to the first rather than erroring.
    assert analyst_client.get(QUEUE + "?page=999").status_code == 200


def test_sort_and_pager_links_are_real_hrefs_with_htmx_and_push_url(analyst_client):
    for _ in range(51):
        CaseFactory()
    content = analyst_client.get(QUEUE + "?priority=3").content.decode()
    assert 'href="/cases/?priority=3&amp;sort=risk"' in content
    assert 'hx-get="/cases/?priority=3&amp;sort=risk"' in content
    assert 'hx-push-url="true"' in content
    # Next carries the page number and a cursor: the sort key of the page's last row.
    last = Case.objects.filter(priority=3).order_by("-risk_score", "-id")[49]
    assert f'href="/cases/?priority=3&amp;page=2&amp;after={last.risk_score!r}~{last.pk}"' in (
        content
    )


def test_the_header_marks_the_sorted_column_and_keeps_the_select_all_box(analyst_client):
    CaseFactory()
    content = analyst_client.get(QUEUE + "?q=%22%3E%3Cb%3E&sort=-exchanges").content.decode()
    assert (
        '<th class="desc orderable" aria-sort="descending"><a class="sort sorted desc" '
        'href="/cases/?q=%22%3E%3Cb%3E&amp;sort=exchanges" '
        'hx-get="/cases/?q=%22%3E%3Cb%3E&amp;sort=exchanges" hx-target="#queue-results" '
        'hx-swap="outerHTML" hx-push-url="true">Exchanges</a></th>'
    ) in content
    assert (
        'aria-sort="none"><a class="sort" href="/cases/?q=%22%3E%3Cb%3E&amp;sort=risk"' in content
    )
    # The select column's header is the select-all box itself, not its escaped markup.
    assert 'data-select-all="cases"' in content and "&lt;input" not in content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("priority=1", {"urgent one"}),
        ("risk_min=0.9", {"urgent one"}),
        ("risk_max=0.5", {"quiet one"}),
        ("tag=proxy", {"tagged one"}),
        ("q=URGENT", {"urgent one"}),
        ("q=acct-special", {"quiet one"}),
        ("account=acct-special", {"quiet one"}),
        ("q=mentions+residential", {"tagged one"}),
    ],
)
def test_filters(analyst_client, analyst, query, expected):
    CaseFactory(title="urgent one", priority=1, risk_score=0.95)
    quiet = CaseFactory(title="quiet one", risk_score=0.3)
    tagged = CaseFactory(title="tagged one", risk_score=0.7)
    tagged.tags.add(Tag.objects.create(name="proxy"))
    CaseAccountFactory(case=quiet, account=AccountFactory(account_id="acct-special"))
    NoteFactory(case=tagged, author=analyst, body="This one mentions residential proxies")
    assert set(titles(analyst_client.get(f"{QUEUE}?{query}"))) == expected


@pytest.mark.parametrize("matches", ["few", "many"])
@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ONE", {"urgent one", "quiet one", "tagged one"}),
        ("acct-special", {"quiet one"}),
        ("mentions residential", {"tagged one"}),
        ("nowhere at all", set()),
    ],
)
def test_text_search_finds_the_same_cases_by_either_route(
    analyst_client, analyst, monkeypatch, matches, term, expected
):
    # A term found in few places is looked up by its matches; one found in many is matched
    # while walking the queue. Forcing the second route must not change what is found.
    from cases import selectors

    if matches == "many":
        monkeypatch.setattr(selectors, "TEXT_SEARCH_FEW", 0)
    CaseFactory(title="urgent one", risk_score=0.95)
    quiet = CaseFactory(title="quiet one", risk_score=0.3)
    tagged = CaseFactory(title="tagged one", risk_score=0.7)
    CaseFactory(title="unrelated", risk_score=0.5)
    CaseAccountFactory(case=quiet, account=AccountFactory(account_id="acct-special"))
    NoteFactory(case=tagged, author=analyst, body="This one mentions residential proxies")
    NoteFactory(case=tagged, author=analyst, body="And mentions residential again")
    response = analyst_client.get(QUEUE, {"q": term, "status": "any"})
    assert titles(response) == sorted(expected, key=lambda t: -Case.objects.get(title=t).risk_score)


def test_campaign_filter_by_id_or_label(analyst_client):
    north = CampaignFactory(label="Northwind fleet")
    CaseFactory(title="a", campaign=north)
    CaseFactory(title="b", campaign=CampaignFactory(label="Other"))
    assert titles(analyst_client.get(f"{QUEUE}?campaign={north.pk}")) == ["a"]
    assert titles(analyst_client.get(f"{QUEUE}?campaign=northwind")) == ["a"]


def test_case_number_search(analyst_client):
    case = CaseFactory(title="find me")
    CaseFactory(title="not me")
    assert titles(analyst_client.get(f"{QUEUE}?q=%23{case.pk}")) == ["find me"]


def test_a_bad_filter_value_says_so_and_shows_nothing(analyst_client):
    CaseFactory()
    response = analyst_client.get(QUEUE + "?risk_min=lots")
    assert response.status_code == 200
    assert titles(response) == []
    assert b'role="alert"' in response.content


def test_overdue_cases_are_highlighted(analyst_client):
    CaseFactory(title="late", opened_at=timezone.now() - timedelta(days=30))
    CaseFactory(title="fresh")
    content = analyst_client.get(QUEUE).content.decode()
    assert content.count("overdue-row") == 1
    assert "overdue" in content


def test_hostile_titles_and_campaign_labels_stay_text(analyst_client):
    CaseFactory(
        title=HOSTILE, campaign=CampaignFactory(label=f'x" onmouseover="alert(2) {HOSTILE}')
    )
    content = analyst_client.get(QUEUE).content.decode()
    assert "<script>alert" not in content and "onerror=alert(1)>" not in content
    assert 'x" onmouseover' not in content
    assert "&lt;script&gt;" in content


def test_a_hostile_assignee_name_stays_text(analyst_client, htmx_headers):
    hostile = UserFactory(username=PAYLOAD, roles=[ANALYST])
    CaseFactory(assignee=hostile)
    for headers in ({}, htmx_headers):
        content = analyst_client.get(QUEUE, headers=headers).content.decode()
        assert "<script>alert(1)" not in content and "<img src=x" not in content
        [row] = ROW.findall(content)
        assert f"<td>{escape(PAYLOAD)}</td>" in row


def test_an_overdue_case_that_was_closed_is_not_highlighted(analyst_client, analyst):
    month_ago = timezone.now() - timedelta(days=30)
    CaseFactory(title="late and open", opened_at=month_ago)
    closed = CaseFactory(title="late and closed", opened_at=month_ago)
    workflow.case_change_status(
        case=closed, to="dismissed", by=analyst, resolution="legitimate", reason="a lab"
    )
    closed.refresh_from_db()
    assert closed.due_at < timezone.now()  # closing keeps the due date it missed
    content = analyst_client.get(QUEUE + "?status=any").content.decode()
    rows = {("closed" if "late and closed" in row else "open"): row for row in ROW.findall(content)}
    assert 'class="overdue-row"' in rows["open"] and "overdue " in rows["open"]
    assert "overdue" not in rows["closed"]


def test_counts_read_with_thousands_separators(analyst_client):
    CaseFactory(account_count=3_120, exchange_count=1_234_567)
    content = analyst_client.get(QUEUE).content.decode()
    assert "<td>3,120</td>" in content and "<td>1,234,567</td>" in content


def test_managers_get_no_bulk_controls(manager_client, analyst_client):
    CaseFactory()
    assert b'id="bulk-form"' not in manager_client.get(QUEUE).content
    assert b'name="cases"' not in manager_client.get(QUEUE).content
    assert b'id="bulk-form"' in analyst_client.get(QUEUE).content


def test_bulk_asks_once_then_changes_each_case_with_one_audit_event(
    analyst_client, analyst, htmx_headers
):
    cases = CaseFactory.create_batch(3)
    data = {"cases": [c.pk for c in cases], "action": "assign", "assignee": "me"}
    confirm = analyst_client.post("/cases/bulk/", data, headers=htmx_headers)
    assert confirm.status_code == 200
    assert b"<dialog" in confirm.content and b"for 3 cases" in confirm.content
    assert not Case.objects.filter(assignee=analyst).exists()

    done = analyst_client.post("/cases/bulk/", {**data, "confirm": "1"}, headers=htmx_headers)
    assert done.status_code == 204
    assert "caseChanged" in json.loads(done["HX-Trigger"])
    assert Case.objects.filter(assignee=analyst).count() == 3
    for case in cases:
        assert AuditEvent.objects.filter(case=case, verb="case.assigned").count() == 1


def case_state(case: Case) -> tuple:
    case = Case.objects.get(pk=case.pk)
    return case.status, case.priority, case.assignee_id, list(case.tags.values_list("name"))


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("data", "verb", "check"),
    [
        ({"action": "assign", "assignee": "me"}, "case.assigned", lambda c, me: c.assignee == me),
        (
            {"action": "priority", "priority": "1"},
            "case.priority_changed",
            lambda c, me: c.priority == 1,
        ),
        (
            {"action": "tag", "tag": "resi-proxy"},
            "case.tagged",
            lambda c, me: list(c.tags.values_list("name", flat=True)) == ["resi-proxy"],
        ),
        (
            {"action": "status", "status": "investigating"},
            "case.status_changed",
            lambda c, me: c.status == "investigating",
        ),
        (
            {
                "action": "status",
                "status": "dismissed",
                "resolution": "legitimate",
                "reason": "a lab",
            },
            "case.status_changed",
            lambda c, me: (c.status, c.resolution_reason) == ("dismissed", "a lab"),
        ),
    ],
    ids=["assign", "priority", "tag", "status", "dismiss"],
)
def test_every_bulk_action_asks_first_then_applies_what_was_confirmed(
    analyst_client, analyst, htmx_headers, htmx, data, verb, check
):
    cases = CaseFactory.create_batch(3)
    before = [case_state(c) for c in cases]
    headers = htmx_headers if htmx else {}
    asked = analyst_client.post(
        "/cases/bulk/", {"cases": [c.pk for c in cases], **data}, headers=headers
    )
    assert asked.status_code == 200
    html = asked.content.decode()
    assert ('<dialog class="modal"' in html) is htmx and ("<html" in html) is not htmx
    assert "Confirm bulk action" in html and "for 3 cases</button>" in html
    assert [case_state(c) for c in cases] == before
    assert not AuditEvent.objects.exists()

    # Confirm by sending back exactly what the confirmation carries (what a browser without
    # JS does), so the hidden inputs must hold the whole request.
    confirmed: dict[str, list[str]] = {}
    form = html[
        html.index('class="action-form"') : html.index("</form>", html.index("action-form"))
    ]
    for name, value in HIDDEN.findall(form):
        confirmed.setdefault(name, []).append(unescape(value))
    assert confirmed["confirm"] == ["1"]
    assert sorted(confirmed["cases"]) == sorted(str(c.pk) for c in cases)
    done = analyst_client.post("/cases/bulk/", confirmed, headers=headers)
    assert done.status_code == (204 if htmx else 302)
    for case in cases:
        assert check(Case.objects.get(pk=case.pk), analyst)
        assert list(AuditEvent.objects.filter(case=case).values_list("verb", flat=True)) == [verb]


def test_the_bulk_confirmation_page_shows_hostile_titles_as_text(analyst_client):
    cases = CaseFactory.create_batch(2, title=PAYLOAD)
    response = analyst_client.post(
        "/cases/bulk/", {"cases": [c.pk for c in cases], "action": "priority", "priority": "2"}
    )
    content = response.content.decode()
    assert response.status_code == 200 and "<html" in content and "Confirm bulk action" in content
    assert "<script>alert(1)" not in content and "<img src=x" not in content
    for case in cases:
        assert f'<li>#{case.pk} <span class="clip">{escape(PAYLOAD)}</span>' in content


@pytest.mark.parametrize(
    ("data", "check"),
    [
        ({"action": "priority", "priority": "1"}, lambda c: c.priority == 1),
        (
            {"action": "tag", "tag": "residential-proxy"},
            lambda c: c.tags.get().name == "residential-proxy",
        ),
        ({"action": "status", "status": "triage"}, lambda c: c.status == "triage"),
        (
            {
                "action": "status",
                "status": "dismissed",
                "resolution": "legitimate",
                "reason": "a lab",
            },
            lambda c: c.status == "dismissed" and c.resolution == "legitimate",
        ),
    ],
)
def test_bulk_actions(approver_client, data, check):
    cases = CaseFactory.create_batch(2)
    response = approver_client.post(
        "/cases/bulk/", {"cases": [c.pk for c in cases], "confirm": "1", **data}
    )
    assert response.status_code == 302
    for case in cases:
        assert check(Case.objects.get(pk=case.pk))
        assert AuditEvent.objects.filter(case=case).count() == 1


def test_bulk_skips_cases_the_rules_refuse_and_says_which(analyst_client, htmx_headers):
    ok = CaseFactory()
    pending = CaseFactory(status=Case.Status.PENDING_APPROVAL)
    response = analyst_client.post(
        "/cases/bulk/",
        {"cases": [ok.pk, pending.pk], "action": "status", "status": "triage", "confirm": "1"},
        headers=htmx_headers,
    )
    assert response.status_code == 204
    message = json.loads(response["HX-Trigger"])["showMessage"]
    assert "1 changed" in message and f"#{pending.pk}" in message
    assert Case.objects.get(pk=pending.pk).status == Case.Status.PENDING_APPROVAL
    assert Case.objects.get(pk=ok.pk).status == Case.Status.TRIAGE


def test_bulk_without_a_selection_or_reason_is_shown_again_with_200(analyst_client, htmx_headers):
    case = CaseFactory()
    nothing = analyst_client.post("/cases/bulk/", {"action": "priority", "priority": "1"})
    assert nothing.status_code == 200 and b"Select at least one case" in nothing.content
    no_reason = analyst_client.post(
        "/cases/bulk/",
        {"cases": [case.pk], "action": "status", "status": "dismissed", "confirm": "1"},
        headers=htmx_headers,
    )
    assert no_reason.status_code == 200 and b"Give a reason" in no_reason.content
    assert Case.objects.get(pk=case.pk).status == Case.Status.NEW


def test_managers_cannot_bulk(manager_client):
    case = CaseFactory()
    response = manager_client.post(
        "/cases/bulk/", {"cases": [case.pk], "action": "priority", "priority": "1", "confirm": "1"}
    )
    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).priority == Case.Priority.MEDIUM
