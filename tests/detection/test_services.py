"""Detection runs against the database: the synchronous path, the task path, campaign identity."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from detection import services
from detection.hooks import run_succeeded
from detection.models import AccountScore, Campaign, DetectionChunk, DetectionRun, Exchange
from detection.tasks import (
    detection_chunk_task,
    detection_finalise_task,
    detection_run_task,
    detection_scheduled_run_task,
)
from tests.detection.cohorts import START, Cohort

pytestmark = pytest.mark.django_db


def _flagged_labels(run, cohort):
    rows = AccountScore.objects.filter(run=run, flagged=True).values_list(
        "account__account_id", flat=True
    )
    return sorted({cohort.labels[a] for a in rows})


def _run(**kwargs):
    run = services.detection_run_create(**kwargs)
    return services.detection_run_execute(run=run)


def test_run_flags_the_fleet_as_one_campaign_and_no_look_alike():
    cohort = Cohort().everyone()
    cohort.save()
    run = _run()
    assert run.status == DetectionRun.Status.SUCCEEDED
    assert run.config.version == 1
    assert _flagged_labels(run, cohort) == ["fleet"]
    campaign = Campaign.objects.get(is_active=True)
    members = AccountScore.objects.filter(run=run, campaign=campaign)
    assert {cohort.labels[a] for a in members.values_list("account__account_id", flat=True)} == {
        "fleet"
    }
    assert members.count() == 12
    assert run.counts["flagged"] == 12 and run.counts["campaigns"] == 1
    assert run.progress == 100 and run.stage == "done"
    assert {"ip", "activity"} <= set(campaign.evidence["links"])
    assert "reasoning_elicitation" in campaign.evidence["signature"]
    score = members.first()
    assert score.signals[0]["reason"]
    assert score.signals[0]["contribution"] >= score.signals[-1]["contribution"]


def test_campaign_keeps_its_identity_when_the_fleet_grows():
    cohort = Cohort(seed=2)
    cohort.fleet(n=10)
    cohort.ordinary(20)
    cohort.save()
    first = _run()
    campaign = Campaign.objects.get(is_active=True)
    assert campaign.first_run == first and campaign.member_count == 10

    more = Cohort(seed=3)
    more.fleet(n=14, name="fleet")  # the same proxies, client and templates: the fleet grows
    for row in more.accounts:
        row["account_id"] = "late-" + row["account_id"]
    for row in more.exchanges:
        row["account_id"] = "late-" + row["account_id"]
        row["exchange_id"] = "late-" + row["exchange_id"]
    # Let the newcomers work the same shifts as the original fleet.
    old_times = list(Exchange.objects.order_by("pk").values_list("ts", flat=True)[:1200])
    for row, ts in zip(more.exchanges, old_times * 2, strict=False):
        row["ts"] = ts
    more.save()
    second = _run()
    assert Campaign.objects.filter(is_active=True).count() == 1
    campaign.refresh_from_db()
    assert campaign.last_run == second and campaign.first_run == first
    assert campaign.member_count == 24


def test_campaign_that_disappears_is_marked_inactive():
    cohort = Cohort(seed=4)
    cohort.fleet(n=8)
    cohort.ordinary(10)
    cohort.save()
    _run()
    assert Campaign.objects.filter(is_active=True).count() == 1
    Exchange.objects.filter(account__account_id__startswith="fleet").delete()
    _run()
    assert Campaign.objects.filter(is_active=True).count() == 0


def test_empty_database_gives_an_empty_successful_run():
    run = _run()
    assert run.status == DetectionRun.Status.SUCCEEDED
    assert run.counts["scored"] == 0 and run.window_start is None


@pytest.fixture
def enqueued(monkeypatch):
    """Record what the detection tasks enqueue instead of sending it to the broker."""
    calls = []
    for task in (detection_run_task, detection_chunk_task, detection_finalise_task):
        monkeypatch.setattr(
            task, "delay_on_commit", lambda *args, _name=task.name: calls.append((_name, args))
        )
    return calls


def test_task_path_fans_out_in_chunks_and_finalises_once(enqueued):
    cohort = Cohort(seed=5)
    cohort.fleet(n=8)
    cohort.ordinary(30)
    cohort.save()
    from detection.config import DetectionParams, config_new_version, current_config

    current_config()
    config_new_version(params=DetectionParams(chunk_size=10), reason="small chunks")
    run = services.detection_run_create()
    assert run.config.version == 2
    detection_run_task(run.pk)
    assert [name for name, _ in enqueued] == [detection_chunk_task.name] * 4  # 38 accounts / 10
    chunk_args = [args for _, args in enqueued]
    enqueued.clear()
    for args in chunk_args[:-1]:
        detection_chunk_task(*args)
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.RUNNING and run.chunks_done == 3
    assert 5 < run.progress < 100
    assert enqueued == []  # nothing waits: finalise is enqueued only by the last chunk
    detection_chunk_task(*chunk_args[0])  # a redelivered chunk counts once
    run.refresh_from_db()
    assert run.chunks_done == 3 and enqueued == []
    detection_chunk_task(*chunk_args[-1])
    assert enqueued == [(detection_finalise_task.name, (run.pk,))]
    detection_finalise_task(run.pk)
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.SUCCEEDED
    assert run.counts["flagged"] == 8 and run.chunks_done == run.chunks_total == 4
    # Finalising again (a redelivered task) changes nothing.
    detection_finalise_task(run.pk)
    assert AccountScore.objects.filter(run=run).count() == 38
    assert Campaign.objects.count() == 1


def test_run_task_with_nothing_to_compute_goes_straight_to_finalise(enqueued):
    run = services.detection_run_create()
    detection_run_task(run.pk)
    assert enqueued == [(detection_finalise_task.name, (run.pk,))]


def test_embedded_default_runs_the_same_tasks_in_process(django_capture_on_commit_callbacks):
    """With no broker Celery runs tasks eagerly: the fan-out path must finish on its own."""
    from dashboard.celery import app

    cohort = Cohort(seed=6)
    cohort.fleet(n=6)
    cohort.ordinary(5)
    cohort.save()
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = services.detection_run_start()
    finally:
        app.conf.task_always_eager = False
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.SUCCEEDED
    assert DetectionChunk.objects.filter(run=run, status="done").count() == run.chunks_total
    assert run.counts["flagged"] == 6


def test_start_enqueues_the_run_task_by_name_after_commit(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        detection_run_task, "apply_async", lambda args, kwargs, **o: sent.append(args)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        run = services.detection_run_start()
    assert run.status == DetectionRun.Status.QUEUED and sent == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert sent == [(run.pk,)]


def test_the_schedule_skips_while_a_run_is_in_flight(monkeypatch):
    started = []
    monkeypatch.setattr(
        services, "detection_run_start", lambda **kw: started.append(kw) or DetectionRun(pk=7)
    )
    assert detection_scheduled_run_task() == 7
    running = services.detection_run_create()
    DetectionRun.objects.filter(pk=running.pk).update(status=DetectionRun.Status.RUNNING)
    assert detection_scheduled_run_task() is None  # one in flight: skip
    # A run stuck for longer than STALE_AFTER lost its worker; it holds nothing back.
    DetectionRun.objects.filter(pk=running.pk).update(
        created_at=timezone.now() - services.STALE_AFTER - timedelta(minutes=1)
    )
    assert detection_scheduled_run_task() == 7
    assert len(started) == 2


def test_a_succeeded_background_run_sends_the_hook_with_the_run():
    cohort = Cohort(seed=9)
    cohort.ordinary(4)
    cohort.save()
    heard = []

    def listener(sender, run, **kwargs):
        heard.append((sender, run.pk, run.status))

    run = services.detection_run_create()
    run_succeeded.connect(listener, sender=DetectionRun)
    try:
        for index in services.detection_run_prepare(run_id=run.pk):
            detection_chunk_task(run.pk, index)
        detection_finalise_task(run.pk)
    finally:
        run_succeeded.disconnect(listener, sender=DetectionRun)
    assert heard == [(DetectionRun, run.pk, DetectionRun.Status.SUCCEEDED)]


def test_a_failing_chunk_fails_the_run_with_its_message(monkeypatch):
    cohort = Cohort(seed=7)
    cohort.ordinary(3)
    cohort.save()
    run = services.detection_run_create()
    [index] = services.detection_run_prepare(run_id=run.pk)

    def boom(*args, **kwargs):
        raise ValueError("bad frame")

    monkeypatch.setattr(services.feat, "chunk_features", boom)
    with pytest.raises(ValueError):
        detection_chunk_task(run.pk, index)
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.FAILED
    assert "bad frame" in run.error


def test_window_is_the_days_before_the_newest_exchange():
    cohort = Cohort(seed=8)
    cohort.ordinary(3)
    cohort.save()
    newest = max(e["ts"] for e in cohort.exchanges)
    run = _run()
    assert run.window_end > newest >= run.window_start
    assert run.window_end - run.window_start == timedelta(days=30, microseconds=1)
    assert run.window_start > START - timedelta(days=30)


def test_chunk_loader_reads_every_field_as_stored():
    from django.db import connection

    cohort = Cohort(seed=81)
    cohort.fleet(n=3, per_account=20)
    cohort.ordinary(3)
    cohort.exchanges[0].update(user_agent="", prompt='quote " comma, new\nline', asn=None)
    cohort.save()
    first, last = START - timedelta(days=1), START + timedelta(days=40)
    frame = services.load_exchanges(0, 10**9, first, last).sort("ts", "account")
    assert frame.schema == services.feat.EXCHANGE_SCHEMA
    columns = "account_id, ts, {}, asn, user_agent, model, prompt, prompt_hash, input_tokens, "
    columns += "output_tokens, tool_use"
    ip = "host(ip)" if connection.vendor == "postgresql" else "ip"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns.format(ip)} FROM detection_exchange")  # noqa: S608
        rows = sorted(cursor.fetchall(), key=lambda r: (r[1], r[0]))
    if connection.vendor == "sqlite":
        # SQLite hands back the stored UTC times without their zone; the loader gives UTC.
        rows = [(r[0], r[1].replace(tzinfo=UTC), *r[2:]) for r in rows]
    assert frame.rows() == rows
    assert frame.filter(frame["prompt"].str.contains("comma"))["user_agent"].to_list() == [""]


def test_one_exchange_dated_2099_changes_nothing_about_the_campaigns_a_run_finds():
    cohort = Cohort(seed=5)
    cohort.fleet(n=10)
    cohort.ordinary(20)
    pks = cohort.save()
    first = _run()
    flagged = set(AccountScore.objects.filter(run=first, flagged=True).values_list("account_id"))
    active = {
        c.pk: set(c.scores.filter(run=first).values_list("account_id"))
        for c in Campaign.objects.filter(is_active=True)
    }
    assert active and flagged

    # One exchange of an ordinary account, dated 2099 (the future, whatever today is).
    ordinary = next(a for a, label in cohort.labels.items() if label == "ordinary")
    far = Exchange.objects.filter(account_id=pks[ordinary]).first()
    far.pk, far.exchange_id = None, "from-2099"
    far.ts = far.ts.replace(year=2099)
    far.save()
    second = _run()

    assert second.window_end == first.window_end
    assert second.counts["quarantined"] == 1
    assert second.counts["scored"] == first.counts["scored"]
    assert (
        set(AccountScore.objects.filter(run=second, flagged=True).values_list("account_id"))
        == flagged
    )
    assert {
        c.pk: set(c.scores.filter(run=second).values_list("account_id"))
        for c in Campaign.objects.filter(is_active=True)
    } == active


def _estimated_exchanges() -> float:
    """The planner's row count of the exchange partitions (from their last ANALYZE)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(greatest(c.reltuples, 0)) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'detection_exchange'::regclass"
        )
        return float(cursor.fetchone()[0] or 0)


def test_a_run_refreshes_the_planner_statistics_of_what_it_reads():
    """Just after a bulk load the planner would take the exchanges for the empty table they
    were at the last ANALYZE (and read the window through the account index, row by row)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    from detection.partitions import is_partitioned

    if not is_partitioned():
        pytest.skip("the exchanges are not partitioned here")
    cohort = Cohort(seed=9)
    cohort.fleet(n=6, per_account=30)
    cohort.ordinary(10)
    cohort.save()
    stored = Exchange.objects.count()
    assert _estimated_exchanges() != stored
    run = services.detection_run_create()
    services.detection_run_prepare(run_id=run.pk)
    assert _estimated_exchanges() == stored
