"""Each signal on hand-made cohorts: it fires on the behaviour and not on the look-alikes."""

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from detection.analysis import analyse
from detection.config import DetectionParams
from detection.features import chunk_features
from tests.detection.cohorts import ASKS, DAYS, START, Cohort


@pytest.fixture(scope="module")
def world():
    cohort = Cohort(seed=21).everyone()
    accounts, exchanges = cohort.to_frames()
    params = DetectionParams()
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
    signals = {s.name: s for s in analysis.scores.signals}
    return analysis, labels, signals


def values(world, name, label):
    _, labels, signals = world
    return signals[name].value[labels == label]


def fires(world, name, label):
    """Share of the cohort's accounts on which the signal is at or over its threshold."""
    threshold = DetectionParams().signals.spec(name).threshold
    return float((values(world, name, label) >= threshold).mean())


def test_reasoning_elicitation(world):
    assert fires(world, "reasoning_elicitation", "fleet") == 1
    assert fires(world, "reasoning_elicitation", "ordinary") == 0
    assert fires(world, "reasoning_elicitation", "campus") == 0


def test_capability_targeting(world):
    assert fires(world, "capability_targeting", "agent") == 1
    assert fires(world, "capability_targeting", "ordinary") == 0


def test_prompt_templating(world):
    assert fires(world, "prompt_templating", "fleet") == 1
    assert fires(world, "prompt_templating", "benchmark") == 1
    assert fires(world, "prompt_templating", "ordinary") == 0


def test_shared_templates_count_only_unrelated_accounts(world):
    assert fires(world, "shared_templates", "fleet") == 1
    # The company's keys share one template, but they are one organisation.
    assert fires(world, "shared_templates", "org") == 0
    assert fires(world, "shared_templates", "benchmark") == 0


def test_shared_infrastructure_ignores_hubs_and_one_organisation(world):
    assert fires(world, "shared_infrastructure", "fleet") == 1
    assert fires(world, "shared_infrastructure", "campus") == 0  # one NAT address = a hub
    assert fires(world, "shared_infrastructure", "org") == 0  # its own egress


def test_hosting_network(world):
    assert fires(world, "hosting_network", "fleet") == 1
    assert fires(world, "hosting_network", "vpn") == 1  # a look-alike: one family only
    assert fires(world, "hosting_network", "ordinary") == 0


def test_user_agent_reuse(world):
    assert fires(world, "user_agent_reuse", "fleet") == 1
    assert fires(world, "user_agent_reuse", "org") == 0
    assert fires(world, "user_agent_reuse", "ordinary") == 0  # a stock browser is a hub


def test_shared_payment_only_across_organisations(world):
    assert values(world, "shared_payment", "org").max() == 0
    assert values(world, "shared_payment", "team").max() == 2  # friends: counted, but alone
    assert fires(world, "shared_payment", "ordinary") == 0


def test_a_burst_counts_other_organisations_registrations_in_the_window_whatever_the_sizes():
    from detection.signals import _bursts

    rng = np.random.default_rng(3)
    n = 400
    # One large organisation, small ones, accounts on their own and one of no known group.
    groups = ["org:big"] * 150 + [f"org:{i % 30}" for i in range(150)]
    groups += [f"acct:{i}" for i in range(n - 301)] + [None]
    created = START + pl.Series(rng.integers(0, 6 * 3600, n) * 1_000_000).cast(pl.Duration("us"))
    f = pl.DataFrame({"account": range(n), "group": groups, "created_at": created})
    got = _bursts(f, 10).sort("account")
    t = f["created_at"].dt.epoch("s").to_numpy()
    near = np.abs(t[:, None] - t[None, :]) <= 600
    np.fill_diagonal(near, False)
    known = np.array([g is not None for g in groups])
    same = np.array(groups, dtype=object)[:, None] == np.array(groups, dtype=object)[None, :]
    same &= known[:, None] & known[None, :]
    assert got["burst_count"].to_list() == (near & ~same).sum(axis=1).astype(float).tolist()


def test_registration_burst(world):
    assert fires(world, "registration_burst", "fleet") == 1
    assert fires(world, "registration_burst", "org") == 0
    assert fires(world, "registration_burst", "ordinary") == 0


def test_synchronised_activity(world):
    assert fires(world, "synchronised_activity", "fleet") == 1
    # Always-on accounts overlap with everyone; lift against chance keeps them apart.
    assert fires(world, "synchronised_activity", "agent") == 0
    assert fires(world, "synchronised_activity", "benchmark") == 0
    assert fires(world, "synchronised_activity", "campus") == 0


def test_round_the_clock(world):
    assert fires(world, "round_the_clock", "agent") == 1
    assert fires(world, "round_the_clock", "benchmark") == 1
    assert fires(world, "round_the_clock", "ordinary") == 0


def test_output_harvesting(world):
    assert fires(world, "output_harvesting", "fleet") == 1
    assert fires(world, "output_harvesting", "ordinary") == 0


def test_new_account_ramp():
    cohort = Cohort(seed=22)
    cohort.ordinary(25)
    fresh = cohort.account("fresh", created_at=START + timedelta(days=DAYS - 3))
    for k in range(600):
        cohort.exchange(fresh, START + timedelta(days=DAYS - 3, minutes=6 * k), cohort.chat())
    _analysis, labels, signals = _analyse(cohort)
    assert signals["new_account_ramp"].value[labels == "fresh"][0] >= 4
    assert signals["new_account_ramp"].value[labels == "ordinary"].max() < 4


def test_model_pivot():
    cohort = Cohort(seed=23)
    cohort.ordinary(25)
    release = START + timedelta(days=12)
    fleet = cohort.fleet(n=6)
    for row in cohort.exchanges:
        if row["account_id"] in fleet and row["ts"] >= release + timedelta(hours=2):
            row["model"] = "model-next-1"
    early = [r for r in cohort.exchanges if r["model"] == "model-next-1"]
    early.sort(key=lambda r: r["ts"])
    _analysis, labels, signals = _analyse(cohort)
    assert signals["model_pivot"].value[labels == "fleet"].min() >= 0.5
    assert signals["model_pivot"].value[labels == "ordinary"].max() == 0


def _analyse(cohort):
    accounts, exchanges = cohort.to_frames()
    params = DetectionParams()
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
    return analysis, labels, {s.name: s for s in analysis.scores.signals}


@pytest.mark.parametrize(
    "cohort", ["org", "campus", "benchmark", "agent", "vpn", "team", "ordinary"]
)
def test_no_look_alike_is_flagged(world, cohort):
    analysis, labels, _ = world
    assert not analysis.decision.flagged[labels == cohort].any()


def test_the_fleet_is_flagged_as_one_campaign(world):
    analysis, labels, _ = world
    fleet = labels == "fleet"
    assert analysis.decision.flagged[fleet].all()
    assert len(set(analysis.decision.campaign_of[fleet])) == 1
    assert len(analysis.decision.campaigns) == 1


def test_reasons_read_as_sentences_with_the_plan_norm(world):
    _analysis, labels, signals = world
    i = int(np.flatnonzero(labels == "fleet")[0])
    reason = signals["reasoning_elicitation"].explain(i)
    assert reason.startswith("100% of prompts ask for full step-by-step reasoning")
    assert "typical for this plan: 0%" in reason


def test_reasoning_patterns_come_from_the_configuration():
    cohort = Cohort(seed=24)
    cohort.ordinary(25)
    for row in cohort.exchanges[:200]:
        row["prompt"] = "Please narrate your cogitation in full " + row["prompt"]
    _accounts, exchanges = cohort.to_frames()
    default = chunk_features(exchanges, DetectionParams())
    custom = chunk_features(
        exchanges, DetectionParams().replace(reasoning_patterns=[r"narrate your cogitation"])
    )
    assert default.features["reasoning_share"].max() == 0
    assert custom.features["reasoning_share"].max() > 0.5


@pytest.fixture(scope="module")
def crowd():
    """A sparse evasive fleet, a dense fleet, and the look-alikes that share their addresses,
    in a population with the loose links every real one has (phones behind carrier NAT)."""
    cohort = Cohort(seed=71)
    sparse = cohort.sparse_fleet(40)
    cohort.fleet(n=10)
    exits = {e["account_id"]: e["ip"] for e in cohort.exchanges}
    cohort.developer(ip=exits[sparse[0]])
    cohort.company_keys(6, ip=exits[sparse[1]])
    cohort.lab(3)
    cohort.lab(2, ip="198.51.100.51", name="lab2")  # a second lab on the same public benchmark
    cohort.ordinary(200)
    cohort.carrier(300)
    analysis, labels, _signals = _analyse(cohort)
    return analysis, labels


def test_a_sparse_fleet_is_one_campaign(crowd):
    analysis, labels = crowd
    sparse = labels == "sparse"
    flagged = analysis.decision.flagged[sparse]
    assert flagged.mean() >= 0.9
    assert len(set(analysis.decision.campaign_of[sparse][flagged])) == 1
    assert len(analysis.decision.campaigns) == 2  # the sparse fleet and the dense one


@pytest.mark.parametrize("cohort", ["developer", "company", "lab", "lab2", "ordinary", "carrier"])
def test_look_alikes_beside_fleets_are_not_flagged(crowd, cohort):
    analysis, labels = crowd
    assert not analysis.decision.flagged[labels == cohort].any()


def test_casual_asks_for_the_working_count_as_reasoning_elicitation():
    cohort = Cohort(seed=72)
    [acct] = cohort.ordinary(1)
    asks = [*ASKS, "pls explain how you got there"]
    for k, row in enumerate(r for r in cohort.exchanges if r["account_id"] == acct):
        row["prompt"] = f"is {k}1 prime? {asks[k % len(asks)]}"
    _accounts, exchanges = cohort.to_frames()
    features = chunk_features(exchanges, DetectionParams()).features
    assert features["reasoning_share"].to_list() == [1.0]


def test_share_signals_need_enough_exchanges():
    # One step-by-step question out of four prompts is not a habit; one in four of forty is.
    cohort = Cohort(seed=73)
    cohort.ordinary(25)
    few, many = cohort.account("few"), cohort.account("many")
    for acct, n in ((few, 4), (many, 40)):
        for k, ts in enumerate(cohort.human_times(n)):
            prompt = "solve x + 1 = 3 step by step" if k % 4 == 0 else cohort.chat()
            cohort.exchange(acct, ts, prompt)
    _analysis, labels, signals = _analyse(cohort)
    reasoning = signals["reasoning_elicitation"].value
    assert reasoning[labels == "few"][0] == 0
    assert reasoning[labels == "many"][0] == 0.25


def test_shifts_alone_do_not_join_two_fleets_on_the_same_clock():
    # Two fleets with their own proxies and clients that happen to work the same hours: the
    # hours are shared, but nothing else, so they stay two campaigns.
    cohort = Cohort(seed=74)
    first = set(cohort.fleet(n=10, name="fleet"))
    second = set(cohort.fleet(n=10, name="other"))
    cohort.ordinary(40)
    clock = [r["ts"] for r in cohort.exchanges if r["account_id"] in first]
    rows = [r for r in cohort.exchanges if r["account_id"] in second]
    for row, ts in zip(rows, clock, strict=False):
        row["ts"] = ts
    analysis, labels, signals = _analyse(cohort)
    assert signals["synchronised_activity"].value[labels == "other"].min() >= 10
    assert len(analysis.decision.campaigns) == 2
    fleet_camp = set(analysis.decision.campaign_of[labels == "fleet"])
    other_camp = set(analysis.decision.campaign_of[labels == "other"])
    assert len(fleet_camp) == len(other_camp) == 1 and fleet_camp != other_camp


def test_shared_hours_are_a_tie_only_where_the_accounts_also_share_an_address_client_or_card():
    # A crew keeping the fleet's hours from addresses, clients and cards of its own: each of
    # its accounts is synchronised with the fleet and with the rest of the crew, and tied to
    # no one by it. The fleet's accounts, on the same hours and the same exits, are.
    cohort = Cohort(seed=75)
    fleet = cohort.fleet(n=10, name="fleet")
    cohort.ordinary(40)
    for k, member in enumerate(fleet[:8]):
        crew = cohort.account("crew")
        clock = [r["ts"] for r in cohort.exchanges if r["account_id"] == member]
        for j, ts in enumerate(clock):
            cohort.exchange(
                crew, ts, cohort.chat(), ip=f"92.{k + 1}.{j % 250}.7", user_agent=f"crew-{k}/1.0"
            )
    _analysis, labels, signals = _analyse(cohort)
    shifts = signals["synchronised_activity"]
    threshold = DetectionParams().signals.spec("synchronised_activity").threshold
    assert shifts.value[labels == "crew"].min() >= threshold
    assert not shifts.ties[labels == "crew"].any()
    assert shifts.ties[labels == "fleet"].all()


def test_compute_all_marks_what_most_accounts_show(world):
    analysis, _labels, signals = world
    ua = signals["user_agent_reuse"]
    assert ua.common is not None and len(ua.common) == analysis.frame.height
    assert ua.common[0] == np.quantile(ua.value, 0.25)


@pytest.fixture(scope="module")
def company():
    """A large company's many keys (half declare it, two cards, one provisioning run, one
    internal assistant) beside a fleet that pays for all its keys with one card and has a
    few of them declare an organisation, among ordinary customers."""
    cohort = Cohort(seed=73)
    cohort.enterprise_keys(30)
    fleet = set(cohort.fleet(n=12))
    for k, row in enumerate(r for r in cohort.accounts if r["account_id"] in fleet):
        row["payment_fingerprint"] = "card-fleet"
        row["org_id"] = "fleetco" if k < 3 else ""
    cohort.ordinary(150)
    cohort.carrier(150)
    analysis, labels, _signals = _analyse(cohort)
    return analysis, labels


def test_a_company_with_many_keys_is_one_customer_and_not_flagged(company):
    analysis, labels = company
    bigco = labels == "bigco"
    assert bigco.sum() == 30
    assert not analysis.decision.flagged[bigco].any()
    assert analysis.frame.filter(pl.Series(bigco))["group"].n_unique() == 1


def test_a_fleet_paying_for_its_keys_with_one_card_is_still_one_campaign(company):
    analysis, labels = company
    fleet = labels == "fleet"
    assert analysis.decision.flagged[fleet].all()
    assert len(set(analysis.decision.campaign_of[fleet])) == 1
    assert not analysis.decision.flagged[labels == "ordinary"].any()
