"""Scores, explanations and flag decisions from plain arrays."""

import numpy as np

from detection.config import effective_params
from detection.scoring import decide, explain, score, strength
from detection.signals import CONTENT, COORDINATION, VOLUME, Signal


def _signal(name, family, values):
    values = np.asarray(values, dtype=float)
    return Signal(name, family, values, np.zeros_like(values), "value {value:.2f} vs {norm:.2f}")


def test_strength_is_zero_below_threshold_then_ramps_to_one():
    s = strength(np.array([0.1, 0.25, 0.425, 0.6, 0.9]), 0.25, 0.6)
    assert s.tolist() == [0.0, 0.5, 0.75, 1.0, 1.0]


def test_risk_is_a_noisy_or_of_weighted_contributions():
    params = effective_params({})
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.0, 0.9, 0.9]),
        _signal("shared_payment", COORDINATION, [0, 0, 10]),
    ]
    result = score(signals, params)
    w1 = params["signals"]["reasoning_elicitation"]["weight"]
    w2 = params["signals"]["shared_payment"]["weight"]
    assert result.risk[0] == 0
    assert np.isclose(result.risk[1], w1)
    assert np.isclose(result.risk[2], 1 - (1 - w1) * (1 - w2))
    assert result.families.tolist() == [0, 1, 2]


def test_explanation_lists_contributing_signals_strongest_first():
    params = effective_params({})
    signals = [
        _signal("round_the_clock", "rhythm", [0.99]),
        _signal("reasoning_elicitation", CONTENT, [0.9]),
        _signal("output_harvesting", VOLUME, [1.0]),  # under threshold: not listed
    ]
    rows = explain(score(signals, params), 0)
    assert [r["name"] for r in rows] == ["reasoning_elicitation", "round_the_clock"]
    assert rows[0]["reason"] == "value 0.90 vs 0.00"
    assert rows[0]["threshold"] == params["signals"]["reasoning_elicitation"]["threshold"]
    assert set(rows[0]) == {
        "name",
        "family",
        "value",
        "threshold",
        "norm",
        "contribution",
        "reason",
    }


def test_campaign_needs_size_risk_and_strong_shared_evidence():
    params = effective_params({})
    signals = [_signal("reasoning_elicitation", CONTENT, [0.9] * 6),
               _signal("shared_templates", COORDINATION, [0.9] * 6)]  # fmt: skip
    scores = score(signals, params)
    membership = np.array([0, 0, 0, 1, 1, 1])
    decision = decide(scores, membership, {0: {"ip", "template"}, 1: {"template", "ua"}}, params)
    # Community 1 shares only templates and a client string: honest strangers do that too.
    assert decision.flagged.tolist() == [True, True, True, False, False, False]
    assert list(decision.campaigns) == [0]
    small = decide(scores, np.array([0, 0, -1, -1, -1, -1]), {0: {"ip", "payment"}}, params)
    assert not small.flagged.any()  # two accounts are not a campaign


def test_lone_account_needs_high_risk_from_several_families():
    params = effective_params({})
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.9, 0.9]),
        _signal("prompt_templating", CONTENT, [0.9, 0.9]),
        _signal("shared_payment", COORDINATION, [10, 0]),
        _signal("synchronised_activity", COORDINATION, [10, 0]),
        _signal("output_harvesting", VOLUME, [20, 0]),
        _signal("round_the_clock", "rhythm", [0.99, 0.99]),
    ]
    scores = score(signals, params)
    decision = decide(scores, np.array([-1, -1]), {}, params)
    assert scores.risk[0] >= params["lone_threshold"]
    assert decision.flagged.tolist() == [True, False]


def test_shared_network_without_harvesting_behaviour_is_not_a_campaign():
    # Strangers behind one VPN exit asking everyday questions: they share addresses, hosting
    # networks and popular prompts (coordination signals) but none of them harvests.
    params = effective_params({})
    signals = [
        _signal("shared_templates", COORDINATION, [0.9] * 8),
        _signal("shared_infrastructure", COORDINATION, [10] * 8),
        _signal("hosting_network", COORDINATION, [1.0] * 8),
        _signal("reasoning_elicitation", CONTENT, [0.0] * 4 + [0.9] * 4),
    ]
    scores = score(signals, params)
    assert scores.behaviour.tolist() == [False] * 4 + [True] * 4
    membership = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    decision = decide(scores, membership, {0: {"ip", "ua"}, 1: {"ip", "ua"}}, params)
    assert np.median(scores.risk[:4]) >= params["campaign_threshold"]  # risky enough alone
    assert decision.flagged.tolist() == [False] * 4 + [True] * 4
    assert list(decision.campaigns) == [1]
    # The share is configurable: with no behaviour required, the network would be flagged.
    lax = decide(scores, membership, {0: {"ip", "ua"}, 1: {"ip", "ua"}},
                 {**params, "campaign_min_behaviour_share": 0.0})  # fmt: skip
    assert lax.flagged.all()


def test_member_without_harvesting_behaviour_needs_campaign_level_risk():
    # A fleet of harvesters, plus two strangers caught in its proxy pool: the one with only
    # coordination signals (shared exits, clients) rides below campaign_threshold and stays out.
    params = effective_params({})
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.9] * 5 + [0.0, 0.0]),
        _signal("shared_infrastructure", COORDINATION, [10] * 5 + [4, 15]),
        _signal("shared_templates", COORDINATION, [0.9] * 5 + [0.4, 0.9]),
        _signal("synchronised_activity", COORDINATION, [8] * 5 + [0, 8]),
    ]
    scores = score(signals, params)
    assert params["member_threshold"] <= scores.risk[5] < params["campaign_threshold"]
    assert scores.risk[6] >= params["campaign_threshold"]
    decision = decide(scores, np.zeros(7, dtype=int), {0: {"ip", "activity"}}, params)
    assert decision.flagged.tolist() == [True] * 5 + [False, True]
