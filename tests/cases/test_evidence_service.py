"""Requesting, collecting and retrying evidence snapshots."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from cases.evidence import services as service
from cases.evidence.figures import charts_of, figures_current
from cases.evidence.services import evidence_snapshot_collect, evidence_snapshot_request
from cases.evidence.tasks import EVIDENCE_MAX_RETRIES, evidence_snapshot_task
from cases.models import AuditEvent, EvidenceSnapshot
from tests.cases.test_evidence_fixtures import HOSTILE_MODEL, HOSTING_ASN, make_campaign

pytestmark = pytest.mark.django_db
S = EvidenceSnapshot.Status


@pytest.fixture
def enqueued(monkeypatch):
    """Snapshot ids the task was enqueued with (after commit)."""
    calls: list[int] = []
    monkeypatch.setattr(
        evidence_snapshot_task, "apply_async", lambda args, *_, **__: calls.append(*args)
    )
    return calls


def test_request_adds_a_pending_snapshot_and_enqueues_it_after_commit(
    analyst, enqueued, django_capture_on_commit_callbacks
):
    case, _, _ = make_campaign(2, days=1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        snapshot = evidence_snapshot_request(case=case, requested_by=analyst, reason="refresh")
    assert enqueued == []  # nothing is sent before the transaction commits
    for callback in callbacks:
        callback()
    assert enqueued == [snapshot.pk]
    assert snapshot.status == S.PENDING and snapshot.detection_run_id == case.last_run_id
    event = AuditEvent.objects.get(verb="evidence.requested")
    assert (event.actor, event.case_id, event.target_id) == (analyst, case.pk, str(snapshot.pk))


def test_a_second_request_while_one_waits_reuses_it(enqueued, django_capture_on_commit_callbacks):
    case, _, _ = make_campaign(2, days=1)
    with django_capture_on_commit_callbacks(execute=True):
        first = evidence_snapshot_request(case=case, reason="case_opened")
    with django_capture_on_commit_callbacks(execute=True):
        second = evidence_snapshot_request(case=case, reason="accounts_changed")
    assert first.pk == second.pk
    assert enqueued == [first.pk]
    assert EvidenceSnapshot.objects.filter(case=case).count() == 1


def test_collect_freezes_every_section_and_its_charts(django_assert_max_num_queries):
    case, _, _ = make_campaign(12)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")

    with django_assert_max_num_queries(80):
        assert evidence_snapshot_collect(snapshot.pk) == S.DONE

    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.progress, snapshot.stage) == (S.DONE, 100, "done")
    assert snapshot.account_count == 12 and snapshot.finished_at is not None
    assert snapshot.window_start == case.last_run.window_start
    items = {i.kind: i for i in snapshot.items.all()}
    assert set(items) == {
        "templates", "traffic", "infrastructure", "registrations", "accounts", "signals",
        "network",
    }  # fmt: skip

    templates = items["templates"].data
    top = templates["templates"][0]
    assert top["accounts"] == 12 and top["outside_accounts"] == 0
    assert len(top["samples"]) == 3
    assert all(len(s["text"]) <= 280 for s in top["samples"])
    # A template twelve accounts send is shown from three of them, in three wordings.
    assert len({s["account_id"] for s in top["samples"]}) == 3
    assert len({s["text"] for s in top["samples"]}) == 3

    infra = items["infrastructure"].data
    ip = next(i for i in infra["ips"] if i["value"] == "203.0.113.1")
    assert (ip["accounts"], ip["outside_accounts"], ip["asn"]) == (12, 1, HOSTING_ASN)
    card = infra["payment_fingerprints"][0]
    assert (card["value"], card["accounts"], card["outside_accounts"]) == ("card-abc", 12, 1)
    assert infra["asns"][0]["value"] == str(HOSTING_ASN)

    traffic = items["traffic"].data
    assert traffic["totals"]["exchanges"] == 12 * 10 * 6
    new_model = next(m for m in traffic["models"] if m["model"] == HOSTILE_MODEL)
    assert new_model["first_use"].startswith("2026-10-06T02:00")
    assert sum(traffic["exchanges_by_model"][HOSTILE_MODEL]) == 12 * 5 * 6

    registrations = items["registrations"].data
    assert registrations["bursts"][0]["count"] == 12
    assert registrations["plan_mix"] == {"free": 8, "pro": 4}

    signals = items["signals"].data
    reasoning = next(s for s in signals["signals"] if s["name"] == "reasoning_elicitation")
    assert (reasoning["accounts"], reasoning["mean"], reasoning["norm"]) == (12, 0.5, 0.03)
    assert reasoning["is_share"] is True

    drawn = {name for i in items.values() for name in charts_of(i.figures)}
    assert all(figures_current(i.figures) for i in items.values())
    assert drawn == {"network", "activity", "volume", "registrations", "shares"}
    assert snapshot.figures_bytes > 1000


def test_refreshing_adds_a_snapshot_and_keeps_the_old_one(enqueued):
    case, _, _ = make_campaign(3, days=2)
    old = EvidenceSnapshot.objects.create(case=case)
    evidence_snapshot_collect(old.pk)
    new = evidence_snapshot_request(case=case, reason="refresh")
    evidence_snapshot_collect(new.pk)

    assert new.pk != old.pk
    assert list(EvidenceSnapshot.objects.filter(case=case).values_list("status", flat=True)) == [
        S.DONE,
        S.DONE,
    ]
    assert EvidenceSnapshot.objects.get(pk=old.pk).items.count() == 7


def test_two_tasks_for_one_snapshot_collect_once():
    case, _, _ = make_campaign(3, days=2)
    snapshot = EvidenceSnapshot.objects.create(case=case)

    assert evidence_snapshot_task(snapshot.pk) == S.DONE
    assert evidence_snapshot_task(snapshot.pk) == "skipped"
    assert snapshot.items.count() == 7
    assert EvidenceSnapshot.objects.get(pk=snapshot.pk).attempts == 1


def test_a_task_skips_a_snapshot_another_worker_is_running():
    case, _, _ = make_campaign(2, days=1)
    snapshot = EvidenceSnapshot.objects.create(case=case)
    assert service._claim(snapshot.pk) is not None  # the other worker

    assert evidence_snapshot_task(snapshot.pk) == "skipped"
    assert EvidenceSnapshot.objects.get(pk=snapshot.pk).status == S.RUNNING
    assert not snapshot.items.exists()


def test_a_stalled_snapshot_is_taken_over_and_the_old_worker_cannot_write():
    case, _, _ = make_campaign(2, days=1)
    snapshot = EvidenceSnapshot.objects.create(case=case)
    old_token = service._claim(snapshot.pk)
    EvidenceSnapshot.objects.filter(pk=snapshot.pk).update(
        started_at=timezone.now() - timedelta(hours=2)
    )

    assert evidence_snapshot_task(snapshot.pk) == S.DONE
    service._fail(snapshot.pk, old_token, "the old worker woke up")  # too late: not its row

    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.error, snapshot.attempts) == (S.DONE, "", 2)


class Flaky:
    """A source that fails with a transient database error a number of times."""

    name = "flaky"
    failures = 0
    error: type[Exception] = OperationalError

    def collect(self, case_accounts, window):
        if Flaky.failures > 0:
            Flaky.failures -= 1
            raise Flaky.error("server closed the connection unexpectedly")
        return {"ok": {"accounts": len(case_accounts)}}


@pytest.fixture
def flaky(settings, monkeypatch):
    settings.EVIDENCE_SOURCES = [f"{__name__}.Flaky"]
    Flaky.error = OperationalError
    # apply() runs retries in-process; each retry re-applies with the app's propagate default.
    monkeypatch.setitem(evidence_snapshot_task.app.conf, "task_eager_propagates", False)
    return Flaky


def test_transient_errors_are_retried_until_it_works(flaky):
    flaky.failures = 2
    case, _, _ = make_campaign(2, days=1)
    snapshot = EvidenceSnapshot.objects.create(case=case)

    result = evidence_snapshot_task.apply(args=[snapshot.pk])

    assert result.get() == S.DONE
    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.attempts) == (S.DONE, 3)
    assert snapshot.items.get().data == {"accounts": 2}


def test_retries_are_bounded_and_the_last_error_is_recorded(flaky):
    flaky.failures = 100
    case, _, _ = make_campaign(2, days=1)
    snapshot = EvidenceSnapshot.objects.create(case=case)

    assert evidence_snapshot_task.apply(args=[snapshot.pk]).get() == S.FAILED

    snapshot.refresh_from_db()
    assert snapshot.status == S.FAILED
    assert snapshot.attempts == EVIDENCE_MAX_RETRIES + 1
    assert "OperationalError" in snapshot.error and "closed the connection" in snapshot.error


def test_other_errors_fail_at_once_without_retrying(flaky):
    flaky.failures = 1
    flaky.error = ValueError
    case, _, _ = make_campaign(2, days=1)
    snapshot = EvidenceSnapshot.objects.create(case=case)

    assert evidence_snapshot_task.apply(args=[snapshot.pk]).get() == S.FAILED

    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.attempts) == (S.FAILED, 1)
    assert snapshot.error.startswith("ValueError")


def test_a_transient_error_releases_the_snapshot_for_the_next_try(flaky):
    flaky.failures = 1
    case, _, _ = make_campaign(2, days=1)
    snapshot = EvidenceSnapshot.objects.create(case=case)

    with pytest.raises(service.TransientEvidenceError):
        evidence_snapshot_collect(snapshot.pk, final_attempt=False)
    snapshot.refresh_from_db()
    assert snapshot.status == S.PENDING and "OperationalError" in snapshot.error


def test_retry_requeues_a_failed_snapshot(analyst, enqueued, django_capture_on_commit_callbacks):
    case, _, _ = make_campaign(2, days=1)
    snapshot = EvidenceSnapshot.objects.create(case=case, status=S.FAILED, error="boom")
    with django_capture_on_commit_callbacks(execute=True):
        service.evidence_snapshot_retry(snapshot=snapshot, by=analyst)
    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.error) == (S.PENDING, "")
    assert enqueued == [snapshot.pk]
    assert AuditEvent.objects.filter(verb="evidence.retried", actor=analyst).exists()


def test_without_a_run_the_window_ends_at_the_newest_plausible_exchange():
    from cases.evidence.sources import CaseAccounts
    from tests.factories import AccountFactory, CaseFactory, ExchangeFactory

    account = AccountFactory()
    real = timezone.now() - timedelta(days=2)
    ExchangeFactory(account=account, ts=real)
    # Quarantined: one row dated far ahead must not carry the window away from the traffic.
    ExchangeFactory(account=account, ts=real.replace(year=2099))
    case = CaseFactory(last_run=None)
    window = service.window_for(case, CaseAccounts(case.pk, [account.pk], [account.account_id]))
    assert window.start <= real < window.end <= real + timedelta(seconds=1)
