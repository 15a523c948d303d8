"""The account page, pivots, the bulk forms, search and related accounts, as users see them."""

import re
from urllib.parse import quote

import pytest

from cases.accounts import related
from cases.evidence.services import evidence_snapshot_collect
from cases.models import AuditEvent, Case, CaseAccount, EvidenceSnapshot
from detection.models import AccountChange
from tests.cases.accounts_data import ASN, CARD, DOMAIN, IP, ORG, TEMPLATE, make_world
from tests.cases.conftest import HOSTILE, PAYLOAD
from tests.factories import AccountFactory, CaseAccountFactory, CaseFactory, ExchangeFactory

pytestmark = pytest.mark.django_db
SESSION = 4  # the session, its user, the user's permissions and their groups'
TOP_BAR = 2  # the unread count and the roles


def listed(response) -> list[str]:
    return [row.record.account_id for row in response.context["table"].paginated_rows]


def pivot(kind, value, **params):
    query = "&".join(f"{k}={v}" for k, v in {"value": value, **params}.items())
    return f"/accounts/shared/{kind}/?{query}"


# -- the account page ----------------------------------------------------------------------


def test_the_account_page_links_every_shared_attribute_and_shows_its_cases(analyst_client):
    world = make_world()
    account = world.members[0]
    page = analyst_client.get(f"/accounts/{account.account_id}/?case={world.case.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    case = world.case.pk
    for kind, value in (
        ("card", CARD),
        ("org", ORG),
        ("domain", DOMAIN),
        ("ip", IP),
        ("range", "203.0.113.0/24"),
        ("asn", ASN),
        ("template", TEMPLATE),
    ):
        assert f"/accounts/shared/{kind}/?value={value}".replace("/24", "%2F24") in html, kind
    assert f"/accounts/shared/agent/?value=fleet-bot%2F1.0&amp;case={case}" in html
    assert "AS13335" in html
    # Four accounts have the card: the two on the case and two outside it.
    assert re.search(r"Payment card.*?4 accounts", html, re.S)
    assert f"#{case} Fleet case" in html
    scores = html[html.index('id="account-scores"') :]
    assert "run " in scores and "0.90" in scores


def test_the_account_page_shows_decisions_on_the_account(analyst_client, analyst):
    world = make_world()
    account = world.members[0]
    Case.objects.filter(pk=world.case.pk).update(
        status=Case.Status.DISMISSED, resolution=Case.Resolution.FALSE_POSITIVE
    )
    html = analyst_client.get(f"/accounts/{account.account_id}/").content.decode()
    assert "False positive" in html and "Dismissed" in html
    assert "No enforcement proposed." in html


def test_the_account_page_shows_what_later_accounts_rows_changed(analyst_client):
    world = make_world()
    account = world.members[0]
    AccountChange.objects.create(
        account=account,
        field=AccountChange.Field.PAYMENT_FINGERPRINT,
        old_value="pm_old_card",
        new_value=CARD,
        source="accounts-2.jsonl:7",
    )
    AccountChange.objects.create(
        account=account, field=AccountChange.Field.PLAN, old_value=HOSTILE, new_value="pro"
    )
    html = analyst_client.get(f"/accounts/{account.account_id}/").content.decode()
    history = html[html.index('id="account-history-h"') :]
    assert "payment fingerprint" in history and "accounts-2.jsonl:7" in history
    # Card values link to the accounts sharing them; a plan is plain, escaped text.
    assert 'href="/accounts/shared/card/?value=pm_old_card"' in history
    assert HOSTILE not in history and "&lt;script&gt;alert(&quot;x&quot;)" in history


def test_an_account_without_changes_says_so(analyst_client):
    world = make_world()
    html = analyst_client.get(f"/accounts/{world.members[0].account_id}/").content.decode()
    assert "No later accounts row has changed this account." in html


def test_an_unknown_account_is_404_and_roleless_users_get_403(analyst_client, outsider_client):
    world = make_world()
    assert analyst_client.get("/accounts/nobody-here/").status_code == 404
    member = world.members[0].account_id
    assert outsider_client.get(f"/accounts/{member}/").status_code == 403
    assert outsider_client.get(pivot("card", CARD)).status_code == 403
    assert outsider_client.get("/search/?q=fleet").status_code == 403
    assert outsider_client.get(f"/cases/{world.case.pk}/related/").status_code == 403


def test_hostile_account_values_are_escaped_and_url_encoded(analyst_client):
    account = AccountFactory(account_id="evil/id?x=1", email_domain=HOSTILE, org_id=PAYLOAD)
    ExchangeFactory(account=account, user_agent=PAYLOAD)
    page = analyst_client.get("/accounts/evil/id%3Fx=1/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "/accounts/shared/domain/?value=%3Cscript%3Ealert" in html
    assert "/accounts/shared/agent/?value=%3Cscript%3Ealert%281%29" in html
    for kind, value in (("domain", HOSTILE), ("org", PAYLOAD), ("agent", PAYLOAD)):
        html = analyst_client.get(pivot(kind, quote(value))).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html, kind
        assert "&lt;script&gt;" in html
        assert "evil/id?x=1" in html and "/accounts/evil/id%3Fx=1/" in html


# -- pivots --------------------------------------------------------------------------------


def test_a_card_pivot_lists_the_accounts_sharing_it_inside_and_outside_the_case(analyst_client):
    world = make_world()
    case = world.case.pk
    page = analyst_client.get(pivot("card", CARD, case=case))
    assert page.status_code == 200
    assert page.context["counts"] == {
        "total": 4,
        "in_case": 2,
        "outside_case": 2,
        "on_open_cases": 2,
    }
    assert listed(page) == ["fleet-000", "fleet-001", "outside-card-000", "outside-card-001"]
    outside = analyst_client.get(pivot("card", CARD, case=case, scope="outside"))
    assert listed(outside) == ["outside-card-000", "outside-card-001"]
    inside = analyst_client.get(pivot("card", CARD, case=case, scope="inside"))
    assert listed(inside) == ["fleet-000", "fleet-001"]
    html = page.content.decode()
    assert 'id="bulk-accounts"' in html and "Open as new case" in html
    assert f'<option value="{case}">#{case} Fleet case</option>' in html


@pytest.mark.parametrize(
    "kind, value, expected",
    [
        ("ip", IP, ["fleet-000", "fleet-001", "outside-ip-000"]),
        ("range", "203.0.113.99", ["fleet-000", "fleet-001", "outside-ip-000"]),
        ("asn", "AS13335", ["fleet-000", "fleet-001"]),
        ("asn", "13335", ["fleet-000", "fleet-001"]),
        ("template", TEMPLATE, ["fleet-000", "fleet-001"]),
        ("agent", "fleet-bot%2F1.0", ["fleet-000", "fleet-001"]),
        ("org", ORG, ["fleet-000", "fleet-001"]),
        ("domain", DOMAIN, ["fleet-000", "fleet-001"]),
    ],
)
def test_every_attribute_pivots(analyst_client, kind, value, expected):
    make_world()
    page = analyst_client.get(pivot(kind, value))
    assert page.status_code == 200
    assert listed(page) == expected


def test_a_bad_value_or_kind_is_404(analyst_client):
    assert analyst_client.get(pivot("ip", "not-an-ip")).status_code == 404
    assert analyst_client.get(pivot("asn", "ASX")).status_code == 404
    assert analyst_client.get(pivot("colour", "red")).status_code == 404
    assert analyst_client.get("/accounts/shared/card/").status_code == 404


def test_the_pivot_fragment_is_the_listing_alone(analyst_client, htmx_headers):
    make_world()
    response = analyst_client.get(pivot("card", CARD), headers=htmx_headers)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'id="pivot-results"' in html and "outside-card-000" in html
    assert "HX-Request" in response["Vary"]


def test_managers_read_pivots_without_the_bulk_forms(manager_client):
    world = make_world()
    html = manager_client.get(pivot("card", CARD, case=world.case.pk)).content.decode()
    assert "outside-card-000" in html
    assert 'id="bulk-accounts"' not in html and 'name="accounts"' not in html


@pytest.mark.parametrize("extra", [0, 12])
def test_queries_per_account_pages_are_pinned_whatever_the_data_size(
    analyst_client, django_assert_num_queries, htmx_headers, extra
):
    world = make_world(extra_card_sharers=extra)
    member = world.members[0].account_id
    case = world.case.pk
    # The page: the account, the context case, the run's window, the counts of sharers, four
    # exchange attributes, memberships, enforcement, scores, history, watch-list matches,
    # outside flags, decisions and the allow-list.
    with django_assert_num_queries(SESSION + TOP_BAR + 16):
        assert analyst_client.get(f"/accounts/{member}/?case={case}").status_code == 200
    # Counts, a page of rows, the context case, the cases to add to.
    with django_assert_num_queries(SESSION + TOP_BAR + 4):
        assert analyst_client.get(pivot("card", CARD, case=case)).status_code == 200
    with django_assert_num_queries(SESSION + TOP_BAR + 5):  # and the run's window
        assert analyst_client.get(pivot("ip", IP, case=case)).status_code == 200
    with django_assert_num_queries(SESSION + 2):
        response = analyst_client.get(pivot("card", CARD, case=case), headers=htmx_headers)
        assert response.status_code == 200


# -- bulk forms ----------------------------------------------------------------------------


def test_adding_selected_accounts_to_a_case_records_each_and_returns_to_the_case(
    analyst_client, analyst
):
    world = make_world()
    case = world.case
    picked = [a.pk for a in world.card_sharers]
    response = analyst_client.post(
        "/accounts/add-to-case/",
        {"accounts": picked + [world.members[0].pk], "case": case.pk, "reason": "same card"},
    )
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    on_case = set(
        CaseAccount.objects.filter(case=case, removed_at=None).values_list("account_id", flat=True)
    )
    assert set(picked) <= on_case and len(on_case) == 4
    events = AuditEvent.objects.filter(case=case, verb="case.account_added", actor=analyst)
    assert sorted(e.data["account"] for e in events) == ["outside-card-000", "outside-card-001"]
    case.refresh_from_db()
    assert case.account_count == 4
    page = analyst_client.get(f"/cases/{case.pk}/accounts/").content.decode()
    assert "outside-card-000" in page
    timeline = analyst_client.get(f"/cases/{case.pk}/timeline/").content.decode()
    assert "outside-card-001" in timeline


def test_managers_cannot_add_or_open_and_nothing_changes(manager_client):
    world = make_world()
    data = {"accounts": [world.card_sharers[0].pk], "case": world.case.pk, "reason": "x"}
    assert manager_client.post("/accounts/add-to-case/", data).status_code == 403
    assert manager_client.post("/accounts/open-case/", {**data, "title": "t"}).status_code == 403
    assert CaseAccount.objects.filter(account=world.card_sharers[0]).count() == 0
    assert Case.objects.count() == 1


def test_a_closed_case_takes_no_accounts(analyst_client):
    world = make_world()
    Case.objects.filter(pk=world.case.pk).update(status=Case.Status.DISMISSED)
    response = analyst_client.post(
        "/accounts/add-to-case/",
        {"accounts": [world.card_sharers[0].pk], "case": world.case.pk, "reason": "x"},
        follow=True,
    )
    assert CaseAccount.objects.filter(account=world.card_sharers[0]).count() == 0
    assert "Select a valid choice" in response.content.decode()


def test_opening_a_case_on_selected_accounts(analyst_client, analyst):
    world = make_world()
    picked = [a.pk for a in world.card_sharers]
    response = analyst_client.post(
        "/accounts/open-case/",
        {"accounts": picked, "title": "Card ring", "reason": "same card", "next": "/"},
    )
    case = Case.objects.get(title="Card ring")
    assert response["Location"] == f"/cases/{case.pk}/"
    assert case.account_count == 2 and case.is_open and case.subject_key.startswith("manual:")
    opened = AuditEvent.objects.get(case=case, verb="case.opened")
    assert opened.actor == analyst and opened.data["manual"] is True
    assert AuditEvent.objects.filter(case=case, verb="case.account_added").count() == 2


def test_a_bulk_form_without_accounts_says_so(analyst_client):
    world = make_world()
    back = f"/accounts/shared/card/?value={CARD}"
    response = analyst_client.post(
        "/accounts/add-to-case/",
        {"case": world.case.pk, "reason": "x", "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    assert "Select at least one account." in analyst_client.get(back).content.decode()
    response = analyst_client.post(
        "/accounts/open-case/", {"reason": "x", "title": "t", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/cases/"


# -- search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "term, kind, expected",
    [
        ("fleet-00", "prefix", {"fleet-000", "fleet-001"}),
        (IP, "ip", {"fleet-000", "fleet-001", "outside-ip-000"}),
        ("AS13335", "asn", {"fleet-000", "fleet-001"}),
        ("13335", "asn", {"fleet-000", "fleet-001"}),
        (CARD, "card", {"fleet-000", "fleet-001", "outside-card-000", "outside-card-001"}),
        (ORG, "org", {"fleet-000", "fleet-001"}),
        (DOMAIN, "domain", {"fleet-000", "fleet-001"}),
        ("FLEET.example", "domain", {"fleet-000", "fleet-001"}),
        (str(TEMPLATE), "template", {"fleet-000", "fleet-001"}),
    ],
)
def test_search_finds_accounts_by_id_prefix_and_by_each_attribute(
    analyst_client, term, kind, expected
):
    make_world()
    page = analyst_client.get("/search/", {"q": term})
    assert page.status_code == 200
    found = {m.kind: {a.account_id for a in m.accounts} for m in page.context["matches"]}
    assert found[kind] == expected


def test_search_finds_cases_and_keeps_hostile_terms_as_text(analyst_client):
    world = make_world()
    html = analyst_client.get("/search/", {"q": "Fleet case"}).content.decode()
    assert f"#{world.case.pk} Fleet case" in html
    html = analyst_client.get("/search/", {"q": PAYLOAD}).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_the_top_bar_has_the_search_box_and_the_queue_keeps_its_own(analyst_client):
    html = analyst_client.get("/cases/").content.decode()
    assert 'action="/search/"' in html and 'aria-label="Find accounts and cases"' in html
    assert 'id="id_q"' in html


def test_a_prefix_search_is_bounded(analyst_client):
    for i in range(25):
        AccountFactory(account_id=f"bulk-{i:03d}")
    page = analyst_client.get("/search/", {"q": "bulk-"})
    (match,) = [m for m in page.context["matches"] if m.kind == "prefix"]
    assert len(match.accounts) == 20 and match.more
    assert "type more of the id" in page.content.decode()


# -- related accounts ----------------------------------------------------------------------


def test_related_accounts_rank_rare_ties_first_and_link_each_tie(analyst_client):
    world = make_world()
    page = analyst_client.get(f"/cases/{world.case.pk}/related/")
    assert page.status_code == 200
    rows = [item["account"].account_id for item in page.context["table"].data]
    # The card is shared by four accounts, the address by three: the address is the rarer
    # tie. The stranger shares nothing and the members are on the case.
    assert rows == ["outside-ip-000", "outside-card-000", "outside-card-001"]
    html = page.content.decode()
    assert f"/accounts/shared/ip/?value={IP}&amp;case={world.case.pk}" in html
    assert f"/accounts/shared/card/?value={CARD}&amp;case={world.case.pk}" in html
    assert 'id="bulk-accounts"' in html and f'name="case" value="{world.case.pk}"' in html


def test_related_accounts_for_a_manager_have_no_bulk_add(manager_client):
    world = make_world()
    html = manager_client.get(f"/cases/{world.case.pk}/related/").content.decode()
    assert "outside-card-000" in html and 'id="bulk-accounts"' not in html


def test_the_case_page_links_to_related_accounts_and_account_pages(analyst_client):
    world = make_world()
    html = analyst_client.get(f"/cases/{world.case.pk}/accounts/").content.decode()
    assert f'href="/cases/{world.case.pk}/related/"' in html
    assert f'href="/accounts/fleet-000/?case={world.case.pk}"' in html
    assert f"/accounts/shared/org/?value={ORG}&amp;case={world.case.pk}" in html


@pytest.mark.parametrize("extra", [0, 12])
def test_related_accounts_cost_a_pinned_number_of_queries(
    analyst_client, django_assert_num_queries, extra
):
    world = make_world(extra_card_sharers=extra)
    other = CaseFactory(title="Other")
    CaseAccountFactory(case=other, account=world.card_sharers[0])
    # The case, the window, two queries for each of seven attributes, the case's accounts,
    # the rows.
    with django_assert_num_queries(SESSION + TOP_BAR + 1 + 1 + 7 * 2 + 1 + 1):
        assert analyst_client.get(f"/cases/{world.case.pk}/related/").status_code == 200


def test_a_tie_too_common_to_follow_is_named_not_followed(analyst_client, monkeypatch):
    monkeypatch.setattr(related, "HUB_ACCOUNTS", 3)
    world = make_world()
    page = analyst_client.get(f"/cases/{world.case.pk}/related/")
    rows = [item["account"].account_id for item in page.context["table"].data]
    assert rows == ["outside-ip-000"]  # the card (four accounts) is not followed
    hubs = {(t.kind, t.value, t.accounts) for t in page.context["result"].hubs}
    assert ("card", CARD, 4) in hubs
    assert "used by too many accounts to follow" in page.content.decode()


@pytest.mark.parametrize("sort", ["account_id", "risk", "created", "plan", "domain", "open_cases"])
def test_every_pivot_column_sorts_both_ways_and_pages(analyst_client, sort):
    world = make_world(extra_card_sharers=3)
    orders = {}
    for order in (sort, f"-{sort}"):
        page = analyst_client.get(pivot("card", CARD, case=world.case.pk, sort=order, per_page=2))
        assert page.status_code == 200 and len(listed(page)) == 2
        following = page.context["table"].pager["next"]
        rest = analyst_client.get(following)
        assert rest.status_code == 200 and not set(listed(rest)) & set(listed(page))
        orders[order] = listed(page) + listed(rest)
    if sort == "account_id":  # distinct values: each direction is strictly ordered
        assert orders[sort] == sorted(orders[sort])
        assert orders[f"-{sort}"] == sorted(orders[f"-{sort}"], reverse=True)


@pytest.mark.parametrize("extra", [0, 12])
def test_search_costs_a_pinned_number_of_queries(analyst_client, django_assert_num_queries, extra):
    make_world(extra_card_sharers=extra)
    # The window, the id prefix, card, organisation and email domain, the cases.
    with django_assert_num_queries(SESSION + TOP_BAR + 6):
        assert analyst_client.get("/search/", {"q": CARD}).status_code == 200
    # The window, the id prefix, the address and its range, the cases.
    with django_assert_num_queries(SESSION + TOP_BAR + 5):
        assert analyst_client.get("/search/", {"q": IP}).status_code == 200


def test_the_evidence_links_shared_values_and_accounts_to_their_pages(analyst_client):
    world = make_world()
    case = world.case
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == EvidenceSnapshot.Status.DONE
    html = analyst_client.get(f"/cases/{case.pk}/evidence/").content.decode()
    for kind, value in (("ip", IP), ("asn", ASN), ("card", CARD)):
        assert f'href="/accounts/shared/{kind}/?value={value}&amp;case={case.pk}"' in html
    # The address is shared with one account outside the case: the count links to it.
    assert f"/accounts/shared/ip/?value={IP}&amp;scope=outside&amp;case={case.pk}" in html
    assert f"/accounts/shared/org/?value={ORG}&amp;scope=inside&amp;case={case.pk}" in html
    assert f'href="/accounts/fleet-000/?case={case.pk}"' in html
