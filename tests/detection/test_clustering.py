"""Link building, hubs, communities and campaign identity, on plain frames."""

import polars as pl

from detection.clustering import (
    communities,
    customer_groups,
    graph_edges,
    key_pairs,
    match_campaigns,
    merge_communities,
    relatedness_groups,
)
from detection.config import FREE_MAIL_DOMAINS

WEIGHTS = {"ip": 1.0, "payment": 2.0}


def _groups(rows):
    """relatedness_groups over (account, org_id, email_domain[, card]) rows."""
    rows = [(*r, "card-1") if len(r) == 3 else r for r in rows]
    return relatedness_groups(
        pl.DataFrame(
            rows, schema=["account", "org_id", "email_domain", "payment_fingerprint"], orient="row"
        ),
        ["gmail.com"],
    )


def test_related_accounts_share_a_group():
    groups = _groups(
        [
            (1, "acme", ""),
            (2, "acme", "x.com"),
            (3, "", "corp.example"),
            (4, "", "corp.example"),
            (5, "", "gmail.com"),
            (6, "", "gmail.com"),
        ]
    )
    g = dict(groups.iter_rows())
    assert g[1] == g[2] and g[3] == g[4]
    assert g[5] != g[6]  # free mail says nothing about an organisation


def test_a_made_up_company_domain_on_own_cards_is_no_organisation():
    """A fleet signs its accounts up with one made-up company domain and pays with their
    own cards, or none: as many payers as accounts. A company's keys with its domain pay
    with its card or two."""
    fleet = [(k, "", "nimbus-labs.io", f"own-{k}") for k in range(1, 7)]
    fleet += [(k, "", "nimbus-labs.io", "") for k in range(7, 10)]
    company = [(k, "", "acme-corp.example", f"team-{k % 2}") for k in range(10, 20)]
    g = dict(_groups(fleet + company).iter_rows())
    assert len({g[k] for k in range(1, 10)}) == 9
    assert len({g[k] for k in range(10, 20)}) == 1


def test_a_companys_undeclared_keys_with_its_domain_are_its_keys():
    """Keys made with the company's domain that do not declare its organisation are its
    keys, when its declared accounts are the only organisation on that domain; a domain that
    several declared organisations use (a fleet's made-up company, a holding) stays its own."""
    groups = _groups(
        [
            (1, "bank", "sun-bank.com"),
            (2, "bank", "sun-bank.com"),
            (3, "", "sun-bank.com"),
            (4, "", "SUN-BANK.com"),
            (5, "", "gmail.com"),
            (10, "shell-1", "made-up.io"),
            (11, "shell-2", "made-up.io"),
            (12, "", "made-up.io"),
        ]
    )
    g = dict(groups.iter_rows())
    assert g[1] == g[2] == g[3] == g[4] == "org:bank"
    assert g[5] != g[1]
    assert g[12] == "dom:made-up.io" and len({g[10], g[11], g[12]}) == 3


def test_a_domain_of_several_organisations_groups_only_keys_that_pay_as_one():
    """A fleet signs up with one made-up company domain, three of its accounts each declaring
    an "organisation" of its own, the rest nothing, on their own cards or none: the
    undeclared accounts are as many payers as accounts, as on a domain no one declares. A
    holding's subsidiaries' undeclared keys on the group's one card are one customer."""
    fleet = [(k, f"shell-{k}", "piper.example", f"own-{k}") for k in (1, 2, 3)]
    fleet += [(k, "", "piper.example", f"own-{k}") for k in range(4, 10)]
    fleet += [(k, "", "piper.example", "") for k in range(10, 16)]
    holding = [(k, f"sub-{k}", "holding.example", "group-card") for k in (20, 21)]
    holding += [(k, "", "holding.example", "group-card") for k in range(22, 28)]
    g = dict(_groups(fleet + holding).iter_rows())
    assert len({g[k] for k in range(4, 16)}) == 12
    assert {g[k] for k in range(22, 28)} == {"dom:holding.example"}


def test_key_pairs_skip_related_accounts_and_sparsify_hubs():
    groups = _groups([(i, "acme" if i < 3 else "", "") for i in range(1, 101)])
    links = pl.DataFrame(
        {
            "account": [1, 2, 3, 4] + list(range(1, 101)),
            "kind": ["ip"] * 104,
            "key": ["10.0.0.1"] * 2 + ["10.0.0.2"] * 2 + ["nat"] * 100,
        },
    )
    pairs = key_pairs(links, groups, hub_cap=40, ring=3, kind_weights=WEIGHTS)
    small = pairs.filter(~pl.col("hub"))
    assert small.select("a", "b").rows() == [(3, 4)]  # 1 and 2 are one organisation
    hub = pairs.filter(pl.col("hub"))
    assert 0 < hub.height <= 100 * 3  # not 100 * 99 / 2
    assert hub["w"].max() < 1


def test_key_pairs_made_a_part_of_the_pairs_at_a_time_are_the_same(monkeypatch):
    """The pairs of keys under the hub cap are made a part of the pairs at a time (by their
    first account) and summed with the hubs' rings there: the same pairs, hub marks and
    weights, to the last bit (every term of a pair is summed in its one part)."""
    import random

    from detection import clustering

    rng = random.Random(8)
    rows = [(a, "ip", f"10.0.{rng.randrange(30)}.1") for a in range(80) for _ in range(4)]
    rows += [(a, "ua", f"sdk/{rng.randrange(6)}") for a in range(80)]
    rows += [(a, "ip", "nat") for a in range(60)]  # a hub, linked by its ring
    links = pl.DataFrame(rows, schema=["account", "kind", "key"], orient="row")
    groups = _groups([(i, "acme" if i < 5 else "", "") for i in range(80)])
    kw = {"ip": 1.0, "ua": 0.3}

    def pairs():
        return key_pairs(links, groups, hub_cap=40, ring=3, kind_weights=kw).sort("a", "b", "kind")

    whole = pairs()
    monkeypatch.setattr(clustering, "CLIQUE_PART_ROWS", 40)
    parted = pairs()
    assert whole.filter(pl.col("hub")).height > 0 and whole.filter(~pl.col("hub")).height > 0
    assert parted.equals(whole)


def test_communities_keep_a_dense_fleet_whole_and_apart_from_strangers():
    fleet = [(a, b, 1.0) for a in range(10) for b in range(a + 1, 10)]
    other = [(a, b, 1.0) for a in range(20, 26) for b in range(a + 1, 26)]
    bridge = [(9, 20, 0.3)]
    edges = pl.DataFrame(fleet + other + bridge, schema=["a", "b", "w"], orient="row")
    found = communities(edges, min_weight=0.15, resolution=0.05)
    assert len({found[i] for i in range(10)}) == 1
    assert len({found[i] for i in range(20, 26)}) == 1
    assert found[0] != found[20]


def test_the_graph_leiden_reads_does_not_depend_on_the_order_the_links_come_in():
    """A large run's grouped frames come in a different order every time, and Leiden's
    result depends on the order of the edges it is given: the same links must make the same
    graph, edge for edge and in the same order, and so the same communities."""
    import random

    rng = random.Random(4)
    edges = [(a, b, rng.choice([0.2, 0.5, 1.0])) for a in range(300) for b in range(a + 1, 300)
             if rng.random() < 0.03]  # fmt: skip
    edges += edges[:200]  # pairs linked twice (by two kinds) are summed
    graphs, found = [], []
    for _ in range(4):
        rng.shuffle(edges)
        frame = pl.DataFrame(edges, schema=["a", "b", "w"], orient="row")
        graphs.append(graph_edges(frame, min_weight=0.15))
        found.append(communities(frame, min_weight=0.15, resolution=0.05))
    assert all(g.equals(graphs[0]) for g in graphs[1:])
    assert all(f == found[0] for f in found[1:])


def test_pair_weights_do_not_depend_on_the_order_the_links_come_in():
    """A pair sharing several keys sums one weight per key (``key_pairs``), and a sum of
    floats depends on the order of its terms: the same rows in any order must give the same
    weights to the last bit, since Leiden reads them (a plain group-by sums in the order the
    rows come, which on a large run differs every time)."""
    import random

    from detection.clustering import by_pair

    rng = random.Random(5)
    rows = [(a, a + 1 + rng.randrange(3), "ip", 1.0 / rng.choice([2, 3, 6, 9, 12, 15, 16]),
             False) for a in range(300) for _ in range(8)]  # fmt: skip
    found = []
    for _ in range(4):
        rng.shuffle(rows)
        frame = pl.DataFrame(rows, schema=["a", "b", "kind", "w", "hub"], orient="row")
        found.append(by_pair(frame).sort("a", "b", "kind"))
    assert found[0].height > 500
    assert all(f.equals(found[0]) for f in found[1:])


def test_synchronised_pairs_compared_a_slice_at_a_time_are_the_same(monkeypatch):
    """Shifts compared a slice of the pairs at a time (a run's millions of candidate pairs
    times a signature each) find the same pairs with the same overlap as all at once."""
    import numpy as np

    from detection import clustering
    from detection.clustering import sync_pairs

    rng = np.random.default_rng(2)
    crew = rng.integers(0, 2**63, 64, dtype=np.uint64)
    sigs = [crew.copy() for _ in range(12)] + [rng.integers(0, 2**63, 64, dtype=np.uint64)
                                               for _ in range(28)]  # fmt: skip
    for sig in sigs[:12]:
        sig[rng.choice(64, 6, replace=False)] = rng.integers(0, 2**63, 6, dtype=np.uint64)
    activity = pl.DataFrame(
        {"account": range(40), "active_buckets": [200] * 12 + [150] * 28, "bucket_sig": sigs},
        schema={"account": pl.Int64, "active_buckets": pl.Int64,
                "bucket_sig": pl.List(pl.UInt64)},
    )  # fmt: skip
    candidates = pl.DataFrame(
        [(a, b) for a in range(40) for b in range(a + 1, 40) if (a + b) % 3 == 0],
        schema=["a", "b"],
        orient="row",
    )
    groups = pl.DataFrame({"account": range(40), "group": [f"acct:{a}" for a in range(40)]})
    args = {"window_buckets": 4000, "bands": 16, "min_lift": 2.0, "min_jaccard": 0.3}
    whole = sync_pairs(activity, candidates, groups, **args).sort("a", "b")
    monkeypatch.setattr(clustering, "SYNC_PAIRS_AT_ONCE", 7)
    sliced = sync_pairs(activity, candidates, groups, **args).sort("a", "b")
    assert whole.height >= 30 and set(whole["a"]) | set(whole["b"]) <= set(range(12))
    assert sliced.equals(whole)


def test_match_campaigns_by_member_overlap():
    old = {100: {1, 2, 3, 4}, 200: {10, 11, 12}}
    new = {0: {1, 2, 3, 4, 5, 6}, 1: {10, 50, 51, 52}, 2: {12, 11}}
    assert match_campaigns(new, old, min_overlap=0.5) == {0: 100, 2: 200}


def test_seats_on_one_company_domain_and_one_card_are_one_customer():
    """Two small companies' seats on one domain name (a name is not a company), each team on
    its own card: the domain as a whole does not pay as one, but each card's seats are one
    customer. A fleet on one made-up domain paying with its own cards stays as many payers
    as accounts."""
    rows = [(a, "", "northwind.co", "team-a") for a in range(1, 5)]
    rows += [(a, "", "northwind.co", "team-b") for a in range(5, 9)]
    rows += [(a, "", "northwind.co", f"own-{a}") for a in range(9, 12)]
    rows += [(12, "", "northwind.co", "")]
    rows += [(a, "", "fleet-corp.io", f"card-{a}") for a in range(20, 30)]
    g = dict(
        relatedness_groups(
            pl.DataFrame(
                rows,
                schema=["account", "org_id", "email_domain", "payment_fingerprint"],
                orient="row",
            ),
            FREE_MAIL_DOMAINS,
        ).iter_rows()
    )
    assert len({g[a] for a in range(1, 5)}) == 1 and len({g[a] for a in range(5, 9)}) == 1
    assert g[1] != g[5]
    assert len({g[a] for a in range(9, 13)} | {g[1], g[5]}) == 6
    assert len({g[a] for a in range(20, 30)}) == 10


def test_throwaway_mail_is_not_an_organisation():
    groups = relatedness_groups(
        pl.DataFrame(
            [(1, "", "mailinator.com", ""), (2, "", "Mailinator.com", ""),
             (3, "", "lab.example.edu", "c"), (4, "", "lab.example.edu", "c")],
            schema=["account", "org_id", "email_domain", "payment_fingerprint"],
            orient="row",
        ),
        FREE_MAIL_DOMAINS,
    )  # fmt: skip
    g = dict(groups.iter_rows())
    assert g[1] != g[2]  # strangers (and fleets) sign up with throwaway addresses
    assert g[3] == g[4]


def _clique(nodes, w=1.0):
    return [(a, b, w) for i, a in enumerate(nodes) for b in nodes[i + 1 :]]


def _background(first, pairs):
    """Loose pairs of strangers (shared home or carrier addresses): the rest of the graph."""
    return [(first + 2 * k, first + 2 * k + 1, 1.0) for k in range(pairs)]


def test_merge_joins_the_pieces_of_one_sparse_fleet_and_not_distinct_fleets():
    piece_a, piece_b = list(range(0, 12)), list(range(12, 24))
    other = list(range(30, 42))
    bridge = [(a, b, 1.0) for a, b in zip(piece_a[:6], piece_b[:6], strict=True)]
    stray = [(piece_a[-1], other[0], 1.0)]  # distinct fleets meet on one common exit
    rows = _clique(piece_a) + _clique(piece_b) + _clique(other) + bridge + stray
    edges = pl.DataFrame(rows + _background(1000, 3000), schema=["a", "b", "w"], orient="row")
    found = communities(edges, min_weight=0.15, resolution=0.1)
    # Six links between two groups of twelve are fewer than CPM asks (0.1 per pair): pieces.
    assert found[0] != found[12]
    pieces = {found[0], found[12], found[30]}
    merged = merge_communities(edges, found, eligible=pieces, min_lift=2.0, min_weight=0.15)
    assert len({merged[n] for n in piece_a + piece_b}) == 1
    assert merged[30] != merged[0]
    # Only communities that harvest are joined.
    kept = merge_communities(edges, found, eligible={found[0]}, min_lift=2.0, min_weight=0.15)
    assert kept == found


def test_a_lone_account_tied_to_two_fleets_does_not_make_them_one():
    """A customer on an exit of each of two fleets: its few links are many times what chance
    gives so small a piece, with both. It joins one of them at most, and bridges nothing."""
    fleet_a, fleet_b, customer = list(range(0, 12)), list(range(20, 32)), 50
    rows = _clique(fleet_a) + _clique(fleet_b) + [(customer, 0, 1.0), (customer, 20, 1.0)]
    edges = pl.DataFrame(rows + _background(1000, 3000), schema=["a", "b", "w"], orient="row")
    found = communities(edges, min_weight=0.15, resolution=0.1)
    assert found[0] != found[20]
    eligible = {found[0], found[20], found[customer]}
    bridged = merge_communities(edges, found, eligible=eligible, min_lift=2.0, min_weight=0.15)
    assert bridged[0] == bridged[20]  # without the rule: one "campaign" of two fleets
    kept = merge_communities(
        edges, found, eligible=eligible, min_lift=2.0, min_weight=0.15, min_piece=3
    )
    assert kept[0] != kept[20]
    assert kept[customer] in (kept[0], kept[20], found[customer])


def _customers(rows, exits, **kwargs):
    """customer_groups over (account, org_id, email_domain, card, reasoning_share) rows and
    (account, ip) exits."""
    accounts = pl.DataFrame(
        rows,
        schema=["account", "org_id", "email_domain", "payment_fingerprint", "reasoning_share"],
        orient="row",
    )
    groups = relatedness_groups(accounts, FREE_MAIL_DOMAINS)
    found = customer_groups(
        accounts,
        groups,
        pl.DataFrame(exits, schema=["account", "key"], orient="row"),
        max_networks=kwargs.get("max_networks", 4),
        max_reasoning_share=kwargs.get("max_reasoning_share", 0.25),
    )
    return dict(found.iter_rows())


OFFICE = ["198.18.7.10", "198.18.7.11", "34.120.5.40"]


def test_undeclared_keys_on_a_company_card_from_its_exits_are_its_keys():
    rows = [
        (1, "bigco", "bigco.example", "card-1", 0.0),
        (2, "bigco", "bigco.example", "card-2", 0.0),
        (3, "", "bigco.example", "card-1", 0.0),  # the company's domain, no org declared
        (4, "", "gmail.com", "card-2", 0.0),  # an engineer's own address
        (5, "", "", "card-1", 0.0),  # no address at all
        (6, "", "gmail.com", "card-9", 0.0),  # a stranger in the same office building
    ]
    exits = [(a, ip) for a in range(1, 7) for ip in OFFICE]
    g = _customers(rows, exits)
    assert g[1] == g[2] == g[3] == g[4] == g[5] == "org:bigco"
    assert g[6] != g[1]


def test_a_company_of_many_sites_is_one_customer_key_by_key():
    # Four teams, each in its own office and cloud region (eight networks in all) on two of
    # the company's cards; each key leaves through its own team's two.
    sites = [(f"198.18.{t}.10", f"34.{120 + t}.5.40") for t in range(4)]
    rows, exits = [], []
    for a in range(1, 17):
        team = a % 4
        declared = a <= 8
        card = f"card-{team % 2}"
        rows.append((a, "bigco" if declared else "", "bigco.example", card, 0.0))
        exits += [(a, ip) for ip in sites[team]]
    g = _customers(rows, exits)
    assert set(g.values()) == {"org:bigco"}
    # A fleet's account on the same card that fans out over a pool stays its own.
    rows.append((17, "", "gmail.com", "card-0", 0.0))
    pool = [f"45.{i}.{i}.7" for i in range(10, 22)] + list(sites[0])
    exits += [(17, ip) for ip in pool] + [(a, ip) for a in (4, 8) for ip in pool]
    assert _customers(rows, exits)[17] != "org:bigco"


def test_card_mates_that_fan_out_over_proxy_exits_are_not_one_customer():
    # A fleet pays for all its keys with one card and has two declare an organisation; its
    # accounts rotate over a proxy pool in many networks.
    pool = [f"45.{i}.{i}.7" for i in range(10, 22)]
    rows = [(a, "fleetco" if a < 3 else "", "gmail.com", "card-f", 0.0) for a in range(1, 9)]
    exits = [(a, ip) for a in range(1, 9) for ip in pool]
    g = _customers(rows, exits)
    assert len(set(g.values())) == 7  # the two declared accounts are one, the rest their own
    # The same fleet from a few networks would pass as a company: the networks are the test.
    assert len(set(_customers(rows, exits, max_networks=12).values())) == 1


def test_card_mates_that_harvest_reasoning_are_not_one_customer():
    rows = [(1, "fleetco", "gmail.com", "card-f", 0.9)] + [
        (a, "", "gmail.com", "card-f", 0.9) for a in range(2, 6)
    ]
    exits = [(a, ip) for a in range(1, 6) for ip in OFFICE]
    assert len(set(_customers(rows, exits).values())) == 5


def test_strangers_on_one_card_of_no_organisation_that_fan_out_stay_apart():
    rows = [(a, "", "gmail.com", "card-pool", 0.0) for a in range(1, 6)]
    pool = [f"45.{i}.{i}.7" for i in range(10, 22)]
    exits = [(a, ip) for a in range(1, 6) for ip in pool]
    assert len(set(_customers(rows, exits).values())) == 5


def test_keys_of_one_card_at_one_site_are_one_customer_whatever_they_send():
    """A company whose keys declare nothing (free mail or no address) and run its reasoning
    evaluation pipeline, all on its one card from its office and cloud region: one payer at
    one place, one customer. A key on the same card elsewhere (its own home) stays apart."""
    rows = [(a, "", "gmail.com" if a % 2 else "", "card-co", 0.9) for a in range(1, 9)]
    exits = [(a, ip) for a in range(1, 8) for ip in OFFICE]
    exits += [(8, "81.2.3.4"), (8, "81.2.3.5"), (8, OFFICE[0])]
    g = _customers(rows, exits)
    assert {g[a] for a in range(1, 8)} == {"card:card-co"}
    assert g[8] != g[1]
    assert len(set(_customers(rows, exits, max_networks=0).values())) == 8


def test_undeclared_keys_elsewhere_than_the_companys_exits_stay_apart():
    rows = [
        (1, "bigco", "bigco.example", "card-1", 0.0),
        (2, "bigco", "bigco.example", "card-1", 0.0),
        (3, "", "gmail.com", "card-1", 0.0),
    ]
    exits = [(a, ip) for a in (1, 2) for ip in OFFICE]
    exits += [(3, "81.2.3.4"), (3, "81.2.3.5"), (3, OFFICE[0])]  # mostly its own home
    g = _customers(rows, exits)
    assert g[1] == g[2] and g[3] != g[1]


def test_reasoning_keys_on_a_card_most_of_whose_holders_are_the_company_are_its_keys():
    """A company's evaluation pipeline asks for the working on every request; its keys made
    with an engineer's address, on the company's card from its office, are the company's when
    most of the card's holders are the company's own. A fleet that declares an organisation
    on a few of its accounts (``test_card_mates_that_harvest_reasoning_are_not_one_customer``)
    does not cover the rest that way."""
    rows = [(a, "", "bigco.example", "card-1", 0.9) for a in range(1, 7)]
    rows += [(a, "", "gmail.com", "card-1", 0.9) for a in range(7, 10)]
    exits = [(a, ip) for a in range(1, 10) for ip in OFFICE]
    g = _customers(rows, exits)
    assert {g[a] for a in range(1, 10)} == {"dom:bigco.example"}


def test_card_pools_that_meet_on_the_same_few_exits_are_not_customers():
    """A fleet pays with a few pooled cards and leaves through the same handful of exits: the
    exits are no one card's own (fan-out over cards), so no card's holders are one customer."""
    rows = [(a, "", "gmail.com", f"pool-{a % 3}", 0.9) for a in range(1, 13)]
    exits = [(a, ip) for a in range(1, 13) for ip in OFFICE]
    assert len(set(_customers(rows, exits).values())) == 12


def test_keys_on_a_card_at_one_site_join_the_few_that_give_the_company_domain():
    """Two of a company's keys were made with its domain, the rest with engineers' free mail
    or none, all on its one card from its office, all running its reasoning evaluation: one
    customer, named by its domain (not a domain of two beside a card customer of seven, or
    seven strangers on its card)."""
    rows = [(a, "", "river-corp.example", "card-r", 0.9) for a in (1, 2)]
    rows += [(a, "", "outlook.com" if a % 2 else "", "card-r", 0.9) for a in range(3, 10)]
    exits = [(a, ip) for a in range(1, 10) for ip in OFFICE]
    g = _customers(rows, exits)
    assert {g[a] for a in range(1, 10)} == {"dom:river-corp.example"}


def test_reasoning_keys_on_a_side_card_of_a_large_company_are_its_keys():
    """A company of ten declared keys on its main card has one declared key on a side card
    that three undeclared keys running its reasoning evaluation also pay with, all from its
    office: the card is the company's (its keys outnumber the side card's other holders),
    not a fleet's that declares one account to cover three."""
    rows = [(a, "bigco", "bigco.example", "card-main", 0.0) for a in range(1, 11)]
    rows += [(11, "bigco", "bigco.example", "card-side", 0.9)]
    rows += [(a, "", "gmail.com" if a % 2 else "", "card-side", 0.9) for a in (12, 13, 14)]
    exits = [(a, ip) for a in range(1, 15) for ip in OFFICE]
    g = _customers(rows, exits)
    assert {g[a] for a in range(1, 15)} == {"org:bigco"}
    # The fleet of test_card_mates_that_harvest_reasoning_are_not_one_customer: one declared
    # account covering four stays apart.
    fleet = [(1, "fleetco", "gmail.com", "card-f", 0.9)]
    fleet += [(a, "", "gmail.com", "card-f", 0.9) for a in range(2, 6)]
    fleet_exits = [(a, ip) for a in range(1, 6) for ip in OFFICE]
    assert len(set(_customers(fleet, fleet_exits).values())) == 5


def test_keys_on_a_card_at_an_office_shared_with_the_companys_other_card_are_one_customer():
    """A company's domain keys pay with one card; four keys that declare nothing run its
    reasoning evaluation on a second card, from the same cloud region (every one of the
    domain keys uses it too) and an office of their own: the cloud addresses are shared with
    one other customer, not four, so they are the second card's own and its holders one
    customer (not four strangers on a card)."""
    cloud = ["3.22.159.195", "3.22.159.196", "3.22.159.197"]
    office = ["62.115.172.73", "62.115.172.74"]
    rows = [(a, "", "lumen.example", "card-dom", 0.0) for a in range(1, 5)]
    rows += [(a, "", "gmail.com" if a % 2 else "", "card-eval", 0.9) for a in range(5, 9)]
    exits = [(a, ip) for a in range(1, 9) for ip in cloud]
    exits += [(a, ip) for a in (5, 6, 7) for ip in office]
    g = _customers(rows, exits)
    assert {g[a] for a in range(5, 9)} == {"card:card-eval"}
    # Four strangers on other cards on those addresses are four customers: the addresses are
    # no one card's own (fan-out over cards).
    rows = [(a, "", "gmail.com", f"card-{a}", 0.0) for a in range(1, 5)] + rows[4:]
    g = _customers(rows, exits)
    assert len({g[a] for a in range(5, 9)}) == 4
