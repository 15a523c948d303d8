"""Backtests: a draft beside the version in force over a window, figures against labels,
publishing, and the next run flagging what the backtest said it would."""

import pytest
from django.urls import reverse

from cases.labels.evaluation import evaluate
from cases.labels.models import Outcome, Source
from cases.labels.selectors import backtest_evaluations
from cases.labels.services import labels_record
from detection.backtest import backtest_cancel, backtest_default_window, backtest_start
from detection.config import DetectionParams, config_new_version, config_publish, current_config
from detection.models import (
    Account,
    AccountScore,
    Backtest,
    BacktestAccount,
    BacktestCampaign,
    DetectionRun,
)
from detection.services import detection_run_create, detection_run_execute
from detection.tasks import backtest_task
from tests.detection.cohorts import Cohort

pytestmark = pytest.mark.django_db

# Nothing can be a campaign, and no lone account has enough to be flagged.
STRICT = {"campaign_min_accounts": 100000, "lone_threshold": 1.0}


def _pk(account_id: str) -> int:
    return Account.objects.get(account_id=account_id).pk


def test_evaluation_of_a_hand_made_example():
    flags = [(1, True), (2, True), (3, True), (4, False), (5, False), (6, True), (7, False)]
    labels = {1: "confirmed", 2: "confirmed", 3: "legitimate", 4: "confirmed", 5: "legitimate"}
    labels[7] = "unsure"
    result = evaluate(flags, labels)
    # Flagged 1, 2, 3, 6: two confirmed, one legitimate, one with no label.
    assert (result.true_positives, result.false_positives) == (2, 1)
    assert (result.false_negatives, result.true_negatives) == (1, 1)
    assert (result.unsure, result.unlabelled_flagged, result.flagged) == (1, 1, 4)
    assert result.precision == pytest.approx(2 / 3)
    assert result.recall == pytest.approx(2 / 3)
    assert evaluate([(1, False)], {}).precision is None


@pytest.fixture
def world(admin_user):
    cohort = Cohort().everyone()
    cohort.save()
    strict = config_new_version(
        params=DetectionParams(**STRICT), reason="flag nothing", author=admin_user
    )
    draft = config_new_version(
        params=DetectionParams(), reason="the defaults", author=admin_user, draft=True
    )
    fleet = sorted(a for a, label in cohort.labels.items() if label == "fleet")
    others = sorted(a for a, label in cohort.labels.items() if label != "fleet")
    return {"cohort": cohort, "strict": strict, "draft": draft, "fleet": fleet, "others": others}


def _label(world, admin_user):
    """Three fleet accounts confirmed, one left unlabelled; a benchmark runner legitimate,
    an ordinary account confirmed by mistake, one unsure."""
    fleet, others = world["fleet"], world["others"]
    runner = next(a for a in others if world["cohort"].labels[a] == "benchmark")
    ordinary = next(a for a in others if world["cohort"].labels[a] == "ordinary")
    unsure = next(a for a in others if world["cohort"].labels[a] == "campus")
    for ids, outcome, code in (
        (fleet[:3], Outcome.CONFIRMED, "shared-infrastructure"),
        ([ordinary], Outcome.CONFIRMED, "extraction-prompts"),
        ([runner], Outcome.LEGITIMATE, "legitimate-lookalike"),
        ([unsure], Outcome.UNSURE, "insufficient-evidence"),
    ):
        labels_record(
            account_ids=[_pk(a) for a in ids],
            outcome=outcome,
            reason_code=code,
            source=Source.CASE_CLOSED,
            by=admin_user,
        )


def _backtest(world, start, end, callbacks) -> Backtest:
    """Start a backtest (its task is enqueued by name after commit), then run the task."""
    with callbacks() as sent:
        backtest = backtest_start(config=world["draft"], window_start=start, window_end=end)
    assert len(sent) == 1
    assert backtest_task(backtest.pk) == Backtest.Status.SUCCEEDED
    backtest.refresh_from_db()
    return backtest


def test_backtest_figures_equal_a_hand_computed_comparison(
    world, admin_user, django_capture_on_commit_callbacks
):
    _label(world, admin_user)
    assert current_config() == world["strict"]
    start, end = backtest_default_window(world["draft"])
    backtest = _backtest(world, start, end, django_capture_on_commit_callbacks)
    backtest.refresh_from_db()
    assert backtest.status == Backtest.Status.SUCCEEDED, backtest.error
    assert backtest.baseline == world["strict"] and backtest.progress == 100
    # Under the version in force nothing is flagged; the draft flags the twelve fleet accounts.
    rows = BacktestAccount.objects.filter(backtest=backtest)
    assert rows.count() == len(world["cohort"].labels)
    assert not rows.filter(base_flagged=True).exists()
    newly = sorted(rows.newly_flagged().values_list("account__account_id", flat=True))
    assert newly == world["fleet"] and len(newly) == 12
    assert not rows.no_longer_flagged().exists()
    assert backtest.counts["newly_flagged"] == 12 and backtest.counts["no_longer_flagged"] == 0
    campaigns = BacktestCampaign.objects.filter(backtest=backtest)
    assert [(c.side, c.change, c.member_count) for c in campaigns] == [("draft", "new", 12)]
    # By hand: in force, nothing flagged: the four confirmed are missed, the runner is a true
    # negative; precision undefined, recall 0. The draft flags the three labelled fleet
    # accounts (true positives) and misses the ordinary account: precision 3/3, recall 3/4.
    base, draft = backtest_evaluations(backtest)
    assert (base.true_positives, base.false_positives, base.false_negatives) == (0, 0, 4)
    assert (base.true_negatives, base.unsure) == (1, 1)
    assert base.precision is None and base.recall == 0
    assert (draft.true_positives, draft.false_positives, draft.false_negatives) == (3, 0, 1)
    assert (draft.true_negatives, draft.unsure, draft.unlabelled_flagged) == (1, 1, 9)
    assert draft.precision == 1 and draft.recall == pytest.approx(0.75)
    # Nothing was persisted as detection's own results, and no case was opened.
    assert not AccountScore.objects.exists() and not DetectionRun.objects.exists()
    from cases.models import Case

    assert not Case.objects.exists()


def test_a_published_draft_flags_in_the_next_run_what_the_backtest_said(
    world, admin_user, django_capture_on_commit_callbacks
):
    before = detection_run_execute(run=detection_run_create())
    assert before.counts["flagged"] == 0
    start, end = backtest_default_window(world["draft"])
    backtest = _backtest(world, start, end, django_capture_on_commit_callbacks)
    predicted = dict(
        BacktestAccount.objects.filter(backtest=backtest).values_list("account_id", "draft_flagged")
    )
    risk = dict(
        BacktestAccount.objects.filter(backtest=backtest).values_list("account_id", "draft_risk")
    )
    with pytest.raises(ValueError, match="reason"):
        config_publish(config=world["draft"], reason=" ", author=admin_user)
    publication = config_publish(config=world["draft"], reason="backtested", author=admin_user)
    assert publication.previous == world["strict"] and current_config() == world["draft"]
    after = detection_run_execute(run=detection_run_create())
    assert after.config == world["draft"]
    flagged = dict(AccountScore.objects.filter(run=after).values_list("account_id", "flagged"))
    assert flagged == predicted and sum(flagged.values()) == 12
    scores = dict(AccountScore.objects.filter(run=after).values_list("account_id", "risk_score"))
    assert scores == pytest.approx(risk)
    # Restoring the earlier version is publishing it again, with a reason.
    config_publish(config=world["strict"], reason="too noisy after all", author=admin_user)
    assert current_config() == world["strict"]
    assert not world["draft"].__class__.objects.get(pk=world["draft"].pk).is_draft


def test_a_draft_that_changes_features_predicts_the_next_run_too(
    world, admin_user, django_capture_on_commit_callbacks
):
    """Its features are the base chunk's with the changed parts computed again: the run
    under it, computing everything afresh, must agree."""
    draft = config_new_version(
        params=DetectionParams(minhash_prompts_per_account=7, sync_bucket_minutes=15),
        reason="fewer prompts signed, longer buckets",
        author=admin_user,
        draft=True,
    )
    start, end = backtest_default_window(draft)
    backtest = _backtest({**world, "draft": draft}, start, end, django_capture_on_commit_callbacks)
    assert backtest.counts["recomputed_features"] == ["activity", "templates"]
    rows = BacktestAccount.objects.filter(backtest=backtest)
    predicted = dict(rows.values_list("account_id", "draft_flagged"))
    risk = dict(rows.values_list("account_id", "draft_risk"))
    assert sum(predicted.values()) > 0
    config_publish(config=draft, reason="backtested", author=admin_user)
    after = detection_run_execute(run=detection_run_create())
    assert after.config == draft
    scores = AccountScore.objects.filter(run=after)
    assert dict(scores.values_list("account_id", "flagged")) == predicted
    assert dict(scores.values_list("account_id", "risk_score")) == pytest.approx(risk)


def test_cancelling_a_queued_backtest_stops_it_before_it_starts(world):
    start, end = backtest_default_window()
    backtest = backtest_start(config=world["draft"], window_start=start, window_end=end)
    backtest_cancel(backtest=backtest)
    assert backtest.status == Backtest.Status.CANCELLED
    assert backtest_task(backtest.pk) == Backtest.Status.CANCELLED
    assert not BacktestAccount.objects.filter(backtest=backtest).exists()


def test_a_cancel_asked_while_running_stops_after_the_chunk(world, monkeypatch):
    from detection import backtest as module

    start, end = backtest_default_window()
    backtest = backtest_start(config=world["draft"], window_start=start, window_end=end)
    real = module.feat.chunk_features

    def cancel_during(ex, params):
        Backtest.objects.filter(pk=backtest.pk).update(cancel_requested=True)
        return real(ex, params)

    monkeypatch.setattr(module.feat, "chunk_features", cancel_during)
    assert backtest_task(backtest.pk) == Backtest.Status.CANCELLED
    assert not BacktestAccount.objects.filter(backtest=backtest).exists()


def test_the_comparison_page_lists_and_links_every_change(
    world, admin_user, admin_client_, django_capture_on_commit_callbacks
):
    _label(world, admin_user)
    start, end = backtest_default_window()
    backtest = _backtest(world, start, end, django_capture_on_commit_callbacks)
    url = reverse("admin:detection_backtest_change", args=[backtest.pk])
    page = admin_client_.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Accounts newly flagged (12)" in body and "Campaigns newly flagged (1)" in body
    for account_id in world["fleet"]:
        assert reverse("accounts:account_detail", args=[account_id]) in body
    assert "1.000" in body and "0.750" in body  # the draft's precision and recall
    # Paged: a page of five shows the count of all and a link to the next page.
    from dashboard.admin import BacktestAdmin

    BacktestAdmin.PER_PAGE = 5
    try:
        second = admin_client_.get(url + "?cnew=1&new=3").content.decode()
    finally:
        BacktestAdmin.PER_PAGE = 50
    assert "Accounts newly flagged (12)" in second and "Page 3 of 3" in second
    # The link back keeps the other lists where they were.
    assert 'href="?cnew=1&amp;new=2#list-new"' in second


def test_admin_starts_a_backtest_and_publishing_needs_a_reason(world, admin_client_):
    start_url = reverse("admin:detection_detectionconfig_backtest", args=[world["draft"].pk])
    assert admin_client_.get(start_url).status_code == 200
    bad = admin_client_.post(start_url, {"start": "2026-09-10 00:00", "end": "2026-09-01 00:00"})
    assert bad.status_code == 200 and "must end after it starts" in bad.content.decode()
    assert not Backtest.objects.exists()
    done = admin_client_.post(start_url, {"start": "2026-08-01 00:00", "end": "2026-10-01 00:00"})
    backtest = Backtest.objects.get()
    assert done.url == reverse("admin:detection_backtest_change", args=[backtest.pk])
    publish = reverse("admin:detection_detectionconfig_publish", args=[world["draft"].pk])
    missing = admin_client_.post(publish, {"reason": ""})
    assert missing.status_code == 200 and current_config() == world["strict"]
    admin_client_.post(publish, {"reason": "the backtest looked right"})
    assert current_config() == world["draft"]
    from cases.models import AuditEvent

    assert AuditEvent.objects.filter(target_type="detection.detectionconfig").exists()


def test_backtests_and_publishing_are_for_admins(world, analyst_client, manager_client):
    for client in (analyst_client, manager_client):
        url = reverse("admin:detection_detectionconfig_publish", args=[world["draft"].pk])
        assert client.post(url, {"reason": "x"}).status_code in (302, 403)
    assert current_config() == world["strict"]


def test_a_draft_in_shadow_is_compared_after_each_scheduled_run_until_its_period_ends(
    world, django_capture_on_commit_callbacks
):
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from detection.backtest import config_shadow
    from detection.tasks import detection_finalise_task

    with pytest.raises(ValidationError, match="only a draft"):
        config_shadow(config=world["strict"], days=7)
    config_shadow(config=world["draft"], days=7)
    run = detection_run_execute(run=detection_run_create())
    # The finalise task of a succeeded run (a redelivery here) queues the shadow comparison.
    with django_capture_on_commit_callbacks():
        detection_finalise_task(run.pk)
        detection_finalise_task(run.pk)  # at most one per run and draft
    shadow = Backtest.objects.get()
    assert shadow.run == run and shadow.baseline == run.config
    assert (shadow.window_start, shadow.window_end) == (run.window_start, run.window_end)
    assert backtest_task(shadow.pk) == Backtest.Status.SUCCEEDED
    shadow.refresh_from_db()
    assert shadow.counts["newly_flagged"] == 12
    from cases.models import Case

    assert not Case.objects.exists()
    # A second scheduled run adds a second comparison; past the period, none.
    second = detection_run_execute(run=detection_run_create())
    detection_finalise_task(second.pk)
    assert Backtest.objects.filter(run__isnull=False).count() == 2
    type(world["draft"]).objects.filter(pk=world["draft"].pk).update(shadow_until=timezone.now())
    third = detection_run_execute(run=detection_run_create())
    detection_finalise_task(third.pk)
    assert Backtest.objects.count() == 2


def test_admin_puts_a_draft_in_shadow_and_lists_its_comparisons(world, admin_client_):
    url = reverse("admin:detection_detectionconfig_shadow", args=[world["draft"].pk])
    assert admin_client_.post(url, {"days": "500"}).status_code == 200
    assert admin_client_.post(url, {"days": "10"}).status_code == 302
    world["draft"].refresh_from_db()
    assert world["draft"].shadow_until is not None
    page = admin_client_.get(
        reverse("admin:detection_detectionconfig_change", args=[world["draft"].pk])
    ).content.decode()
    assert "runs in shadow until" in page and "its comparisons" in page
    strict = reverse("admin:detection_detectionconfig_shadow", args=[world["strict"].pk])
    assert admin_client_.post(strict, {"days": "10"}).status_code == 404
