"""Co-action, popularity weighting and membership by signature, on hand-made cohorts.

A popular agent's customers share its harness prompt and stay quiet; a fleet behind a proxy
network that ordinary customers also use is found by acting together, whole, as one campaign,
and the customers on its exits are not in it.
"""

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from detection.analysis import analyse
from detection.config import DetectionParams
from detection.features import chunk_features
from detection.scoring import TIE_BITS, Decision, join_by_signature, score
from detection.signals import Signal
from tests.detection.cohorts import DAYS, START, Cohort


def _analyse(cohort: Cohort, params: DetectionParams | None = None):
    params = params or DetectionParams()
    accounts, exchanges = cohort.to_frames()
    chunk = chunk_features(exchanges, params)
    analysis = analyse(
        features=chunk.features,
        links=chunk.links,
        models=chunk.models,
        accounts=accounts,
        window_start=START,
        window_end=START + timedelta(days=DAYS),
        params=params,
    )
    labels = np.array([cohort.labels[a] for a in analysis.frame["account_id"].to_list()])
    return analysis, labels


@pytest.fixture(scope="module")
def world():
    cohort = Cohort(seed=41)
    cohort.harness_users(30)
    cohort.hydra(n=12, customers=12)
    cohort.fleet(n=8)
    cohort.ordinary(60)
    return _analyse(cohort)


def _signal(analysis, name):
    return next(s for s in analysis.scores.signals if s.name == name)


def test_a_popular_harness_template_weighs_next_to_nothing(world):
    analysis, labels = world
    shared = _signal(analysis, "shared_templates")
    threshold = DetectionParams().signals.shared_templates.threshold
    harness = labels == "harness"
    # Every one of them shares its prompts with dozens of strangers...
    assert (analysis.frame["template_payers"].to_numpy()[harness] > 20).all()
    # ...and that counts for little: thirty independent payers send the same harness.
    assert (shared.value[harness] < threshold).all()
    # Without the weighting, the very same sharing would read as coordination.
    unweighted, _ = _analyse_again(popular_payers=1000)
    assert (_signal(unweighted, "shared_templates").value[harness] >= threshold).all()


def _analyse_again(**changes):
    cohort = Cohort(seed=41)
    cohort.harness_users(30)
    cohort.hydra(n=12, customers=12)
    cohort.fleet(n=8)
    cohort.ordinary(60)
    return _analyse(cohort, DetectionParams().replace(**changes))


def test_coaction_links_the_proxy_fleet_and_nobody_else(world):
    analysis, labels = world
    ids = analysis.frame["account"].to_list()
    label_of = dict(zip(ids, labels.tolist(), strict=True))
    pairs = analysis.coaction
    kinds = {(label_of[a], label_of[b]) for a, b in pairs.select("a", "b").iter_rows()}
    assert kinds <= {("hydra", "hydra"), ("fleet", "fleet")}
    hydra = [a for a in ids if label_of[a] == "hydra"]
    # Each member acts with most of the fleet, on several days, from the same exits.
    partners = _signal(analysis, "coaction").value[labels == "hydra"]
    assert (partners >= len(hydra) // 2).all()
    inside = pairs.filter(pl.col("a").is_in(hydra) & pl.col("b").is_in(hydra))
    assert inside["days"].min() >= DetectionParams().coaction_min_days
    assert inside["exit_overlap"].min() > 0.05
    # The always-on harness users are busy together all day, but no more than chance.
    assert not (_signal(analysis, "coaction").value[labels == "harness"] > 0).any()


def test_the_proxy_fleet_is_one_campaign_and_its_exits_customers_are_not_in_it(world):
    analysis, labels = world
    decision = analysis.decision
    hydra = labels == "hydra"
    assert decision.flagged[hydra].all()
    assert len(set(decision.campaign_of[hydra].tolist())) == 1
    for bystander in ("proxy_customer", "harness", "ordinary"):
        assert not decision.flagged[labels == bystander].any(), bystander
    campaign = decision.campaigns[int(decision.campaign_of[hydra][0])]
    assert campaign["ties"] & TIE_BITS["coaction"]


def test_a_flag_explains_the_ties_and_what_a_look_alike_lacks(world):
    from detection.analysis import campaign_evidence
    from detection.scoring import explain

    analysis, labels = world
    decision = analysis.decision
    row = int(np.flatnonzero(labels == "hydra")[0])
    reasons = {s["name"]: s["reason"] for s in explain(analysis.scores, row)}
    assert "same exits" in reasons["coaction"] and "popular tool" in reasons["coaction"]
    members = decision.campaigns[int(decision.campaign_of[row])]["members"]
    summary = campaign_evidence(analysis, members)["summary"]
    assert "acting together" in summary and "each at their own hours" in summary
    # Its groups are organisations, company domains or lone accounts: never "organisations"
    # alone, which a case beside it showing none declared would contradict.
    assert "unrelated organisations" not in summary
    assert (
        "no organisation or company domain in common" in summary
        or "unrelated owners (by organisation or company e-mail domain)" in summary
    )


def _scores(risk, reasoning, coding):
    """Scores of a few accounts with two target signals, for the membership rules alone."""
    n = len(risk)
    signals = [
        Signal("reasoning_elicitation", "content", np.array(reasoning, float), np.zeros(n), ""),
        Signal("capability_targeting", "content", np.array(coding, float), np.zeros(n), ""),
    ]
    scores = score(signals, DetectionParams())
    scores.risk = np.array(risk, dtype=float)
    return scores


def test_membership_follows_the_campaigns_signature_and_ties():
    # Rows 0-3 one campaign and 4-5 a splinter of it (both reasoning, tied by co-action);
    # 6 outside, reasoning, co-acting with three members; 7 outside, tied as much but a
    # coding agent (it harvests something else); 8 outside with one tie only.
    scores = _scores(
        risk=[0.9] * 6 + [0.6, 0.6, 0.6],
        reasoning=[0.9] * 6 + [0.8, 0.0, 0.8],
        coding=[0.0] * 7 + [0.95, 0.0],
    )
    campaign_of = np.array([0, 0, 0, 0, 1, 1, -1, -1, -1])
    ties = TIE_BITS["coaction"]
    campaigns = {
        0: {"members": np.arange(4), "evidence": ["coaction"], "signature": [], "ties": ties},
        1: {"members": np.array([4, 5]), "evidence": ["coaction"], "signature": [], "ties": ties},
    }
    for info in campaigns.values():
        info["signature"] = ["reasoning_elicitation"]
    decision = Decision(campaign_of >= 0, campaign_of, campaigns)
    a = np.array([4, 5, 4, 6, 6, 6, 7, 7, 7, 8])
    b = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 3])
    joined = join_by_signature(scores, decision, a, b, np.full(len(a), ties), DetectionParams())
    assert set(joined.campaigns) == {0}
    assert joined.campaign_of.tolist() == [0, 0, 0, 0, 0, 0, 0, -1, -1]
    assert joined.flagged.tolist() == [True] * 7 + [False, False]
