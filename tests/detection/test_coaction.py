"""Co-action, popularity weighting and membership by signature, on hand-made cohorts.

A popular agent's customers share its harness prompt and stay quiet; a fleet behind a proxy
network that ordinary customers also use is found by acting together, whole, as one campaign,
and the customers on its exits are not in it.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from detection import coaction
from detection.analysis import (
    OWN_TEMPLATE_MIN_BANDS,
    analyse,
    own_template_senders,
    own_template_ties,
)
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
        "no organisation, company domain or card-and-site in common" in summary
        or "unrelated owners (by organisation, company e-mail domain, or one card used from "
        "one site)"
        in summary
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
        c: {
            "members": rows,
            "evidence": ["coaction"],
            "signature": [],
            "ties": ties,
            "member_ties": ties,
        }
        for c, rows in ((0, np.arange(4)), (1, np.array([4, 5])))
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


def test_an_account_working_the_campaigns_own_templates_is_tied_like_its_members():
    """A campaign's members are tied by its exits and its own harness (``ties`` ip and
    template). Row 4, a fleet account Leiden left outside, shares two exits with members and
    works the harness (``template_ties``): it joins. Row 5 shares as many exits and asks for
    the working too, but sends none of the harness: a stranger on the exits, it stays out.
    Row 6 works the harness with one exit in common: one tie is no membership."""
    scores = _scores(risk=[0.9] * 7, reasoning=[0.9] * 7, coding=[0.0] * 7)
    campaign_of = np.array([0, 0, 0, 0, -1, -1, -1])
    ties = TIE_BITS["ip"] | TIE_BITS["template"]
    campaigns = {
        0: {
            "members": np.arange(4),
            "evidence": ["ip"],
            "signature": ["reasoning_elicitation"],
            "ties": ties,
            "member_ties": ties,
        }
    }
    decision = Decision(campaign_of >= 0, campaign_of, campaigns)
    a = np.array([0, 1, 4, 4, 5, 5, 6])
    b = np.array([1, 2, 0, 1, 0, 1, 2])
    bits = np.full(len(a), TIE_BITS["ip"])
    harness = {(4, 0), (6, 0)}
    joined = join_by_signature(
        scores, decision, a, b, bits, DetectionParams(), template_ties=harness
    )
    assert joined.campaign_of.tolist() == [0, 0, 0, 0, 0, -1, -1]
    # Without the harness row 4 is tied only by addresses, as the stranger is.
    alone = join_by_signature(scores, decision, a, b, bits, DetectionParams())
    assert alone.campaign_of.tolist() == [0, 0, 0, 0, -1, -1, -1]


def test_an_account_tied_as_strongly_to_two_pieces_of_a_fleet_joins_the_same_one_each_time():
    """Rows 0-2 and 3-5: two campaigns of one fleet that Leiden cut (tied by co-action, but
    too few across to merge). Row 6 outside co-acts with two members of each: whatever order
    its ties come in (a run's grouped frames come in a different order every time), it joins
    the same campaign, the first."""
    scores = _scores(risk=[0.9] * 7, reasoning=[0.9] * 7, coding=[0.0] * 7)
    ties = TIE_BITS["coaction"]
    a = np.array([6, 6, 6, 6, 0, 1, 3, 4])
    b = np.array([0, 1, 3, 4, 1, 2, 4, 5])
    found = set()
    for order in ([0, 1, 2, 3, 4, 5, 6, 7], [3, 2, 1, 0, 7, 6, 5, 4], [2, 0, 3, 1, 5, 7, 4, 6]):
        campaign_of = np.array([0, 0, 0, 1, 1, 1, -1])
        campaigns = {
            c: {"members": np.arange(3 * c, 3 * c + 3), "evidence": ["coaction"],
                "signature": ["reasoning_elicitation"], "ties": ties, "member_ties": ties}
            for c in (0, 1)
        }  # fmt: skip
        decision = Decision(campaign_of >= 0, campaign_of, campaigns)
        joined = join_by_signature(
            scores, decision, a[order], b[order], np.full(len(a), ties), DetectionParams()
        )
        found.add(tuple(joined.campaign_of.tolist()))
    assert found == {(0, 0, 0, 1, 1, 1, 0)}


def test_a_lone_flag_does_not_rest_on_ties_to_a_fleet_that_harvests_something_else():
    # Rows 0-3 a coding fleet's campaign. Row 4, flagged alone, is a benchmark researcher
    # (reasoning) whose cloud address the fleet's proxy network also rents: its only ties
    # lead to the fleet. Row 5, flagged alone too, is tied the same way and also to row 6,
    # an account of no campaign: that tie still holds. Row 7 harvests what the fleet does
    # (coding) and keeps its flag.
    scores = _scores(
        risk=[0.9] * 8,
        reasoning=[0.0] * 4 + [0.9, 0.9, 0.0, 0.0],
        coding=[0.95] * 4 + [0.0, 0.0, 0.0, 0.95],
    )
    campaign_of = np.array([0, 0, 0, 0, -1, -1, -1, -1])
    ip = TIE_BITS["ip"]
    campaigns = {
        0: {
            "members": np.arange(4),
            "evidence": ["ip"],
            "signature": ["capability_targeting"],
            "ties": ip,
            "member_ties": ip,
        }
    }
    flagged = np.array([True] * 4 + [True, True, False, True])
    decision = Decision(flagged, campaign_of, campaigns)
    a = np.array([0, 1, 4, 4, 5, 5, 7])
    b = np.array([1, 2, 0, 1, 0, 6, 2])
    joined = join_by_signature(scores, decision, a, b, np.full(len(a), ip), DetectionParams())
    assert joined.campaign_of.tolist() == [0, 0, 0, 0, -1, -1, -1, -1]
    assert joined.flagged.tolist() == [True] * 4 + [False, True, False, True]


# --- The cap on how many others a crowded account is compared with ------------------------

CAP = DetectionParams().coaction_cell_cap


def _crowd(n: int, items: range, key: str = "k", first: int = 1) -> pl.DataFrame:
    """``n`` accounts (``first``, ``first`` + 1, ...) all working ``key`` in every window of
    ``items``."""
    return pl.DataFrame(
        {
            "account": [a for _ in items for a in range(first, first + n)],
            "key": key,
            "item": [i for i in items for _ in range(n)],
        },
        schema={"account": pl.Int64, "key": pl.Utf8, "item": pl.Int64},
    )


def _alone(accounts) -> pl.DataFrame:
    return pl.DataFrame(
        {"account": list(accounts), "group": [f"acct:{a}" for a in accounts]},
        schema={"account": pl.Int64, "group": pl.Utf8},
    )


def _compared(cells, groups) -> pl.DataFrame:
    return coaction.compared_pairs(cells, groups, cell_cap=CAP)


def test_comparisons_grow_linearly_with_the_accounts_in_one_crowded_window():
    work = {}
    for n in (100, 200, 400, 800, 1600):
        pairs = _compared(_crowd(n, range(1)), _alone(range(1, n + 1)))
        # Each account chooses the cap of others and meets a bounded number in the sketch,
        # and counting a pair reads one cell row here: never n(n-1)/2.
        per_account = pl.concat([pairs["a"], pairs["b"]]).value_counts()["count"]
        assert per_account.min() >= CAP
        assert per_account.max() <= 2 * coaction.SKETCH_NEIGHBOURS * coaction.SKETCH_ORDERS
        assert (pairs["a"] < pairs["b"]).all() and pairs.select("a", "b").is_unique().all()
        assert pairs["rows"].sum() == pairs.height
        work[n] = pairs.height
        assert n * CAP // 2 <= work[n] <= n * CAP
    for n in (100, 200, 400, 800):
        assert 1.8 <= work[2 * n] / work[n] <= 2.2, work


@pytest.mark.parametrize("n", [2, 5, CAP, CAP + 1])
def test_a_window_within_the_cap_compares_every_pair(n):
    assert _compared(_crowd(n, range(1)), _alone(range(1, n + 1))).height == n * (n - 1) // 2


def test_accounts_of_one_organisation_are_never_compared():
    groups = pl.DataFrame(
        {"account": range(1, 31), "group": ["org:a"] * 20 + [f"acct:{a}" for a in range(21, 31)]},
        schema={"account": pl.Int64, "group": pl.Utf8},
    )
    neighbours = _compared(_crowd(30, range(2)), groups)
    assert neighbours.height > 0
    assert not (neighbours["b"] <= 20).any()  # a < b: a pair inside the organisation has b <= 20
    lone = _compared(_crowd(20, range(2)), groups)
    assert lone.is_empty()


def _pairs(cells, groups, exits, **changes):
    params = DetectionParams()
    kwargs = {
        "window_buckets": 5 * 24 * 60 // params.coaction_minutes,
        "bucket_minutes": params.coaction_minutes,
        "cell_cap": CAP,
        "min_days": params.coaction_min_days,
        "min_lift": params.coaction_min_lift,
        "min_exit_overlap": params.coaction_min_exit_overlap,
        **changes,
    }
    return coaction.coaction_pairs(cells, groups, exits, **kwargs)


def _exits(accounts, shared: bool) -> pl.DataFrame:
    sig = [list(range(64)) if shared else [a * 1000 + j for j in range(64)] for a in accounts]
    return pl.DataFrame(
        {"account": list(accounts), "exit_sig": sig},
        schema={"account": pl.Int64, "exit_sig": pl.List(pl.UInt64)},
    )


def _components(pairs: pl.DataFrame, accounts) -> int:
    root = {a: a for a in accounts}

    def find(x):
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for a, b in pairs.select("a", "b").iter_rows():
        root[find(a)] = find(b)
    return len({find(a) for a in accounts})


def test_a_fleet_whose_waves_are_crowds_is_still_linked_whole():
    # 100 accounts sent out together in six windows a day for five days, and in each window
    # 300 strangers besides (each there once, with the same template): every account's
    # windows hold thousands of others' visits, far over the cap.
    per_day = 24 * 60 // DetectionParams().coaction_minutes
    items = [day * per_day + w for day in range(5) for w in (50, 52, 54, 56, 58, 60)]
    fleet = pl.concat([_crowd(100, range(i, i + 1)) for i in items])
    strangers = pl.concat(
        [_crowd(300, range(i, i + 1), first=1000 + 300 * k) for k, i in enumerate(items)]
    )
    everyone = list(range(1, 101)) + list(range(1000, 1000 + 300 * len(items)))
    cells = pl.concat([fleet, strangers])
    groups = _alone(everyone)
    pairs = _pairs(cells, groups, _exits(everyone, shared=True))
    # The sketch seats the fleet's members side by side, so they meet one another and not the
    # strangers of their windows: each pair counted in all 30 windows it shared, on 5 days.
    assert ((pairs["a"] <= 100) & (pairs["b"] <= 100)).all()
    assert (pairs["cells"] == 30).all() and (pairs["days"] == 5).all()
    partners = pl.concat([pairs["a"], pairs["b"]]).value_counts()
    assert partners.height == 100 and partners["count"].min() >= CAP // 2
    assert _components(pairs, range(1, 101)) == 1
    # The work: at most the cap per account, never a pair per two accounts of a window.
    compared = _compared(cells, groups)
    assert compared.height <= len(everyone) * CAP
    assert coaction.crowded_accounts(cells, groups, cell_cap=CAP).height == len(everyone)


def _random_cells(seed: int, accounts: int, windows: int, per_account: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (a, key, int(item))
        for a in range(1, accounts + 1)
        for key in ("x", "y")
        for item in rng.choice(windows, per_account, replace=False)
    ]
    return pl.DataFrame(
        rows, schema={"account": pl.Int64, "key": pl.Utf8, "item": pl.Int64}, orient="row"
    )


def test_a_pair_is_counted_in_every_cell_it_shared_and_the_same_whatever_the_rows_order():
    # Windows of about 40 accounts (each account's far over the cap): compare with every
    # pair counted by hand.
    cells = _random_cells(5, accounts=120, windows=60, per_account=20)
    groups, exits = _alone(range(1, 121)), _exits(range(1, 121), shared=True)
    pairs = _pairs(cells, groups, exits, min_days=1, min_lift=0.0, min_exit_overlap=0.0)
    assert pairs.height > 0
    where = cells.group_by("account").agg(pl.struct("key", "item").alias("cells"))
    met = {a: {(c["key"], c["item"]) for c in cs} for a, cs in where.iter_rows()}
    for a, b, counted in pairs.select("a", "b", "cells").iter_rows():
        assert counted == len(met[a] & met[b])
    # Chunks arrive in any order: the same rows shuffled, or split and put back, give the same.
    shuffled = cells.sample(fraction=1.0, shuffle=True, seed=9)
    again = _pairs(
        pl.concat([shuffled[500:], shuffled[:500]]),
        groups.reverse(),
        exits.reverse(),
        min_days=1,
        min_lift=0.0,
        min_exit_overlap=0.0,
    )
    assert again.equals(pairs)


def test_the_explanation_states_the_cap_where_it_applied():
    from detection.scoring import explain

    cap = 4
    cohort = Cohort(seed=43)
    cohort.hydra(n=40, customers=6)
    cohort.ordinary(30)
    analysis, labels = _analyse(cohort, DetectionParams().replace(coaction_cell_cap=cap))
    crowded = analysis.frame["coaction_crowded"].fill_null(0).to_numpy()
    hydra = labels == "hydra"
    # Its waves send many of the fleet to one template at once...
    assert (crowded[hydra] > cap).all() and not (crowded[labels == "ordinary"] > 0).any()
    assert analysis.decision.flagged[hydra].all()
    row = int(np.flatnonzero(hydra)[0])
    reasons = {s["name"]: s["reason"] for s in explain(analysis.scores, row)}
    # ...and the flag says so, with the cap, beside what the signal found.
    assert (
        f"its template windows held {crowded[row]:.0f} visits by other accounts, more than the "
        f"cap of {cap}" in reasons["coaction"]
    )
    assert f"with the {cap} whose windows most resemble its own" in reasons["coaction"]
    signal = _signal(analysis, "coaction")
    quiet = np.flatnonzero(crowded == 0)
    assert len(quiet) and all("resemble" not in signal.explain(int(i)) for i in quiet)


def test_pairs_counted_a_shard_at_a_time_are_the_same(monkeypatch):
    cells = _random_cells(7, accounts=120, windows=60, per_account=20)
    groups, exits = _alone(range(1, 121)), _exits(range(1, 121), shared=True)
    loose = {"min_days": 1, "min_lift": 0.0, "min_exit_overlap": 0.0}
    whole = _pairs(cells, groups, exits, **loose)
    monkeypatch.setattr(coaction, "PAIRS_PER_SHARD", 1_000)  # tens of shards
    sharded = _pairs(cells, groups, exits, **loose)
    assert whole.height > 100
    assert sharded.equals(whole)


def test_pairs_counted_by_merging_or_looking_up_their_cells_are_the_same(monkeypatch):
    """A pair's shared cells are found by merging the two accounts' cells, or by looking the
    fewer up among the many when one has far more: either way each pair's cells and days are
    those counted by hand."""
    per_day = 24 * 60 // DetectionParams().coaction_minutes
    rng = np.random.default_rng(17)
    rows = [
        (a, key, int(item))
        for a in range(1, 91)
        for key in ("x", "y")
        for item in rng.choice(6 * per_day, 4 + (a % 5) ** 3 * 4, replace=False)
    ]
    cells = pl.DataFrame(
        rows, schema={"account": pl.Int64, "key": pl.Utf8, "item": pl.Int64}, orient="row"
    )
    groups, exits = _alone(range(1, 91)), _exits(range(1, 91), shared=True)
    loose = {"min_days": 1, "min_lift": 0.0, "min_exit_overlap": 0.0}
    where = cells.group_by("account").agg(pl.struct("key", "item").alias("cells"))
    met = {a: {(c["key"], c["item"]) for c in cs} for a, cs in where.iter_rows()}
    default, counted = coaction.MERGE_RATIO, {}
    for ratio in (0, default, 10**9):  # all looked up, either way, all merged
        monkeypatch.setattr(coaction, "MERGE_RATIO", ratio)
        counted[ratio] = _pairs(cells, groups, exits, **loose)
    pairs = counted[default]
    assert pairs.height > 100
    assert all(found.equals(pairs) for found in counted.values())
    for a, b, shared, days in pairs.select("a", "b", "cells", "days").iter_rows():
        both = met[a] & met[b]
        assert shared == len(both)
        assert days == len({item // per_day for _, item in both})


@pytest.fixture(scope="module")
def proxy_fleet():
    cohort = Cohort(seed=43)
    cohort.harness_users(30)
    cohort.proxy_fleet(n=16, quiet=4, customers=12)
    cohort.ordinary(60)
    return _analyse(cohort)


def test_a_quiet_member_that_never_co_acts_is_in_its_fleets_campaign(proxy_fleet):
    """A fleet account that took too few waves to co-act with anyone, but leaves through the
    fleet's exits and works the fleet's own harness, is a member of the fleet's one campaign;
    the customers on the same exits (their own questions) and a popular tool's users (a
    harness sent by many outside the fleet) are not."""
    analysis, labels = proxy_fleet
    decision = analysis.decision
    partners = _signal(analysis, "coaction").value
    quiet = labels == "proxy_fleet_quiet"
    fleet = (labels == "proxy_fleet") | quiet
    assert (partners[quiet] == 0).all()  # they never co-act...
    assert decision.flagged[fleet].all()  # ...and are still found, with the fleet, whole
    assert len(set(decision.campaign_of[fleet].tolist())) == 1
    assert not decision.flagged[labels == "proxy_customer"].any()
    assert not decision.flagged[labels == "harness"].any()
    campaign = decision.campaigns[int(decision.campaign_of[fleet][0])]
    assert campaign["ties"] & TIE_BITS["template"]


def test_the_campaign_explains_its_own_templates_and_what_a_look_alike_lacks(proxy_fleet):
    from detection.analysis import campaign_evidence

    analysis, labels = proxy_fleet
    rows = np.flatnonzero(np.char.startswith(labels.astype(str), "proxy_fleet"))
    summary = campaign_evidence(analysis, rows)["summary"]
    assert "hardly anyone outside it sends" in summary
    assert "popular tool" in summary


# --- The development generator's crowded wave fleet ----------------------------------------


def _generated(seed: int, *, benign_scale: float, fleet: int, exchanges: int):
    """The development generator's hydra fleet of ``fleet`` accounts (an agentic fleet behind
    a rotating-proxy network, jobs handed out in waves to a random part of it) among its
    look-alikes: ordinary customers, a popular coding agent's users and the proxy network's
    own customers, as the services would load them; with each account's label."""
    from detection.synthetic.base import WINDOW_DAYS, WINDOW_START, World, render
    from detection.synthetic.campaigns import plan_campaign
    from detection.synthetic.generate import BENIGN
    from detection.text import prompt_fingerprint

    world = World(seed=seed, scale=benign_scale)
    specs = []
    for name in ("ordinary", "agent_user", "proxy_user"):
        world.reseed(name)
        specs += BENIGN[name](world)
    world.reseed("campaign-1")
    specs += plan_campaign(world, "hydra", "campaign-1", count=fleet, total=exchanges)[0]
    accounts, parts = [], []
    for i, spec in enumerate(specs):
        accounts.append(
            {
                "account": i + 1,
                "account_id": spec.account_id,
                "plan": spec.plan,
                "org_id": spec.org_id or None,
                "email_domain": spec.email_domain or None,
                "payment_fingerprint": spec.payment_fingerprint or None,
                "created_at": datetime.fromtimestamp(spec.created_at, UTC),
            }
        )
        block = render(spec, seed, i)
        block.pop("account_id")
        block["ts"] = (np.asarray(block["ts"], dtype=np.int64) * 1_000_000).astype("datetime64[us]")
        block["prompt_hash"] = [prompt_fingerprint(p) for p in block["prompt"]]
        parts.append(pl.DataFrame(block).with_columns(pl.lit(i + 1, pl.Int64).alias("account")))
    frames = (pl.DataFrame(accounts), pl.concat(parts, how="diagonal_relaxed"))
    labels = {i + 1: spec.campaign or spec.cohort for i, spec in enumerate(specs)}
    return frames, labels, (WINDOW_START, WINDOW_START + timedelta(days=WINDOW_DAYS))


@pytest.fixture(scope="module")
def generated_hydra():
    (accounts, exchanges), labels, (start, end) = _generated(
        7, benign_scale=0.2, fleet=240, exchanges=80_000
    )
    params = DetectionParams()
    chunk = chunk_features(exchanges.with_columns(pl.col("ts").dt.replace_time_zone("UTC")), params)
    analysis = analyse(
        features=chunk.features,
        links=chunk.links,
        models=chunk.models,
        accounts=accounts,
        window_start=start,
        window_end=end,
        params=params,
    )
    cells = chunk.links.filter(pl.col("kind") == "coaction")
    ids = analysis.frame["account"].to_list()
    return analysis, np.array([labels[a] for a in ids]), cells


def test_the_generators_crowded_wave_fleet_is_found_whole(generated_hydra):
    analysis, labels, cells = generated_hydra
    fleet = labels == "campaign-1"
    ids = np.array(analysis.frame["account"].to_list())
    # Its waves are crowds: tens of its accounts in one template window at once, and every
    # member compared with a sketch's choice of the others, not with all of them.
    fleet_cells = cells.filter(pl.col("account").is_in(ids[fleet].tolist()))
    assert fleet_cells.group_by("key", "item").len()["len"].max() >= 30
    crowded = analysis.frame["coaction_crowded"].fill_null(0).to_numpy()
    assert (crowded[fleet] > CAP).mean() > 0.9
    # Yet the fleet is found, as one campaign, and none of its look-alikes with it. The
    # generator's hydra has members too quiet to co-act (a few requests on a few days); in
    # this small world one of 240 may have no tie left at all, so "whole" is 99% here.
    decision = analysis.decision
    assert decision.flagged[fleet].mean() >= 0.99
    assert len(set(decision.campaign_of[fleet & decision.flagged].tolist())) == 1
    for bystander in ("ordinary", "agent_user", "proxy_user"):
        assert not decision.flagged[labels == bystander].any(), bystander
    partners = _signal(analysis, "coaction").value[fleet]
    assert (partners >= DetectionParams().signals.coaction.saturation).mean() > 0.9


def test_one_band_in_common_with_a_fleet_is_no_own_template_tie():
    """A fleet's harness fills many bands that hardly anyone outside sends; a customer in
    the same community (its exits) who runs a popular agent the fleet also runs meets one
    of those bands by coincidence, and that is no tie."""
    fleet, customer, outsiders = list(range(1, 9)), 20, list(range(30, 34))
    harness = [f"h{k}" for k in range(6)]
    rows = [(a, key) for a in fleet for key in harness]
    rows += [(customer, "h0"), (customer, "agent-0"), (customer, "agent-1")]
    rows += [(a, f"agent-{k}") for a in outsiders for k in range(2)]
    templates = pl.DataFrame(rows, schema=["account", "key"], orient="row")
    ids = [*fleet, customer, *outsiders]
    membership = np.array([0] * (len(fleet) + 1) + [-1] * len(outsiders))
    organisation = np.arange(len(ids))
    tied = own_template_ties(templates, ids, membership, organisation)
    assert tied[: len(fleet)].all()
    assert not tied[len(fleet)]
    # Sending as many of the fleet's own bands as a template fills is a tie.
    more = [(customer, key) for key in harness[1:OWN_TEMPLATE_MIN_BANDS]]
    templates = pl.concat([templates, pl.DataFrame(more, schema=["account", "key"], orient="row")])
    assert own_template_ties(templates, ids, membership, organisation)[len(fleet)]


def test_an_outsider_working_a_campaigns_own_harness_is_its_template_sender():
    """Rows outside a campaign that send as many of its own bands as a template fills are
    listed with it; one band in common (a popular agent beside the harness) is not; and a
    campaign's own member is not listed as an outsider."""
    fleet, straggler, customer = list(range(1, 9)), 20, 21
    harness = [f"h{k}" for k in range(6)]
    rows = [(a, key) for a in fleet for key in harness]
    rows += [(straggler, key) for key in harness[:OWN_TEMPLATE_MIN_BANDS]]
    rows += [(customer, "h0"), (customer, "agent-0")]
    templates = pl.DataFrame(rows, schema=["account", "key"], orient="row")
    ids = [*fleet, straggler, customer]
    campaign_of = np.array([0] * len(fleet) + [-1, -1])
    senders = own_template_senders(templates, ids, campaign_of, np.arange(len(ids)))
    assert senders.rows() == [(len(fleet), 0)]


def test_cells_spilled_to_disk_in_parts_of_days_count_the_same(tmp_path, monkeypatch):
    """A run's finalise step adds its chunks' cells in turn to files of whole days and reads
    them back a few days at a time: the pairs, their counts and the crowded accounts are the
    same as with every cell in memory at once."""
    per_day = 24 * 60 // DetectionParams().coaction_minutes
    cells = _random_cells(11, accounts=90, windows=12 * per_day, per_account=60)
    groups, exits = _alone(range(1, 91)), _exits(range(1, 91), shared=True)
    loose = {"min_days": 2, "min_lift": 0.0, "min_exit_overlap": 0.0}
    whole = _pairs(cells, groups, exits, **loose)
    crowded = coaction.crowded_accounts(cells, groups, cell_cap=CAP)
    monkeypatch.setattr(coaction, "PART_ROWS", 2_000)
    held = coaction.Cells(bucket_minutes=DetectionParams().coaction_minutes, directory=tmp_path)
    for chunk in cells.partition_by("account", as_dict=False)[::-1]:  # chunk by chunk
        held.add(chunk)
    assert held.rows == cells.height
    assert len(list(held.parts())) > 3  # read back a few days at a time...
    assert len(list(tmp_path.glob("cells-*.arrow"))) > 90  # ...from files
    assert whole.height > 100
    assert _pairs(held, groups, exits, **loose).equals(whole)
    assert (
        coaction.crowded_accounts(held, groups, cell_cap=CAP)
        .sort("account")
        .equals(crowded.sort("account"))
    )


def test_a_communitys_own_templates_counted_a_part_of_the_keys_at_a_time_are_the_same(
    monkeypatch,
):
    from detection import templating

    rng = np.random.default_rng(9)
    rows = []
    # A community of 30 unrelated accounts working parts of one library of 20 bands, each
    # 2-6 of them; 70 outsiders on everyday bands; everyone with bands of their own.
    for account in range(30):
        rows += [(account, 1000 + k) for k in rng.choice(20, rng.integers(2, 7), replace=False)]
    for account in range(30, 100):
        rows += [(account, k) for k in rng.choice(10, 3, replace=False)]
    # Three outsiders working the community's library too (Leiden left them beside it).
    for account in range(97, 100):
        rows += [(account, 1000 + k) for k in range(6)]
    for account in range(100):
        rows += [(account, 5000 + 10 * account + k) for k in range(5)]
    templates = pl.DataFrame(
        [(a, k, i) for i, (a, k) in enumerate(rows)],
        schema={"account": pl.Int64, "key": pl.UInt64, "item": pl.Int64},
        orient="row",
    )
    ids = list(range(100))
    membership = np.where(np.arange(100) < 30, 0, -1)
    organisation = np.arange(100)
    whole = own_template_ties(templates, ids, membership, organisation)
    senders = own_template_senders(templates, ids, membership, organisation).sort("row")
    monkeypatch.setattr(templating, "TEMPLATE_PART_ROWS", 20)
    parted = own_template_ties(templates, ids, membership, organisation)
    assert whole[:30].any() and not whole[:30].all() and not whole[30:].any()
    assert np.array_equal(parted, whole)
    assert senders["row"].to_list() == [97, 98, 99] and set(senders["c"]) == {0}
    assert (
        own_template_senders(templates, ids, membership, organisation).sort("row").equals(senders)
    )


def _harness_and_fleets() -> Cohort:
    """A popular agent's users, a hydra fleet among proxy customers, a fleet, bystanders."""
    world = Cohort(seed=47)
    world.harness_users(20)
    world.hydra(n=12, customers=8)
    world.fleet(n=8)
    world.ordinary(40)
    return world


def _assert_decided_alike(parted, whole) -> None:
    """Two analyses of the same data gave the same scores, flags, campaigns and bands."""
    assert whole.frame.height > 0 and whole.decision.flagged.any()
    assert parted.frame.equals(whole.frame)
    assert np.array_equal(parted.scores.risk, whole.scores.risk)
    assert np.array_equal(parted.decision.flagged, whole.decision.flagged)
    assert np.array_equal(parted.decision.campaign_of, whole.decision.campaign_of)
    assert parted.templates.sort(pl.all()).equals(whole.templates.sort(pl.all()))


def test_bands_counted_a_part_of_the_keys_at_a_time_decide_the_same(monkeypatch):
    """What is counted per template band (shared templates, a community's own templates,
    starting together) is counted a part of the keys at a time on a large run: the scores,
    flags and campaigns are those of counting them all at once."""
    from detection import templating

    whole, _ = _analyse(_harness_and_fleets())
    monkeypatch.setattr(templating, "TEMPLATE_PART_ROWS", 300)
    parted, _ = _analyse(_harness_and_fleets())
    _assert_decided_alike(parted, whole)


def test_bands_spilled_to_disk_in_buckets_of_keys_decide_the_same(tmp_path, monkeypatch):
    """A run's finalise step adds its chunks' template bands in turn to files, a bucket of
    the keys each, and every step that counts per band reads them back a few buckets at a
    time: the scores, flags, campaigns and the members' bands are those of all the bands in
    one frame."""
    from detection import templating

    params = DetectionParams()
    accounts, exchanges = _harness_and_fleets().to_frames()
    chunk = chunk_features(exchanges, params)
    inputs = {
        "features": chunk.features,
        "links": chunk.links,
        "models": chunk.models,
        "accounts": accounts,
        "window_start": START,
        "window_end": START + timedelta(days=DAYS),
        "params": params,
    }
    whole = analyse(**inputs)
    monkeypatch.setattr(templating, "TEMPLATE_PART_ROWS", 300)
    bands = templating.Bands(directory=tmp_path)
    for rows in templating.template_rows(chunk.links).partition_by("account")[::-1]:
        bands.add(rows)  # chunk by chunk
    assert bands.height == templating.template_rows(chunk.links).height
    assert len(list(bands.parts())) > 3  # read back a few buckets at a time...
    assert len(list(tmp_path.glob("bands-*.arrow"))) > templating.KEY_BUCKETS  # ...from files
    parted = analyse(**inputs, templates=bands)
    _assert_decided_alike(parted, whole)


def test_exit_overlap_compared_a_slice_of_the_pairs_at_a_time_is_the_same(monkeypatch):
    """The pairs' exit signatures are compared a slice of the pairs at a time: each pair's
    overlap is the one of comparing them all at once, an account with no signature 0."""
    rng = np.random.default_rng(5)
    exits = pl.DataFrame(
        {"account": range(1, 41), "exit_sig": rng.integers(0, 4, (40, 64)).tolist()},
        schema={"account": pl.Int64, "exit_sig": pl.List(pl.UInt64)},
    )
    pairs = pl.DataFrame(
        [(a, b) for a in range(1, 43) for b in range(a + 1, 43)],
        schema={"a": pl.Int64, "b": pl.Int64},
        orient="row",
    )
    whole = coaction._exit_overlap(pairs, exits)
    monkeypatch.setattr(coaction, "OVERLAP_PAIRS_AT_ONCE", 7)
    assert np.array_equal(coaction._exit_overlap(pairs, exits), whole)
    assert (whole[pairs["b"].to_numpy() > 40] == 0).all() and (whole > 0.1).any()
