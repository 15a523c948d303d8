"""A draft in shadow over time: one comparison per scheduled run, its figures against the
labels equal to a hand computation, charted and linked to the accounts behind them."""

import pytest
from django.urls import reverse

from cases.labels.models import Outcome, Source
from cases.labels.selectors import shadow_history
from cases.labels.services import labels_record
from detection.backtest import config_shadow, shadow_start
from detection.config import DetectionParams, config_new_version, config_publish
from detection.models import (
    AccountScore,
    Backtest,
    BacktestAccount,
    DetectionChunk,
    DetectionRun,
)
from detection.services import detection_run_create, detection_run_execute
from detection.tasks import (
    backtest_task,
    detection_chunk_task,
    detection_finalise_task,
    detection_run_task,
    detection_scheduled_run_task,
)
from tests.dashboard.test_backtest import _label, _pk, world  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def shadowed(world, admin_user):  # noqa: F811
    """Two scheduled runs with the draft (the defaults) in shadow: the first under a version
    that flags nothing, the second under one that already flags like the draft.

    Labels: fleet accounts 0-2 confirmed, fleet account 3 legitimate (a mistake the draft
    pays for), an ordinary account confirmed, a benchmark runner legitimate, a campus
    account unsure."""
    _label(world, admin_user)
    labels_record(
        account_ids=[_pk(world["fleet"][3])],
        outcome=Outcome.LEGITIMATE,
        reason_code="legitimate-lookalike",
        source=Source.CASE_CLOSED,
        by=admin_user,
    )
    config_shadow(config=world["draft"], days=7)
    first = detection_run_execute(run=detection_run_create())
    shadow_start(run=first)
    loud = config_new_version(params=DetectionParams(), reason="flag like the draft")
    second = detection_run_execute(run=detection_run_create())
    shadow_start(run=second)
    shadows = list(Backtest.objects.filter(run__isnull=False).order_by("run_id"))
    for shadow in shadows:
        assert backtest_task(shadow.pk) == Backtest.Status.SUCCEEDED
    return {**world, "runs": [first, second], "loud": loud, "shadows": shadows}


def _figures(evaluation):
    return (
        evaluation.true_positives,
        evaluation.false_positives,
        evaluation.false_negatives,
        evaluation.true_negatives,
        evaluation.unsure,
    )


def test_shadow_figures_per_run_equal_a_hand_computation(shadowed):
    history = shadow_history(shadowed["draft"])
    assert [p["run"] for p in history] == shadowed["runs"]
    first, second = history
    assert first["backtest"].baseline == shadowed["strict"]
    assert second["backtest"].baseline == shadowed["loud"]
    # Run 1, in force flags nothing: the four confirmed (fleet 0-2, the ordinary account) are
    # missed, the two legitimate (fleet 3, the runner) correctly left alone; one unsure.
    assert _figures(first["base"]) == (0, 0, 4, 2, 1)
    assert first["base"].precision is None and first["base"].recall == 0
    # The draft flags the twelve fleet accounts: fleet 0-2 right, fleet 3 wrong, the ordinary
    # account missed, the runner left alone. Precision 3/4, recall 3/4.
    assert _figures(first["draft"]) == (3, 1, 1, 1, 1)
    assert first["draft"].precision == pytest.approx(0.75)
    assert first["draft"].recall == pytest.approx(0.75)
    assert first["draft"].unlabelled_flagged == 8
    assert first["backtest"].counts["newly_flagged"] == 12
    assert first["backtest"].counts["no_longer_flagged"] == 0
    assert first["backtest"].counts["new_campaigns"] == 1
    # Run 2, in force already flags what the draft does: the same figures on both sides,
    # and nothing changes.
    assert _figures(second["base"]) == _figures(second["draft"]) == (3, 1, 1, 1, 1)
    assert second["backtest"].counts["newly_flagged"] == 0
    assert second["backtest"].counts["no_longer_flagged"] == 0
    assert second["backtest"].counts["new_campaigns"] == 0


def test_the_shadow_page_tables_charts_and_links_each_run(
    shadowed, admin_client_, django_assert_max_num_queries
):
    url = reverse("admin:detection_backtest_shadow", args=[shadowed["draft"].pk])
    with django_assert_max_num_queries(12):
        response = admin_client_.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    first, second = shadowed["shadows"]
    first_url = reverse("admin:detection_backtest_change", args=[first.pk])
    second_url = reverse("admin:detection_backtest_change", args=[second.pk])
    # Every figure links to the comparison, or to the accounts it counts.
    assert f'href="{first_url}#list-new">12</a>' in body
    assert f'href="{second_url}#list-new">0</a>' in body
    assert (
        f'href="{first_url}?figure=draft-fp#list-behind" title="flagged and legitimate">1</a>'
        in body
    )
    assert (
        f'href="{first_url}?figure=base-fn#list-behind" title="confirmed and not flagged">4</a>'
        in body
    )
    for run in shadowed["runs"]:
        assert reverse("admin:detection_detectionrun_change", args=[run.pk]) in body
    # The trend chart: one point per run for each version's precision and recall.
    figure = response.context["chart"]["figure"]
    lines = {t["name"]: t for t in figure["data"] if t["type"] == "scatter"}
    assert lines["precision draft"]["y"] == [0.75, 0.75]
    assert lines["precision in force"]["y"] == [None, 0.75]
    assert lines["recall in force"]["y"] == [0, 0.75]
    assert lines["precision draft"]["customdata"] == [first_url, second_url]
    runs = [run.pk for run in shadowed["runs"]]
    assert [x.rsplit("· ", 1)[1] for x in lines["precision draft"]["x"]] == [
        f"run {pk}" for pk in runs
    ]
    bars = {t["name"]: t["y"] for t in figure["data"] if t["type"] == "bar"}
    assert bars == {"newly flagged": [12, 0], "no longer flagged": [0, 0]}
    assert 'data-chart="chart-shadow-data"' in body and 'id="chart-shadow-data"' in body


def test_a_figure_opens_the_accounts_it_counts(shadowed, admin_client_):
    first = shadowed["shadows"][0]
    url = reverse("admin:detection_backtest_change", args=[first.pk])
    body = admin_client_.get(url + "?figure=draft-fp").content.decode()
    assert "Flagged and legitimate, under the draft (1)" in body
    assert reverse("accounts:account_detail", args=[shadowed["fleet"][3]]) in body
    body = admin_client_.get(url + "?figure=base-fn").content.decode()
    assert "Confirmed and missed, under the version in force (4)" in body
    # The shadow page of the draft is linked from each of its comparisons.
    assert reverse("admin:detection_backtest_shadow", args=[shadowed["draft"].pk]) in body
    # An unknown figure is ignored, not an error.
    response = admin_client_.get(url + "?figure=draft-xx")
    assert response.status_code == 200 and 'id="list-behind"' not in response.content.decode()


def test_a_draft_with_no_shadowed_run_says_so(world, admin_client_):  # noqa: F811
    url = reverse("admin:detection_backtest_shadow", args=[world["draft"].pk])
    response = admin_client_.get(url)
    assert response.status_code == 200
    assert "No scheduled run has been shadowed yet" in response.content.decode()
    assert response.context["chart"] is None


def test_the_shadow_page_is_for_admins(world, analyst_client, manager_client):  # noqa: F811
    url = reverse("admin:detection_backtest_shadow", args=[world["draft"].pk])
    for client in (analyst_client, manager_client):
        assert client.get(url).status_code in (302, 403)


def _scheduled_run() -> DetectionRun:
    """Beat's run, its tasks called in turn as the workers would (no worker here)."""
    run_id = detection_scheduled_run_task()
    detection_run_task(run_id)
    for index in DetectionChunk.objects.filter(run_id=run_id).values_list("index", flat=True):
        detection_chunk_task(run_id, index)
    detection_finalise_task(run_id)
    return DetectionRun.objects.get(pk=run_id)


def test_a_published_draft_flags_in_the_next_scheduled_run_what_its_shadow_said(
    world,  # noqa: F811
    admin_user,
):
    config_shadow(config=world["draft"], days=7)
    first = _scheduled_run()
    assert first.status == DetectionRun.Status.SUCCEEDED and first.config == world["strict"]
    assert not AccountScore.objects.filter(run=first, flagged=True).exists()
    shadow = Backtest.objects.get(run=first, config=world["draft"])
    assert backtest_task(shadow.pk) == Backtest.Status.SUCCEEDED
    rows = BacktestAccount.objects.filter(backtest=shadow)
    said = dict(rows.values_list("account_id", "draft_flagged"))
    risk = dict(rows.values_list("account_id", "draft_risk"))
    assert sum(said.values()) == 12

    config_publish(config=world["draft"], reason="the shadow week looked right", author=admin_user)
    second = _scheduled_run()
    assert second.config == world["draft"]
    assert (second.window_start, second.window_end) == (first.window_start, first.window_end)
    scores = AccountScore.objects.filter(run=second)
    assert dict(scores.values_list("account_id", "flagged")) == said
    assert dict(scores.values_list("account_id", "risk_score")) == pytest.approx(risk)
    # A published version is no draft: nothing shadows the second run.
    assert not Backtest.objects.filter(run=second).exists()
