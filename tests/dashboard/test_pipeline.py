"""From detection runs to cases: idempotent, respectful of analysts' work, reopening rules."""

import pytest

from cases.models import AuditEvent, Case, CaseAccount, EvidenceSnapshot
from cases.policy import CasePolicy
from cases.services.workflow import case_change_status
from dashboard.pipeline import cases_sync
from detection.config import DetectionParams
from detection.models import Exchange
from detection.services import detection_run_create, detection_run_execute
from tests.detection.cohorts import Cohort

pytestmark = pytest.mark.django_db


def detection_run_now():
    """What the ``detect`` command does: a run in this process, then its cases."""
    run = detection_run_execute(run=detection_run_create())
    return run, cases_sync(run=run)


@pytest.fixture
def world():
    cohort = Cohort(seed=11)
    cohort.fleet(n=10)
    cohort.benchmark_runner()
    cohort.ordinary(20)
    cohort.save()
    return cohort


def _grow_fleet(seed: int, n: int) -> None:
    """Newcomers with the fleet's proxies, client, templates and shifts."""
    more = Cohort(seed=seed)
    more.fleet(n=n)
    times = list(
        Exchange.objects.filter(account__account_id__startswith="fleet")
        .order_by("pk")
        .values_list("ts", flat=True)
    )
    for row in more.accounts:
        row["account_id"] = f"s{seed}-" + row["account_id"]
        row["payment_fingerprint"] = "card-" + row["account_id"]
    for k, row in enumerate(more.exchanges):
        row["account_id"] = f"s{seed}-" + row["account_id"]
        row["exchange_id"] = f"s{seed}-" + row["exchange_id"]
        row["ts"] = times[k % len(times)]
    more.save()


def test_a_run_opens_one_case_per_campaign_with_its_accounts_and_evidence_request(world):
    run, result = detection_run_now()
    assert result.as_dict()["opened"] == 1
    case = Case.objects.get()
    assert case.kind == Case.Kind.CAMPAIGN and case.subject_key == f"campaign:{case.campaign_id}"
    assert case.account_count == 10 == case.case_accounts.count()
    assert case.last_run == run and case.status == Case.Status.NEW
    assert case.priority == CasePolicy().priority_for(case.risk_score)
    assert case.due_at == case.sla_due()
    assert 0 < case.traffic_share < 1
    names = [s["name"] for s in case.explanation["signals"]]
    assert "reasoning_elicitation" in names and case.explanation["summary"]
    assert AuditEvent.objects.filter(verb="case.opened", case=case, actor=None).count() == 1
    assert EvidenceSnapshot.objects.filter(case=case).count() == 1


def test_syncing_twice_and_running_again_creates_nothing_new(world):
    run, _ = detection_run_now()
    events = AuditEvent.objects.count()
    again = cases_sync(run=run)
    assert again.opened == [] and again.updated == []
    second, result = detection_run_now()
    assert result.opened == [] and result.updated == [] and result.reopened == []
    assert Case.objects.count() == 1 and CaseAccount.objects.count() == 10
    assert AuditEvent.objects.count() == events
    assert Case.objects.get().last_run == second


def test_analyst_work_is_never_overwritten(world, analyst):
    detection_run_now()
    case = Case.objects.get()
    case_change_status(case=case, to=Case.Status.INVESTIGATING, by=analyst)
    Case.objects.filter(pk=case.pk).update(priority=Case.Priority.LOW, assignee=analyst)
    removed = case.case_accounts.first()
    removed.removed_at, removed.removed_by, removed.removed_reason = (
        removed.added_at,
        analyst,
        "their own company",
    )
    removed.save()
    _grow_fleet(seed=12, n=4)
    _, result = detection_run_now()
    case.refresh_from_db()
    assert result.updated == [case.pk]
    assert case.status == Case.Status.INVESTIGATING
    assert case.priority == Case.Priority.LOW and case.assignee == analyst
    assert case.account_count == 14
    removed.refresh_from_db()
    assert removed.removed_at is not None  # not added back
    assert case.case_accounts.filter(removed_at=None).count() == 13
    assert AuditEvent.objects.filter(verb="case.detection_updated", case=case).count() == 1


def test_dismissed_case_stays_closed_unless_evidence_grows_materially(world, analyst):
    detection_run_now()
    case = Case.objects.get()
    case_change_status(
        case=case,
        to=Case.Status.DISMISSED,
        by=analyst,
        resolution=Case.Resolution.FALSE_POSITIVE,
        reason="looks fine",
    )
    _grow_fleet(seed=13, n=2)  # 2 new accounts: below reopen_min_new_accounts (5)
    _, result = detection_run_now()
    case.refresh_from_db()
    assert result.reopened == [] and case.status == Case.Status.DISMISSED
    assert case.account_count == 10  # the figures at the decision stay for comparison
    _grow_fleet(seed=14, n=6)
    _, result = detection_run_now()
    case.refresh_from_db()
    assert result.reopened == [case.pk]
    assert case.status == Case.Status.INVESTIGATING
    assert case.account_count == 18
    reopened = AuditEvent.objects.get(verb="case.reopened", case=case)
    assert reopened.actor is None and "evidence grew" in reopened.data["reason"]
    assert Case.objects.count() == 1


def test_departed_members_are_marked_not_deleted(world):
    detection_run_now()
    case = Case.objects.get()
    gone = case.case_accounts.first().account
    Exchange.objects.filter(account=gone).delete()
    detection_run_now()
    row = CaseAccount.objects.get(case=case, account=gone)
    assert row.detection_dropped_at is not None and row.removed_at is None
    case.refresh_from_db()
    assert case.account_count == 9


def test_lone_high_risk_account_gets_its_own_case():
    cohort = Cohort(seed=15)
    cohort.ordinary(30)
    cohort.benchmark_runner()  # busy, templated, reasoning-heavy: flagged under low lone bars
    cohort.save()
    run = detection_run_create()
    run.config.params = (
        DetectionParams()
        .replace(lone_threshold=0.3, lone_min_families=1, lone_needs_tie=False)
        .to_stored()
    )
    run.config.save()
    run = detection_run_execute(run=run)
    result = cases_sync(run=run)
    assert result.opened
    case = Case.objects.filter(kind=Case.Kind.ACCOUNT).first()
    assert case.subject_key.startswith("account:benchmark-")
    assert case.case_accounts.count() == 1


def test_failed_or_unfinished_run_opens_nothing():
    run = detection_run_create()
    assert cases_sync(run=run).as_dict()["opened"] == 0
