"""Scores, explanations and flag decisions from plain arrays."""

import numpy as np

from detection.analysis import community_tie_kinds
from detection.config import DetectionParams
from detection.scoring import TIE_BITS, both_fleets, decide, explain, score, split_fleets, strength
from detection.signals import CONTENT, COORDINATION, VOLUME, Signal


def _signal(name, family, values):
    values = np.asarray(values, dtype=float)
    return Signal(name, family, values, np.zeros_like(values), "value {value:.2f} vs {norm:.2f}")


def test_strength_is_zero_below_threshold_then_ramps_to_one():
    s = strength(np.array([0.1, 0.25, 0.425, 0.6, 0.9]), 0.25, 0.6)
    assert s.tolist() == [0.0, 0.5, 0.75, 1.0, 1.0]


def test_risk_is_a_noisy_or_of_weighted_contributions():
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.0, 0.9, 0.9]),
        _signal("shared_payment", COORDINATION, [0, 0, 10]),
    ]
    result = score(signals, params)
    w1 = params.signals.reasoning_elicitation.weight
    w2 = params.signals.shared_payment.weight
    assert result.risk[0] == 0
    assert np.isclose(result.risk[1], w1)
    assert np.isclose(result.risk[2], 1 - (1 - w1) * (1 - w2))
    assert result.families.tolist() == [0, 1, 2]


def test_explanation_lists_contributing_signals_strongest_first():
    params = DetectionParams()
    signals = [
        _signal("round_the_clock", "rhythm", [0.99]),
        _signal("reasoning_elicitation", CONTENT, [0.9]),
        _signal("output_harvesting", VOLUME, [1.0]),  # under threshold: not listed
    ]
    rows = explain(score(signals, params), 0)
    assert [r["name"] for r in rows] == ["reasoning_elicitation", "round_the_clock"]
    assert rows[0]["reason"] == "value 0.90 vs 0.00"
    assert rows[0]["threshold"] == params.signals.reasoning_elicitation.threshold
    assert set(rows[0]) == {
        "name",
        "family",
        "value",
        "threshold",
        "norm",
        "contribution",
        "reason",
    }


def test_explanation_names_every_tie_beyond_the_strongest_signals():
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.9]),
        _signal("output_harvesting", VOLUME, [20.0]),
        _signal("shared_infrastructure", COORDINATION, [3]),
        _signal("round_the_clock", "rhythm", [0.99]),
    ]
    rows = explain(score(signals, params), 0, top=1)
    assert [r["name"] for r in rows] == ["reasoning_elicitation", "shared_infrastructure"]


def test_campaign_needs_size_risk_and_strong_shared_evidence():
    params = DetectionParams()
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


def test_a_community_whose_harvesters_are_mostly_untied_is_not_a_campaign():
    """Strangers Leiden put together on a few links between a few of them: most harvesters
    have no tie inside, so there is no fleet to be tied like, and no campaign."""
    params = DetectionParams()
    signals = [_signal("reasoning_elicitation", CONTENT, [0.9] * 4),
               _signal("shared_templates", COORDINATION, [0.9] * 4)]  # fmt: skip
    scores = score(signals, params)
    membership = np.array([0, 0, 0, 0])
    evidence = {0: {"ip", "template"}}
    tied = np.full(4, TIE_BITS["ip"])
    assert decide(scores, membership, evidence, params, None, tied).flagged.all()
    untied = np.array([TIE_BITS["ip"], 0, 0, 0])
    decision = decide(scores, membership, evidence, params, None, untied)
    assert not decision.flagged.any()
    assert decision.held == {0: "untied"}


def test_a_community_whose_members_span_too_few_organisations_names_members():
    """Four harvesters, half of them tied by an address: the community passes its tests, but
    only the two tied ones are members, and two organisations are no campaign."""
    params = DetectionParams()
    signals = [_signal("reasoning_elicitation", CONTENT, [0.9] * 4),
               _signal("shared_templates", COORDINATION, [0.9] * 4)]  # fmt: skip
    scores = score(signals, params)
    tied = np.array([TIE_BITS["ip"]] * 2 + [0, 0])
    decision = decide(scores, np.zeros(4, dtype=int), {0: {"ip", "template"}}, params, None, tied)
    assert params.campaign_min_accounts == 3
    assert not decision.flagged.any()
    assert decision.held == {0: "members"}


def test_each_community_that_is_no_campaign_names_the_test_it_failed():
    # Six communities of four harvesters, tied by addresses, each failing one test in the
    # order decide asks them; the last stands.
    params = DetectionParams()
    n = 24
    elicit = np.full(n, 0.9)
    elicit[16:20] = [0.9, 0.0, 0.0, 0.0]  # community 4: one of four organisations harvests
    signals = [_signal("reasoning_elicitation", CONTENT, elicit),
               _signal("shared_templates", COORDINATION, [0.9] * n)]  # fmt: skip
    scores = score(signals, params)
    membership = np.repeat(np.arange(6), 4)
    organisation = np.arange(n)
    organisation[0:4] = [0, 0, 1, 1]  # community 0: two organisations
    evidence = {c: {"ip", "template"} for c in range(6)}
    evidence[1] = {"template", "ua"}  # no address, card, shifts or start
    tied = np.full(n, TIE_BITS["ip"])
    tied[8:12] = [TIE_BITS["ip"], 0, 0, 0]  # community 2: most harvesters untied
    scores.risk[12:16] = params.member_threshold  # community 3: under the campaign threshold
    decision = decide(scores, membership, evidence, params, organisation, tied)
    assert decision.held == {0: "organisations", 1: "evidence", 2: "untied", 3: "risk",
                             4: "harvesting"}  # fmt: skip
    assert list(decision.campaigns) == [5]


def test_lone_account_needs_high_risk_from_several_families():
    params = DetectionParams()
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
    assert scores.risk[0] >= params.lone_threshold
    assert decision.flagged.tolist() == [True, False]


def test_shared_hours_tie_a_lone_account_only_beside_an_address_client_or_card():
    # Two labs running a public benchmark from their own cloud boxes on the days it came
    # out: reasoning prompts sent by other researchers too, busy, and active in the same hours
    # as other runners. Row 0's partners in those hours also share its client string; row
    # 1's share nothing with it: the same clock, which links no strangers.
    params = DetectionParams()
    sync = _signal("synchronised_activity", COORDINATION, [10, 10])
    sync.ties = np.array([True, False])
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.9, 0.9]),
        _signal("prompt_templating", CONTENT, [0.9, 0.9]),
        _signal("shared_templates", COORDINATION, [0.9, 0.9]),
        sync,
        _signal("output_harvesting", VOLUME, [20, 20]),
    ]
    scores = score(signals, params)
    assert scores.families.tolist() == [3, 3]
    assert scores.tied_families.tolist() == [3, 2]
    assert scores.tied.tolist() == [True, False]
    assert scores.risk[1] >= params.lone_threshold
    assert decide(scores, np.array([-1, -1]), {}, params).flagged.tolist() == [True, False]


def test_shared_network_without_harvesting_behaviour_is_not_a_campaign():
    # Strangers behind one VPN exit asking everyday questions: they share addresses, hosting
    # networks and popular prompts (coordination signals) but none of them harvests.
    params = DetectionParams()
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
    assert np.median(scores.risk[:4]) >= params.campaign_threshold  # risky enough alone
    assert decision.flagged.tolist() == [False] * 4 + [True] * 4
    assert list(decision.campaigns) == [1]
    # The share is configurable: with no behaviour required, the network would be flagged.
    lax = decide(scores, membership, {0: {"ip", "ua"}, 1: {"ip", "ua"}},
                 params.replace(campaign_min_behaviour_share=0.0))  # fmt: skip
    assert lax.flagged.all()


def test_member_without_harvesting_behaviour_needs_campaign_level_risk():
    # A fleet of harvesters, plus two strangers caught in its proxy pool: the one with only
    # coordination signals (shared exits, clients) rides below campaign_threshold and stays out.
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.9] * 5 + [0.0, 0.0]),
        _signal("shared_infrastructure", COORDINATION, [10] * 5 + [4, 15]),
        _signal("shared_templates", COORDINATION, [0.9] * 5 + [0.4, 0.9]),
        _signal("synchronised_activity", COORDINATION, [8] * 5 + [0, 8]),
    ]
    scores = score(signals, params)
    assert params.member_threshold <= scores.risk[5] < params.campaign_threshold
    assert scores.risk[6] >= params.campaign_threshold
    decision = decide(scores, np.zeros(7, dtype=int), {0: {"ip", "activity"}}, params)
    assert decision.flagged.tolist() == [True] * 5 + [False, True]


def _with_common(signals, common):
    """Signals as ``compute_all`` would leave them, with ``common`` (a lower quartile) set."""
    for sig in signals:
        sig.common = np.full(len(sig.value), common.get(sig.name, 0.0))
    return signals


def test_a_signal_three_quarters_of_accounts_show_is_no_evidence():
    # Everyday prompts that many strangers ask alike, a stock browser string: when three
    # quarters of all accounts reach the threshold, reaching it says nothing.
    params = DetectionParams()
    signals = _with_common(
        [
            _signal("shared_templates", COORDINATION, [0.96, 0.99, 0.0]),
            _signal("reasoning_elicitation", CONTENT, [0.9, 0.0, 0.0]),
        ],
        {"shared_templates": 0.9, "reasoning_elicitation": 0.0},
    )
    result = score(signals, params)
    assert result.contributions[:, 0].tolist() == [0.0, 0.0, 0.0]
    assert result.contributions[0, 1] > 0
    # Where the same sharing is rare, it counts.
    rare = score(_with_common(signals, {"shared_templates": 0.05}), params)
    assert rare.contributions[:2, 0].min() > 0


def test_lone_benchmark_runner_is_not_flagged_on_circumstantial_coordination():
    # A lab's benchmark key: reasoning-heavy, templated, high volume, from a cloud, sharing a
    # public benchmark's prompts with another lab and trying a new model the day it ships.
    # Its risk passes the lone bar, but nothing ties it to other accounts.
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [1.0, 1.0]),
        _signal("prompt_templating", CONTENT, [0.7, 0.7]),
        _signal("shared_templates", COORDINATION, [0.9, 0.9]),
        _signal("hosting_network", COORDINATION, [1.0, 1.0]),
        _signal("model_pivot", COORDINATION, [0.85, 0.85]),
        _signal("shared_payment", COORDINATION, [0, 6]),  # the second pays with a pooled card
        _signal("output_harvesting", VOLUME, [15.0, 15.0]),
    ]
    scores = score(signals, params)
    assert scores.risk.min() >= params.lone_threshold
    assert scores.families.tolist() == [3, 3]
    assert scores.tied_families.tolist() == [2, 3]
    decision = decide(scores, np.array([-1, -1]), {}, params)
    assert decision.flagged.tolist() == [False, True]


def test_a_campaign_is_counted_in_organisations_not_keys():
    # A lab's four keys (one organisation) and one stranger linked to them by an address:
    # however alike the keys behave, that is two customers, not a fleet of five.
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.9] * 4 + [0.0]),
        _signal("shared_infrastructure", COORDINATION, [10] * 5),
        _signal("output_harvesting", VOLUME, [15] * 4 + [1]),
    ]
    scores = score(signals, params)
    membership = np.zeros(5, dtype=int)
    kinds = {0: {"ip", "activity"}}
    lab = decide(scores, membership, kinds, params, organisation=np.array([7, 7, 7, 7, 8]))
    assert not lab.flagged.any() and not lab.campaigns
    strangers = decide(scores, membership, kinds, params, organisation=np.arange(5))
    assert strangers.flagged[:4].all()


def test_member_that_harvests_something_else_is_a_bystander():
    # A reasoning fleet and, in its community through one phone carrier's addresses, a
    # developer whose coding agent sends tool calls all day: risky enough on its own numbers,
    # but it does not do what the fleet does.
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.8] * 6 + [0.1]),
        _signal("capability_targeting", CONTENT, [0.2] * 6 + [0.95]),
        _signal("prompt_templating", CONTENT, [0.7] * 7),
        _signal("shared_infrastructure", COORDINATION, [8] * 6 + [6]),
        _signal("output_harvesting", VOLUME, [6] * 6 + [30]),
    ]
    scores = score(signals, params)
    assert scores.risk[6] >= params.campaign_threshold
    decision = decide(scores, np.zeros(7, dtype=int), {0: {"ip", "ua"}}, params)
    assert decision.flagged.tolist() == [True] * 6 + [False]
    assert decision.campaigns[0]["signature"] == ["reasoning_elicitation"]


def test_key_of_an_organisation_that_is_mostly_elsewhere_is_not_a_member():
    # One of a company's five integration keys exits through a cloud address a fleet also
    # rents; its four sibling keys are nowhere near the fleet.
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.8] * 6 + [0.3] + [0.3] * 4),
        _signal("shared_infrastructure", COORDINATION, [8] * 7 + [0] * 4),
    ]
    scores = score(signals, params)
    membership = np.array([0] * 7 + [-1] * 4)
    organisation = np.array([0, 1, 2, 3, 4, 5, 9, 9, 9, 9, 9])
    decision = decide(scores, membership, {0: {"ip", "ua"}}, params, organisation=organisation)
    assert scores.risk[6] >= params.member_threshold
    assert decision.flagged.tolist() == [True] * 6 + [False] * 5


def test_bystanders_do_not_dilute_the_campaign_median():
    # Six harvesters at 0.6 and six strangers on their proxy exits at 0.2: the campaign is
    # judged on its harvesters.
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.5] * 6 + [0.0] * 6),
        _signal("shared_infrastructure", COORDINATION, [8] * 6 + [3] * 6),
        _signal("output_harvesting", VOLUME, [6] * 6 + [1] * 6),
    ]
    scores = score(signals, params)
    assert np.median(scores.risk) < params.campaign_threshold
    decision = decide(scores, np.zeros(12, dtype=int), {0: {"ip", "ua"}}, params)
    assert decision.flagged.tolist() == [True] * 6 + [False] * 6


def test_two_fleets_in_one_community_are_two_campaigns():
    # A reasoning fleet and a capability fleet that rent the same proxy exits land in one
    # community; each is a campaign of its own, with its own signature.
    params = DetectionParams()
    reasoning, capability = 7, 4
    n = reasoning + capability
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.8] * reasoning + [0.1] * capability),
        _signal("capability_targeting", CONTENT, [0.1] * reasoning + [0.95] * capability),
        _signal("prompt_templating", CONTENT, [0.7] * n),
        _signal("shared_infrastructure", COORDINATION, [8] * n),
        _signal("output_harvesting", VOLUME, [6] * reasoning + [30] * capability),
    ]
    scores = score(signals, params)
    tied = np.full(n, TIE_BITS["ip"])
    membership, parent = split_fleets(scores, np.zeros(n, dtype=int), np.arange(n), 3)
    assert membership.tolist() == [0] * reasoning + [1] * capability
    evidence = {0: {"ip", "ua"}, 1: {"ip", "payment", "ua"}}
    decision = decide(scores, membership, evidence, params, None, tied, parent=parent)
    members = {c["signature"][0]: c["members"].tolist() for c in decision.campaigns.values()}
    assert members == {
        "reasoning_elicitation": list(range(reasoning)),
        "capability_targeting": list(range(reasoning, n)),
    }
    assert decision.flagged.all()
    # Customers of the proxy network whose only ties ran to the first fleet: once they are a
    # community of their own they have no tie inside it, and are no campaign.
    untied = tied.copy()
    untied[reasoning:] = 0
    decision = decide(scores, membership, evidence, params, None, untied, parent=parent)
    assert list(decision.campaigns) == [0]
    # Nor are those who meet on a few of its exits and share nothing else: a second fleet
    # needs two strong kinds of evidence among its own accounts.
    exits_only = {0: {"ip", "ua"}, 1: {"ip", "ua"}}
    decision = decide(scores, membership, exits_only, params, None, tied, parent=parent)
    assert list(decision.campaigns) == [0]
    # Two accounts that harvest something else are of too few organisations to be a fleet:
    # bystanders of the one campaign, as before.
    few, parent = split_fleets(
        scores, np.array([0] * (reasoning + 2) + [-1] * (capability - 2)), np.arange(n), 3
    )
    assert few.tolist() == [0] * (reasoning + 2) + [-1] * (capability - 2)
    decision = decide(scores, few, {0: {"ip", "ua"}}, params, None, tied, parent=parent)
    assert list(decision.campaigns) == [0]
    assert decision.flagged.tolist() == [True] * reasoning + [False] * capability


def test_a_community_tied_and_working_its_own_harness_needs_less_risk():
    # An agentic fleet's harvesting scores lower than a reasoning fleet's: a median between
    # the corroborated and the plain campaign threshold makes a campaign only when most of
    # its harvesters are both tied (co-action, a card) and work the community's own
    # templates. An address is not enough for it: freelancers at one coworking space share
    # its address, and their everyday phrasing passes for templates of their own.
    params = DetectionParams()
    signals = [
        _signal("capability_targeting", CONTENT, [0.8] * 5),
        _signal("prompt_templating", CONTENT, [0.7] * 5),
        _signal("shared_infrastructure", COORDINATION, [3] * 5),
        _signal("output_harvesting", VOLUME, [6] * 5),
    ]
    scores = score(signals, params)
    median = float(np.median(scores.risk))
    assert params.corroborated_campaign_threshold <= median < params.campaign_threshold
    membership, evidence = np.zeros(5, dtype=int), {0: {"ip", "ua"}}
    tied = np.full(5, TIE_BITS["ip"])
    assert not decide(scores, membership, evidence, params, None, tied).flagged.any()
    office = tied | TIE_BITS["template"]
    decision = decide(scores, membership, evidence, params, None, office)
    assert not decision.flagged.any()
    assert decision.held == {0: "risk"}
    for tie in ("coaction", "payment"):
        harness = office | TIE_BITS[tie]
        assert decide(scores, membership, evidence, params, None, harness).flagged.all()


def test_look_alikes_tied_only_to_one_another_inside_a_fleets_community_are_no_members():
    # Rows 0-5 a fleet on shared exits; rows 6-8 regulars of one coworking space whose
    # address Leiden put in the fleet's community, tied to one another by it, harvesting a
    # little; row 9 as quiet as they are but on two of the fleet's own exits. A tie counts
    # when it reaches an account whose risk could carry a campaign.
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.9] * 6 + [0.3] * 4),
        _signal("shared_infrastructure", COORDINATION, [3] * 10),
        _signal("output_harvesting", VOLUME, [6] * 6 + [0] * 4),
    ]
    scores = score(signals, params)
    assert scores.behaviour.all()
    quiet = scores.risk[6:]
    assert (params.member_threshold <= quiet).all()
    assert (quiet < params.corroborated_campaign_threshold).all()
    tie_a = np.array([0, 1, 2, 3, 4, 5, 6, 7, 6, 9, 9])
    tie_b = np.array([1, 2, 3, 4, 5, 0, 7, 8, 8, 0, 1])
    bits = np.full(len(tie_a), TIE_BITS["ip"])
    membership, evidence = np.zeros(10, dtype=int), {0: {"ip", "ua"}}
    carried = scores.risk >= params.corroborated_campaign_threshold
    tied = community_tie_kinds(membership, tie_a, tie_b, bits, carried, params)
    assert tied.tolist() == [TIE_BITS["ip"]] * 6 + [0, 0, 0, TIE_BITS["ip"]]
    decision = decide(scores, membership, evidence, params, None, tied)
    assert decision.flagged.tolist() == [True] * 6 + [False] * 3 + [True]
    assert decision.left_out == {6: "untied", 7: "untied", 8: "untied"}
    # Counting every tie inside the community, the coworkers would be members.
    everyone = np.ones(10, dtype=bool)
    tied = community_tie_kinds(membership, tie_a, tie_b, bits, everyone, params)
    assert decide(scores, membership, evidence, params, None, tied).flagged.all()


def test_a_quiet_account_that_works_the_campaigns_own_templates_is_its_member():
    # Rows 0-3 harvest; rows 4 and 5 have too few requests for a share signal (no harvesting
    # signal of their own) and a risk between the member and the campaign threshold from
    # their ties. Row 4 sends the community's own templates beside the addresses: the fleet's
    # work, so the member threshold is its bar. Row 5, on the same exits asking its own
    # questions, is neither tied like the members nor at the campaign threshold.
    params = DetectionParams()
    signals = [
        _signal("reasoning_elicitation", CONTENT, [0.9] * 4 + [0.0, 0.0]),
        _signal("shared_infrastructure", COORDINATION, [3] * 6),
        _signal("shared_templates", COORDINATION, [0.9] * 6),
    ]
    scores = score(signals, params)
    assert not scores.behaviour[4:].any()
    assert params.member_threshold <= scores.risk[4] == scores.risk[5] < params.campaign_threshold
    membership, evidence = np.zeros(6, dtype=int), {0: {"ip", "ua"}}
    tied = np.full(6, TIE_BITS["ip"] | TIE_BITS["template"])
    tied[5] = TIE_BITS["ip"]
    decision = decide(scores, membership, evidence, params, None, tied)
    assert decision.flagged.tolist() == [True] * 5 + [False]
    assert decision.left_out == {5: "untied"}


def test_working_the_harness_beside_any_other_tie_is_tied_like_the_members():
    # Most of the fleet is tied by starting together and works its harness. Row 4 works the
    # harness and shares a card with the fleet, but did not start with it: tied like the
    # members. Row 5 shares the card and asks its own questions; row 6 works the harness
    # and has no other tie: neither is.
    params = DetectionParams()
    signals = [_signal("reasoning_elicitation", CONTENT, [0.9] * 7),
               _signal("shared_templates", COORDINATION, [0.9] * 7)]  # fmt: skip
    scores = score(signals, params)
    start, harness, card = TIE_BITS["start"], TIE_BITS["template"], TIE_BITS["payment"]
    tied = np.array([start | harness] * 4 + [card | harness, card, harness])
    decision = decide(scores, np.zeros(7, dtype=int), {0: {"start", "ip"}}, params, None, tied)
    assert decision.flagged.tolist() == [True] * 5 + [False, False]
    assert decision.left_out == {5: "untied", 6: "untied"}


def test_each_account_of_a_campaigns_community_left_out_names_the_test_it_failed():
    # Rows 0-3 are the campaign. Row 4 behaves like them, but its organisation's other two
    # keys (rows 6 and 7) are outside the community; row 5 is on the same exits with no
    # signal of its own.
    params = DetectionParams()
    signals = [_signal("reasoning_elicitation", CONTENT, [0.9] * 5 + [0.0] * 3),
               _signal("shared_templates", COORDINATION, [0.9] * 5 + [0.0] * 3)]  # fmt: skip
    scores = score(signals, params)
    membership = np.array([0] * 6 + [-1, -1])
    organisation = np.array([0, 1, 2, 3, 10, 5, 10, 10])
    tied = np.array([TIE_BITS["ip"]] * 6 + [0, 0])
    decision = decide(scores, membership, {0: {"ip", "ua"}}, params, organisation, tied)
    assert decision.flagged.tolist() == [True] * 4 + [False] * 4
    assert decision.left_out == {4: "organisation", 5: "risk"}


def test_a_community_cut_in_two_is_two_campaigns_only_when_both_stand():
    # Community 0 held two fleets; the cut made rows 4-6 community 9. Decided whole it was
    # one campaign; cut, the second part is a campaign but the first is not (a mixed fleet
    # whose capability-only accounts were cut from its reasoning ones): the whole stands.
    from detection.scoring import Decision

    whole = np.array([0] * 7 + [-1])
    cut = np.array([0] * 4 + [9] * 3 + [-1])
    members = np.arange(7)
    one = Decision(np.array([True] * 7 + [False]), np.array([0] * 7 + [-1]),
                   {0: {"members": members}})  # fmt: skip
    half = Decision(np.array([False] * 4 + [True] * 3 + [False]),
                    np.array([-1] * 4 + [9] * 3 + [-1]),
                    {9: {"members": np.arange(4, 7)}})  # fmt: skip
    kept = both_fleets(one, half, whole, cut)
    assert list(kept.campaigns) == [0]
    assert kept.campaign_of.tolist() == [0] * 7 + [-1]
    two = Decision(np.array([True] * 7 + [False]), np.array([0] * 4 + [9] * 3 + [-1]),
                   {0: {"members": np.arange(4)}, 9: {"members": np.arange(4, 7)}})  # fmt: skip
    both = both_fleets(one, two, whole, cut)
    assert sorted(both.campaigns) == [0, 9]
    assert both.campaign_of.tolist() == [0] * 4 + [9] * 3 + [-1]


def test_customers_on_a_proxy_networks_exits_are_no_members_of_the_fleets_on_it():
    # Two fleets that rent one proxy network's exits are one community with customers of
    # the network who run the same popular agent (their harness reads as templated,
    # capability-seeking work): rows 0-4 are tied by the exits and their own harness, rows
    # 5-9 by the exits and their shifts, rows 10-13 (customers) only by the exits. No second
    # kind of tie is held by half the harvesters; the fleets' accounts are tied two ways, and
    # so must a member be.
    params = DetectionParams()
    n = 14
    signals = [
        _signal("capability_targeting", CONTENT, [0.9] * n),
        _signal("prompt_templating", CONTENT, [0.7] * n),
        _signal("shared_infrastructure", COORDINATION, [8] * n),
        _signal("output_harvesting", VOLUME, [30] * n),
    ]
    scores = score(signals, params)
    ip, template, activity = TIE_BITS["ip"], TIE_BITS["template"], TIE_BITS["activity"]
    tied = np.array([ip | template] * 5 + [ip | activity] * 5 + [ip] * 4)
    membership, evidence = np.zeros(n, dtype=int), {0: {"ip", "activity", "ua"}}
    decision = decide(scores, membership, evidence, params, None, tied)
    assert decision.flagged.tolist() == [True] * 10 + [False] * 4
    assert decision.campaigns[0]["ties"] == ip
    # The customers outnumber the fleet: the fleet is still the campaign, without them.
    outnumbered = np.array([ip | template] * 4 + [ip] * 10)
    decision = decide(scores, membership, evidence, params, None, outnumbered)
    assert decision.flagged.tolist() == [True] * 4 + [False] * 10
    # Fewer accounts tied two ways than make a campaign (a fleet on exits of its own, two of
    # whose accounts also share a card): the addresses are what a member needs.
    card = TIE_BITS["payment"]
    few = np.array([ip | card] * (params.campaign_min_accounts - 1) + [ip] * 12)
    assert decide(scores, membership, evidence, params, None, few).flagged.all()
