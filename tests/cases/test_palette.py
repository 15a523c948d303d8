"""The command palette's results: actions for where the user is and what their role allows,
cases by number, title or campaign, accounts by id prefix or email domain; escaped; bounded."""

import pytest
from django.urls import reverse

from cases.enforcement.services import action_propose
from cases.models import SavedView
from tests.cases.conftest import HOSTILE
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    enforcement_terms,
)

pytestmark = pytest.mark.django_db
URL = reverse("cases:palette")


def results(client, headers, **params) -> str:
    response = client.get(URL, params, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_fragment_is_the_list_and_the_page_has_a_form(analyst_client, htmx_headers):
    fragment = results(analyst_client, htmx_headers)
    assert fragment.lstrip().startswith('<ul id="palette-results"')
    assert "Go to the queue" in fragment and "Go to approvals" not in fragment
    page = results(analyst_client, {}, q="queue")
    assert "<form" in page and "Go to the queue" in page


def test_cases_by_number_title_and_campaign(analyst_client, htmx_headers):
    fleet = CaseFactory(title="Reasoning harvest", campaign=CampaignFactory(label="Coding agents"))
    other = CaseFactory(title="Benchmark suite")
    html = results(analyst_client, htmx_headers, q="coding")
    assert f"#{fleet.pk} Reasoning harvest" in html and "Benchmark suite" not in html
    assert f'href="/cases/{fleet.pk}/"' in html
    html = results(analyst_client, htmx_headers, q=f"#{other.pk}")
    assert f"#{other.pk} Benchmark suite" in html


def test_accounts_by_id_prefix_and_email_domain(analyst_client, htmx_headers):
    AccountFactory(account_id="acct-palette-1", email_domain="fleet.example")
    AccountFactory(account_id="zz-other", email_domain="fleet.example")
    html = results(analyst_client, htmx_headers, q="acct-pal")
    assert "acct-palette-1" in html and "Account id starts with" in html
    assert reverse("accounts:account_detail", args=["acct-palette-1"]) in html
    html = results(analyst_client, htmx_headers, q="fleet.example")
    assert "acct-palette-1" in html and "zz-other" in html
    assert "acct" not in results(analyst_client, htmx_headers, q="a")  # too short for accounts


def test_case_actions_follow_the_role_and_the_case(
    analyst, approver, analyst_client, approver_client, manager_client, htmx_headers
):
    case = CaseFactory(title="Fleet")
    CaseAccountFactory(case=case, account=AccountFactory())
    html = results(analyst_client, htmx_headers, case=case.pk)
    for label in ("Next case", "Previous case", f"Propose an action on case #{case.pk}", "Dismiss"):
        assert label in html
    assert 'data-click="[data-key=&#x27;p&#x27;]"' in html
    manager = results(manager_client, htmx_headers, case=case.pk)
    assert "Next case" in manager and "Propose" not in manager and "Dismiss" not in manager
    action = action_propose(case=case, by=analyst, kind="ban", reason="r", **enforcement_terms())
    html = results(approver_client, htmx_headers, case=case.pk, q="approve")
    assert f"Approve or reject ban #{action.pk}" in html
    assert f'data-click="[data-decide=&#x27;{action.pk}&#x27;]"' in html
    # A case the user may not see adds nothing; a bad id is ignored.
    assert "Next case" not in results(analyst_client, htmx_headers, case="99999999")
    assert "Next case" not in results(analyst_client, htmx_headers, case="x1")


def test_saved_views_are_actions_and_text_is_escaped(analyst, analyst_client, htmx_headers):
    SavedView.objects.create(owner=analyst, name="P1 fleets", query="priority=1")
    CaseFactory(title=HOSTILE)
    html = results(analyst_client, htmx_headers, q="fleets")
    assert "Open the view “P1 fleets”" in html and "/cases/?priority=1" in html
    html = results(analyst_client, htmx_headers, q="script")
    assert "alert" in html and HOSTILE not in html


def test_roleless_users_are_refused_and_queries_are_bounded(
    outsider_client, analyst_client, htmx_headers, django_assert_max_num_queries
):
    assert outsider_client.get(URL).status_code == 403
    for n in range(10):
        CaseFactory(title=f"fleet {n}")
    with django_assert_max_num_queries(16):
        html = results(analyst_client, htmx_headers, q="fleet")
    assert html.count('role="option"') <= 3 + 6 + 6


def test_a_term_holding_a_nul_is_looked_up_without_it(analyst_client):
    # PostgreSQL holds no NUL: the term is read as telemetry stores text, not a server error
    # (lone surrogates, which a test client cannot send, are in tests/dashboard/test_fuzz.py).
    for term in ("case\x00 7", "acct\x00"):
        response = analyst_client.get("/cases/palette/", {"q": term})
        assert response.status_code == 200
