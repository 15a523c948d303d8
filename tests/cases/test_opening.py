"""Opening cases from plain data about flagged subjects, under a case policy."""

import re

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from cases.models import AuditEvent, Case, CaseAccount, EvidenceSnapshot
from cases.policy import CasePolicy, case_policy
from cases.services.opening import FlaggedSubject, RunRef, cases_open_for_subjects
from cases.services.workflow import case_change_status
from tests.factories import AccountFactory, CampaignFactory, DetectionRunFactory


def test_the_default_policy_is_the_shipped_one():
    policy = CasePolicy()
    assert policy.priority_risk_cuts == (0.9, 0.75, 0.55)
    assert (
        policy.reopen_min_new_accounts,
        policy.reopen_account_growth,
        policy.reopen_exchange_growth,
        policy.reopen_risk_increase,
    ) == (5, 0.25, 1.0, 0.15)


@pytest.mark.parametrize(
    ("risk", "priority"), [(0.95, 1), (0.9, 1), (0.8, 2), (0.6, 3), (0.55, 3), (0.2, 4)]
)
def test_priority_follows_the_risk_cuts(risk, priority):
    assert CasePolicy().priority_for(risk) == priority == Case.Priority(priority)


def test_evidence_grows_materially_by_accounts_exchanges_or_risk():
    policy = CasePolicy()
    same = {
        "accounts_before": 10,
        "new_accounts": 0,
        "exchanges_before": 1000,
        "exchanges_now": 1000,
        "risk_before": 0.7,
        "risk_now": 0.7,
    }
    assert not policy.evidence_grown(**same)
    assert not policy.evidence_grown(**{**same, "new_accounts": 4})
    assert policy.evidence_grown(**{**same, "new_accounts": 5})
    # At 40 accounts, five new ones are not a quarter more.
    assert not policy.evidence_grown(**{**same, "accounts_before": 40, "new_accounts": 5})
    assert policy.evidence_grown(**{**same, "accounts_before": 40, "new_accounts": 10})
    assert not policy.evidence_grown(**{**same, "exchanges_now": 1999})
    assert policy.evidence_grown(**{**same, "exchanges_now": 2000})
    assert not policy.evidence_grown(**{**same, "risk_now": 0.84})
    assert policy.evidence_grown(**{**same, "risk_now": 0.86})


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"priority_risk_cuts": [0.9, 0.75]}, "three numbers"),
        ({"priority_risk_cuts": [0.5, 0.75, 0.9]}, "must go down"),
        ({"priority_risk_cuts": [1.5, 0.75, 0.5]}, "three numbers in [0, 1]"),
        ({"reopen_min_new_accounts": 0}, "reopen_min_new_accounts"),
        ({"reopen_min_new_accounts": 2.5}, "reopen_min_new_accounts"),
        ({"reopen_account_growth": -0.1}, "reopen_account_growth"),
        ({"reopen_exchange_growth": 0}, "reopen_exchange_growth"),
        ({"reopen_risk_increase": True}, "reopen_risk_increase"),
        ({"reopen_risk_increase": 1.5}, "reopen_risk_increase"),
        ({"reopen_after_days": 3}, "unknown case policy setting(s): reopen_after_days"),
    ],
)
def test_a_bad_policy_is_refused_with_its_reason(values, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        CasePolicy.from_dict(values)


def test_the_settings_override_the_defaults(settings):
    settings.CASE_POLICY = {"reopen_min_new_accounts": 3, "priority_risk_cuts": [0.8, 0.6, 0.4]}
    policy = case_policy()
    assert policy.reopen_min_new_accounts == 3
    assert policy.priority_risk_cuts == (0.8, 0.6, 0.4)
    assert policy.reopen_risk_increase == 0.15
    settings.CASE_POLICY = {"reopen_risk_increase": -1}
    with pytest.raises(ImproperlyConfigured, match="CASE_POLICY: reopen_risk_increase"):
        case_policy()


def test_a_bad_policy_setting_stops_the_process_at_start_up(settings):
    settings.CASE_POLICY = {"priority_risk_cuts": [0.5, 0.6, 0.7]}
    with pytest.raises(ImproperlyConfigured, match="must go down"):
        apps.get_app_config("cases").ready()


def _campaign_subject(campaign, accounts, *, risk=0.8, exchanges=500) -> FlaggedSubject:
    return FlaggedSubject(
        key=f"campaign:{campaign.pk}",
        kind=Case.Kind.CAMPAIGN,
        title=f"{campaign.label}: {len(accounts)} linked accounts",
        risk=risk,
        accounts={a.pk: risk for a in accounts},
        exchanges=exchanges,
        explanation={"summary": "shared proxies", "signals": []},
        campaign_id=campaign.pk,
    )


@pytest.mark.django_db
def test_plain_subjects_open_one_case_each_with_accounts_and_an_evidence_request():
    run = DetectionRunFactory()
    campaign = CampaignFactory()
    members = AccountFactory.create_batch(3)
    lone = AccountFactory()
    subjects = [
        _campaign_subject(campaign, members),
        FlaggedSubject(
            key=f"account:{lone.account_id}",
            kind=Case.Kind.ACCOUNT,
            title=f"Account {lone.account_id}",
            risk=0.95,
            accounts={lone.pk: 0.95},
            exchanges=100,
            explanation={"summary": "templated prompts", "signals": []},
        ),
    ]
    result = cases_open_for_subjects(subjects=subjects, run=RunRef(id=run.pk, exchanges=2000))
    assert result.as_dict() == {"opened": 2, "updated": 0, "reopened": 0, "unchanged": 0}
    case = Case.objects.get(subject_key=f"campaign:{campaign.pk}")
    assert (case.campaign, case.last_run, case.status) == (campaign, run, Case.Status.NEW)
    assert case.priority == Case.Priority.HIGH and case.due_at == case.sla_due()
    assert (case.account_count, case.exchange_count, case.traffic_share) == (3, 500, 0.25)
    assert set(case.case_accounts.values_list("account_id", flat=True)) == {a.pk for a in members}
    single = Case.objects.get(kind=Case.Kind.ACCOUNT)
    assert single.priority == Case.Priority.CRITICAL and single.campaign is None
    assert EvidenceSnapshot.objects.count() == 2
    assert AuditEvent.objects.filter(verb="case.opened", data__run=run.pk).count() == 2


@pytest.mark.django_db
def test_the_policy_given_decides_priority_and_reopening():
    campaign = CampaignFactory()
    members = AccountFactory.create_batch(4)
    strict = CasePolicy(priority_risk_cuts=(0.99, 0.95, 0.9), reopen_min_new_accounts=1)
    first = DetectionRunFactory()
    cases_open_for_subjects(
        subjects=[_campaign_subject(campaign, members[:3])],
        run=RunRef(id=first.pk, exchanges=1000),
        policy=strict,
    )
    case = Case.objects.get()
    assert case.priority == Case.Priority.LOW  # 0.8 is under every cut of this policy
    case_change_status(
        case=case,
        to=Case.Status.DISMISSED,
        reason="benign",
        resolution=Case.Resolution.FALSE_POSITIVE,
        system=True,
    )
    second = DetectionRunFactory()
    subject = _campaign_subject(campaign, members)  # one new account
    run = RunRef(id=second.pk, exchanges=1000)
    assert cases_open_for_subjects(subjects=[subject], run=run).reopened == []  # needs five
    result = cases_open_for_subjects(subjects=[subject], run=run, policy=strict)
    case.refresh_from_db()
    assert result.reopened == [case.pk] and case.status == Case.Status.INVESTIGATING
    assert CaseAccount.objects.filter(case=case).count() == 4


@pytest.mark.django_db
def test_a_late_sync_of_an_older_run_never_rolls_a_case_back():
    campaign = CampaignFactory()
    members = AccountFactory.create_batch(5)
    older, newer = DetectionRunFactory(), DetectionRunFactory()
    cases_open_for_subjects(
        subjects=[_campaign_subject(campaign, members, risk=0.9)],
        run=RunRef(id=newer.pk, exchanges=1000),
    )
    events = AuditEvent.objects.count()
    result = cases_open_for_subjects(
        subjects=[_campaign_subject(campaign, members[:2], risk=0.6)],
        run=RunRef(id=older.pk, exchanges=1000),
    )
    case = Case.objects.get()
    assert result.as_dict() == {"opened": 0, "updated": 0, "reopened": 0, "unchanged": 1}
    assert (case.last_run, case.account_count, case.risk_score) == (newer, 5, 0.9)
    assert AuditEvent.objects.count() == events
