"""Look-alikes first-class: counted in the queue, marked on the case's accounts and on the
account page, and left out of a proposal unless the proposer includes them with a reason."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cases.enforcement.models import EnforcementAction
from cases.enforcement.services import action_propose
from cases.models import AuditEvent, Case, CaseAccount
from cases.selectors import case_lookalikes
from detection.models import Account
from tests.factories import AccountFactory, enforcement_terms, enforcement_terms_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_delivery(monkeypatch):
    from cases.enforcement.tasks import deliver_outbox_message_task

    monkeypatch.setattr(deliver_outbox_message_task, "apply_async", lambda *a, **kw: None)


def _member(case, org_id):
    return CaseAccount.objects.get(case=case, account__org_id=org_id).account


@pytest.fixture
def case_with_lookalikes(make_case):
    """Four accounts: org-0 is shared by three accounts platform-wide, acct org-3 is old and
    paying; org-1 and org-2 are the fleet."""
    case = make_case(accounts=4, status=Case.Status.INVESTIGATING)
    AccountFactory.create_batch(2, org_id="org-0")
    old = _member(case, "org-3")
    old.created_at = timezone.now() - timedelta(days=400)
    old.plan = "Enterprise"
    old.save()
    return case


def test_the_rules_match_the_blast_radius_warnings(case_with_lookalikes):
    found = set(case_lookalikes(case_with_lookalikes).values_list("account__org_id", flat=True))
    assert found == {"org-0", "org-3"}


def test_free_and_young_accounts_are_no_look_alikes(make_case):
    case = make_case(accounts=2)
    old_free = _member(case, "org-0")
    old_free.created_at = timezone.now() - timedelta(days=400)
    old_free.plan = "Free"
    old_free.save()
    assert not case_lookalikes(case).exists()


def test_the_queue_counts_each_cases_look_alikes(case_with_lookalikes, make_case, analyst_client):
    plain = make_case(accounts=2)
    Account.objects.filter(case_links__case=plain).update(org_id="")
    html = analyst_client.get(reverse("cases:case_queue")).content.decode()
    assert "Look-alikes" in html
    rows = {
        pk: html[html.index(f'href="/cases/{pk}/"') :].split("</tr>")[0]
        for pk in (case_with_lookalikes.pk, plain.pk)
    }
    assert 'class="badge lookalike"' in rows[case_with_lookalikes.pk]
    assert ">2</span>" in rows[case_with_lookalikes.pk]
    assert "badge lookalike" not in rows[plain.pk]


def test_the_cases_accounts_mark_the_look_alikes(case_with_lookalikes, analyst_client):
    url = reverse("cases:case_accounts", args=[case_with_lookalikes.pk])
    html = analyst_client.get(url, headers={"HX-Request": "true"}).content.decode()
    marked = [row for row in html.split("<tr")[1:] if "badge lookalike" in row]
    assert len(marked) == 2
    assert all("org-0" in row or "org-3" in row for row in marked)


def test_the_account_page_says_why_it_looks_like_a_customer(case_with_lookalikes, analyst_client):
    shared = _member(case_with_lookalikes, "org-0")
    html = analyst_client.get(reverse("accounts:account_detail", args=[shared.account_id]))
    assert "organisation org-0 has 3 accounts" in html.content.decode()
    fleet = _member(case_with_lookalikes, "org-1")
    html = analyst_client.get(reverse("accounts:account_detail", args=[fleet.account_id]))
    assert 'id="account-lookalike"' not in html.content.decode()


def _propose(client, case, **data):
    data = {"kind": "ban", "scope": "all", "reason": "Fleet", **enforcement_terms_form(), **data}
    url = reverse("cases:action_propose", args=[case.pk])
    return client.post(url, data, headers={"HX-Request": "true"})


def test_proposing_leaves_the_look_alikes_out_by_default(case_with_lookalikes, analyst_client):
    url = reverse("cases:action_propose", args=[case_with_lookalikes.pk])
    form = analyst_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "2 look-alikes</span> left out" in form
    assert "except 2 look-alikes" in form
    response = _propose(analyst_client, case_with_lookalikes)
    assert response.status_code == 204
    action = EnforcementAction.objects.get()
    on_it = set(action.accounts.values_list("org_id", flat=True))
    assert on_it == {"org-1", "org-2"}
    event = AuditEvent.objects.get(verb="action.proposed")
    assert event.data["lookalikes"] == 0 and event.data["lookalike_reason"] == ""


def test_including_look_alikes_takes_a_reason_and_is_audited(case_with_lookalikes, analyst_client):
    refused = _propose(analyst_client, case_with_lookalikes, include_lookalikes="on")
    assert refused.status_code == 200
    assert "Say why the look-alikes belong" in refused.content.decode()
    assert not EnforcementAction.objects.exists()

    response = _propose(
        analyst_client,
        case_with_lookalikes,
        include_lookalikes="on",
        lookalike_reason="The shared org is the fleet's own shell company",
    )
    assert response.status_code == 204
    assert "caseChanged" in json.loads(response["HX-Trigger"])
    assert EnforcementAction.objects.get().accounts.count() == 4
    event = AuditEvent.objects.get(verb="action.proposed")
    assert event.data["lookalikes"] == 2
    assert event.data["lookalike_reason"] == "The shared org is the fleet's own shell company"


def test_picking_a_look_alike_without_including_them_is_refused(
    case_with_lookalikes, analyst_client
):
    shared = _member(case_with_lookalikes, "org-0")
    response = _propose(analyst_client, case_with_lookalikes, scope="selected", picked=[shared.pk])
    assert response.status_code == 200
    assert "1 of the accounts you picked is a look-alike" in response.content.decode()
    assert not EnforcementAction.objects.exists()


def _service_propose(case, by, **kwargs):
    return action_propose(
        case=case, by=by, kind="ban", reason="Fleet", **enforcement_terms(), **kwargs
    )


def test_the_service_refuses_look_alikes_without_a_reason(case_with_lookalikes, analyst):
    """The rule holds below the form: a script or another caller of the service that passes
    every account (``account_ids=None``) or picks a look-alike gets the same refusal."""
    shared = _member(case_with_lookalikes, "org-0")
    for picked in (None, [shared.pk]):
        for reason in ("", "   "):
            with pytest.raises(ValidationError, match=r"[12] of the chosen"):
                _service_propose(
                    case_with_lookalikes, analyst, account_ids=picked, lookalike_reason=reason
                )
    assert not EnforcementAction.objects.exists()
    assert not AuditEvent.objects.filter(verb="action.proposed").exists()
    case_with_lookalikes.refresh_from_db()
    assert case_with_lookalikes.status == Case.Status.INVESTIGATING


def test_the_service_takes_look_alikes_with_a_reason_and_audits_it(case_with_lookalikes, analyst):
    action = _service_propose(case_with_lookalikes, analyst, lookalike_reason=" Shell org ")
    assert action.accounts.count() == 4
    event = AuditEvent.objects.get(verb="action.proposed")
    assert event.data["lookalikes_included"] == 2
    assert event.data["lookalike_reason"] == "Shell org"


def test_the_service_needs_no_reason_without_look_alikes(case_with_lookalikes, analyst):
    fleet = [_member(case_with_lookalikes, org).pk for org in ("org-1", "org-2")]
    _service_propose(case_with_lookalikes, analyst, account_ids=fleet, lookalike_reason="stray")
    event = AuditEvent.objects.get(verb="action.proposed")
    # A reason for including nobody would mislead the approver: it is not kept.
    assert event.data["lookalikes_included"] == 0 and event.data["lookalike_reason"] == ""


def test_the_service_refuses_an_overlong_look_alike_reason(case_with_lookalikes, analyst):
    with pytest.raises(ValidationError, match="too long"):
        _service_propose(case_with_lookalikes, analyst, lookalike_reason="x" * 2001)
    assert not EnforcementAction.objects.exists()


def test_a_pivot_marks_the_look_alikes_among_the_accounts_it_finds(
    case_with_lookalikes, analyst_client
):
    url = reverse("accounts:pivot", args=["org"]) + "?value=org-0"
    html = analyst_client.get(url).content.decode()
    rows = [row for row in html.split("<tr")[1:] if "account-link" in row]
    assert len(rows) == 3 and all("badge lookalike" in row for row in rows)
