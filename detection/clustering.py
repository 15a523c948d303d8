"""Campaign clustering: link unrelated accounts that share things, then find communities.

Pure: frames and dicts in, frames and dicts out. Links come from shared keys (IP addresses,
user agents, payment fingerprints, prompt-template LSH bands) and from synchronised activity.
Accounts of one organisation (same ``org_id``, or the same non-free-mail email domain) are
*related*: what they share is expected and never links them.

A key shared by many accounts (a campus NAT, a VPN exit, a stock client string, a stock
phrase) is a *hub*. Linking all its pairs would cost O(n^2) links and drown the graph, so a hub
links each member to a few ring neighbours only, and every key's weight is spread over its
members (1 / (accounts - 1) per link), so one busy key never outweighs many quiet ones. Leiden
(igraph's built-in ``community_leiden``) then finds the communities.
"""

from __future__ import annotations

import ipaddress
import random
from collections import Counter
from collections.abc import Sequence

import igraph as ig
import numpy as np
import polars as pl

PAIR_SCHEMA = {"a": pl.Int64, "b": pl.Int64, "kind": pl.Utf8, "w": pl.Float64, "hub": pl.Boolean}


def relatedness_groups(accounts: pl.DataFrame, free_mail_domains: Sequence[str]) -> pl.DataFrame:
    """(account, group): the organisation an account belongs to, or itself alone.

    ``org_id`` wins; otherwise a corporate email domain (not a free-mail provider) groups its
    accounts, as the organisation's when the accounts of exactly one declared organisation
    sign up with that domain (a company's keys that do not declare it, made with its domain,
    are its keys, not a second customer beside it); otherwise the account is its own group.

    A domain no declared organisation uses, or several do, is only a sign-up address, which
    anyone can type: it makes one customer of its accounts only when they also pay as one
    (most of them with a card, and few cards among them: at most two, or one per four
    accounts). A fleet that signs its accounts up with one made-up company domain (a few of
    them declaring "organisations") and pays with their own cards, or none, is as many payers
    as accounts. Where the domain does not pay as one, its accounts that share a card are
    one customer of that domain and card (a small company's seats).
    """
    free = [d.lower() for d in free_mail_domains]
    org = pl.col("org_id").fill_null("")
    domain = pl.col("email_domain").fill_null("").str.to_lowercase()
    card = pl.col("payment_fingerprint").fill_null("")
    paying = (
        accounts.filter((domain != "") & ~domain.is_in(free) & (org == ""))
        .group_by(domain.alias("domain"))
        .agg(
            pl.len().alias("accounts"),
            (card != "").sum().alias("carded"),
            card.filter(card != "").n_unique().alias("cards"),
        )
        .filter(
            (pl.col("carded") * 2 >= pl.col("accounts"))
            & ((pl.col("cards") <= 2) | (pl.col("cards") * 4 <= pl.col("carded")))
        )["domain"]
        .to_list()
    )
    # A domain exactly one declared organisation uses is that organisation's. Several
    # organisations on one domain (a made-up domain a fleet's "organisations" share, or a
    # holding's subsidiaries) say no more of its other accounts than a domain no one declares:
    # one customer of its own only when those pay as one.
    owner = (
        accounts.filter((org != "") & (domain != "") & ~domain.is_in(free))
        .select(org.alias("owner"), domain.alias("domain"))
        .unique()
        .filter(pl.len().over("domain") == 1)
    )
    company = (domain != "") & ~domain.is_in(free)
    corporate = company & (domain.is_in(paying) | domain.is_in(owner["domain"].to_list()))
    # Wherever the domain as a whole does not pay as one, its accounts that pay with one card
    # are still one customer: a small company's seats, signed up with its domain and paid
    # for with its card (a domain's name alone does not say one company uses it, a card and
    # a company domain together do).
    seat = company & (org == "") & (card != "") & (pl.len().over(domain, card) >= 2)
    return (
        accounts.with_columns(domain.alias("domain"))
        .join(owner, on="domain", how="left")
        .select(
            "account",
            pl.when(org != "")
            .then(pl.lit("org:") + org)
            .when(corporate & pl.col("owner").is_not_null())
            .then(pl.lit("org:") + pl.col("owner"))
            .when(corporate)
            .then(pl.lit("dom:") + domain)
            .when(seat)
            .then(pl.lit("dom:") + domain + pl.lit("/") + card)
            .otherwise(pl.lit("acct:") + pl.col("account").cast(pl.Utf8))
            .alias("group"),
        )
    )


def independent_payers(accounts: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """(account, payer): who pays. An organisation's accounts are one payer; an account of no
    organisation is its card's payer (strangers on one card are one payer too), or alone."""
    card = pl.col("payment_fingerprint").fill_null("")
    return (
        accounts.select("account", "payment_fingerprint")
        .join(groups, on="account")
        .select(
            "account",
            pl.when(pl.col("group").str.starts_with("acct:") & (card != ""))
            .then(pl.lit("card:") + card)
            .otherwise(pl.col("group"))
            .alias("payer"),
        )
    )


def exit_network(address: str) -> str:
    """The block an address is in, /24 for IPv4 and /48 for IPv6: one site's egress range
    (an office's or a cloud region's few consecutive addresses), not the whole provider."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def customer_groups(
    accounts: pl.DataFrame,
    groups: pl.DataFrame,
    exits: pl.DataFrame,
    *,
    max_networks: int,
    max_reasoning_share: float,
) -> pl.DataFrame:
    """``groups`` with an organisation's undeclared keys counted in it: (account, group).

    A company's keys do not all declare it: teams make keys with the company's domain, an
    engineer's own address or none, and pay with the company's card. One payer behind many
    keys is one customer, not independent payers; but a fleet also pays for many keys with
    one card, so the card alone does not decide. An account outside every declared
    organisation joins the organisation (or, for a card no organisation uses, the company
    domain) whose accounts pay with its card when

    - most of its addresses (``exits``: account, key) are that organisation's own, addresses
      its declared accounts use;
    - those lie in at most ``max_networks`` networks (``exit_network``): the key's own sites,
      its team's office and cloud region, where a fleet's account fans out over a proxy pool.
      The count is the key's, not the organisation's: a company of many offices and cloud
      regions has many networks, each of its keys only a few;
    - it does not harvest reasoning: its share of prompts asking for the working
      (``accounts``' ``reasoning_share``, when given) is under ``max_reasoning_share``.

    ``accounts`` is (account, payment_fingerprint[, reasoning_share]). Accounts of no
    organisation on a card no organisation uses are one customer of that card
    (``card_customers``) when they leave through the same few sites; strangers on one card
    who fan out over a proxy pool stay their own: a card pool, not a company.
    ``max_networks`` 0 joins no one.
    """
    if max_networks <= 0:
        return groups
    return _declared_customers(
        accounts,
        card_customers(accounts, groups, exits, max_networks=max_networks),
        exits,
        max_networks=max_networks,
        max_reasoning_share=max_reasoning_share,
    )


def card_customers(
    accounts: pl.DataFrame, groups: pl.DataFrame, exits: pl.DataFrame, *, max_networks: int
) -> pl.DataFrame:
    """``groups`` with the holders of one card that no declared organisation uses made one
    customer when they are one payer at one place: the keys of no organisation or company
    domain join the company domain most of the card's other holders sign up with, or else
    are one customer of the card (``card:`` and the card). A company whose keys declare
    nothing (no organisation, free mail or no address) but pay
    with its card from its office and cloud region, whatever the keys send (an evaluation
    pipeline asks for the working on every request). A holder counts when most of its
    addresses are the card's own (two of its holders use one, and more of them than all other
    accounts together), in at most ``max_networks`` networks (``exit_network``), and all the
    card's own addresses lie in at most twice that many. A fleet's accounts on a pooled card
    fan out over a proxy pool's many networks, or meet the fleet's other cards on the same
    few exits (fan-out over cards): neither is one payer at one place.
    """
    card = pl.col("payment_fingerprint").fill_null("")
    table = accounts.select("account", card.alias("card")).join(groups, on="account")
    anchored = table.filter(pl.col("group").str.starts_with("org:"))["card"].unique()
    holders = table.filter(
        ~pl.col("group").str.starts_with("org:")
        & (pl.col("card") != "")
        & ~pl.col("card").is_in(anchored.to_list())
    ).filter(pl.len().over("card") >= 2)
    if holders.is_empty():
        return groups
    everyone = exits.select("account", "key").unique()
    used = everyone.join(holders.select("account", "card"), on="account").with_columns(
        pl.col("account").n_unique().over("card", "key").alias("holders")
    )
    # Everyone else on each of those addresses, counted in customers: a company's declared
    # keys on its other card share its office with these, and are one customer however many.
    users = everyone.join(
        table.select("account", "group", "card"), on="account", how="left"
    ).with_columns(pl.col("group").fill_null(pl.lit("acct:") + pl.col("account").cast(pl.Utf8)))
    others = (
        used.select("card", "key")
        .unique()
        .join(users.select("key", pl.col("card").alias("theirs"), "group"), on="key")
        .filter(pl.col("theirs").fill_null("") != pl.col("card"))
        .group_by("card", "key")
        .agg(pl.col("group").n_unique().alias("others"))
    )
    used = (
        used.join(others, on=["card", "key"], how="left")
        .with_columns(pl.col("others").fill_null(0))
        # The card's own address: two of its holders use it, and more of them than other
        # customers (a fleet's card pools meet on the same exits, each account a payer of its
        # own; a company's office is its own, its other cards' keys one customer).
        .with_columns(
            ((pl.col("holders") >= 2) & (pl.col("holders") > pl.col("others"))).alias("own")
        )
    )
    keys = used.filter(pl.col("own"))["key"].unique().to_list()
    networks = {key: exit_network(key) for key in keys}
    used = used.with_columns(
        pl.when(pl.col("own"))
        .then(pl.col("key").replace_strict(networks, default=None))
        .otherwise(None)
        .alias("network")
    )
    sites = used.group_by("card").agg(pl.col("network").drop_nulls().n_unique().alias("sites"))
    share = used.group_by("account", "card").agg(
        pl.col("own").mean().alias("share"),
        pl.col("network").drop_nulls().n_unique().alias("networks"),
    )
    # The customer is named by the company domain most of the card's holders that have one
    # sign up with, else by the card.
    name = (
        holders.filter(pl.col("group").str.starts_with("dom:"))
        .group_by("card", "group")
        .len()
        .sort(["card", "len", "group"], descending=[False, True, False])
        .group_by("card", maintain_order=True)
        .first()
        .select("card", pl.col("group").alias("name"))
    )
    joined = (
        share.join(sites, on="card")
        .filter(
            (pl.col("share") >= 0.5)
            & (pl.col("networks") <= max_networks)
            & (pl.col("sites") <= 2 * max_networks)
        )
        .filter(pl.len().over("card") >= 2)
        .join(name, on="card", how="left")
        .join(table.select("account", "group"), on="account")
        .filter(pl.col("group").str.starts_with("acct:"))
        .select("account", pl.coalesce("name", pl.lit("card:") + pl.col("card")).alias("anchor"))
    )
    return groups.join(joined, on="account", how="left").select(
        "account", pl.coalesce("anchor", "group").alias("group")
    )


def _declared_customers(
    accounts: pl.DataFrame,
    groups: pl.DataFrame,
    exits: pl.DataFrame,
    *,
    max_networks: int,
    max_reasoning_share: float,
) -> pl.DataFrame:
    """``customer_groups``' first part: undeclared keys joining a declared organisation or
    company domain on its card."""
    card = pl.col("payment_fingerprint").fill_null("")
    rank = (
        pl.when(pl.col("group").str.starts_with("org:"))
        .then(0)
        .when(pl.col("group").str.starts_with("dom:"))
        .then(1)
        .otherwise(2)
    )
    table = accounts.select(
        "account",
        card.alias("card"),
        (
            pl.col("reasoning_share").fill_null(0.0)
            if "reasoning_share" in accounts.columns
            else pl.lit(0.0)
        ).alias("reasoning"),
    ).join(groups, on="account")
    table = table.with_columns(rank.alias("rank"))
    # Each card's anchor: the declared organisation most of its holders are in, else the
    # company domain.
    anchors = (
        table.filter((pl.col("card") != "") & (pl.col("rank") < 2))
        .group_by("card", "group", "rank")
        .agg(pl.len().alias("n"))
        .sort(["card", "rank", "n", "group"], descending=[False, False, True, False])
        .group_by("card", maintain_order=True)
        .first()
        .select("card", pl.col("group").alias("anchor"), pl.col("rank").alias("anchor_rank"))
    )
    # Whose card it is: when the anchor's own accounts are at least as many as the card's
    # other holders (on this card, or counting all the organisation's keys: a company of
    # twenty keys with a few engineers' keys on one of its cards), the rest are its keys
    # whatever they send (a company's evaluation pipeline asks for the working on every
    # request); when they are fewer, a reasoning harvester on it is no key of theirs (a fleet
    # that declares an organisation on a few of its accounts to cover the rest).
    size = table.group_by("group").agg(pl.len().alias("size"))
    majority = (
        table.filter(pl.col("card") != "")
        .join(anchors, on="card")
        .join(size.rename({"group": "anchor"}), on="anchor")
        .group_by("card")
        .agg(
            (pl.col("group") == pl.col("anchor")).sum().alias("held"),
            pl.len().alias("holders"),
            pl.col("size").first(),
        )
        .select(
            "card",
            (
                (pl.col("held") * 2 >= pl.col("holders"))
                | (pl.col("size") >= pl.col("holders") - pl.col("held"))
            ).alias("theirs"),
        )
    )
    candidates = (
        table.join(anchors, on="card")
        .join(majority, on="card")
        .filter(
            (pl.col("rank") > pl.col("anchor_rank"))
            & ((pl.col("reasoning") < max_reasoning_share) | pl.col("theirs"))
        )
    )
    if candidates.is_empty():
        return groups
    used = exits.select("account", "key").unique()
    declared = table.join(
        candidates.select(pl.col("anchor").alias("group")).unique(), on="group"
    ).select("account", pl.col("group").alias("anchor"))
    own = (
        used.join(declared, on="account")
        .group_by("anchor", "key")
        .agg(pl.len().alias("users"))
        .join(declared.group_by("anchor").agg(pl.len().alias("size")), on="anchor")
    )
    theirs = own.select("anchor", "key", pl.lit(True).alias("theirs"))
    mine = (
        candidates.select("account", "anchor")
        .join(used, on="account")
        .join(theirs, on=["anchor", "key"], how="left")
        .with_columns(pl.col("theirs").fill_null(False))
    )
    keys = mine.filter(pl.col("theirs"))["key"].unique().to_list()
    networks = {key: exit_network(key) for key in keys}
    share = mine.group_by("account", "anchor").agg(
        pl.col("theirs").mean().alias("share"),
        pl.col("key")
        .filter(pl.col("theirs"))
        .replace_strict(networks, default=None)
        .n_unique()
        .alias("networks"),
    )
    joined = share.filter((pl.col("share") >= 0.5) & (pl.col("networks") <= max_networks)).select(
        "account", "anchor"
    )
    return groups.join(joined, on="account", how="left").select(
        "account", pl.coalesce("anchor", "group").alias("group")
    )


# The most rows ``key_pairs`` widens at once for the pairs of keys under the hub cap.
CLIQUE_PART_ROWS = 5_000_000


def key_pairs(
    links: pl.DataFrame,
    groups: pl.DataFrame,
    *,
    hub_cap: int,
    ring: int,
    kind_weights: dict,
    payers: pl.DataFrame | None = None,
    popular_payers: dict[str, int] | None = None,
) -> pl.DataFrame:
    """Pairs of unrelated accounts sharing a key: (a, b, kind, w, hub), a < b, summed per kind.

    ``links`` is (account, kind, key). A key with more than ``hub_cap`` accounts links each
    to its ``ring`` successors in a fixed pseudo-random order (so members stay connected
    without n^2 links) and is marked ``hub``. So is a key of a kind in ``popular_payers``
    used by more independent payers (``payers``: account, payer) than that kind's number: an
    exit of a commercial proxy network carries dozens of unrelated paying customers, and what
    they share there says as little as a NAT does (FRAUDAR's popular columns).
    """
    members = (
        links.select("account", "kind", "key")
        .unique()
        .join(groups, on="account", how="left")
        .with_columns(
            pl.len().over("kind", "key").alias("deg"),
            pl.col("group").n_unique().over("kind", "key").alias("groups"),
        )
        .filter((pl.col("deg") > 1) & (pl.col("groups") > 1))
    )
    if members.is_empty():
        return pl.DataFrame(schema=PAIR_SCHEMA)
    popular = pl.lit(False)
    if payers is not None and popular_payers:
        limits = pl.DataFrame(
            {"kind": list(popular_payers), "limit": list(popular_payers.values())},
            schema={"kind": pl.Utf8, "limit": pl.Int64},
        )
        members = (
            members.join(payers, on="account", how="left")
            .with_columns(pl.col("payer").n_unique().over("kind", "key").alias("payers"))
            .join(limits, on="kind", how="left")
            .drop("payer")
        )
        popular = pl.col("limit").is_not_null() & (pl.col("payers") > pl.col("limit"))
    members = members.with_columns(((pl.col("deg") > hub_cap) | popular).alias("is_hub"))
    weights = pl.DataFrame(
        {"kind": list(kind_weights), "kw": [float(v) for v in kind_weights.values()]}
    )

    def summed(pairs: pl.DataFrame) -> pl.DataFrame:
        return by_pair(
            pairs.join(weights, on="kind", how="left").with_columns(
                pl.col("w") * pl.col("kw").fill_null(1.0)
            )
        )

    small = members.filter(~pl.col("is_hub")).select("kind", "key", "account", "group", "deg")
    # The hub keys' rows in a fixed pseudo-random order within each key; a row's ring
    # neighbour ``step`` on is the row ``(pos + step) % deg`` of its key, found by its place
    # in this frame (the key's first row is ``pos`` rows up).
    big = (
        members.filter(pl.col("is_hub"))
        .select("kind", "key", "account", "group", "deg")
        .with_columns(pl.col("account").hash(seed=3).alias("order"))
        .sort("kind", "key", "order")
        .with_columns(pl.int_range(pl.len()).over("kind", "key").alias("pos"))
        .select("kind", "account", "group", "deg", "pos")
    )
    del members
    # Every pair of a key under the cap and of a hub's ring, made a part of the pairs at a
    # time (by the pair's first account, so that a pair is whole in its part, every term of
    # its weight summed there in one order) and summed: a key of d accounts under the cap is
    # d * d rows before they are halved, a hub's ring ``ring`` rows an account, and a run's
    # keys are millions (each row of ``small`` is one key's d). Only the summed pairs are
    # ever held whole.
    parts = max(1, -(-(int(small["deg"].sum() or 0) + ring * big.height) // CLIQUE_PART_ROWS))
    first = pl.col("a").hash(seed=31) % parts
    others = small.select("kind", "key", pl.col("account").alias("account_b"),
                          pl.col("group").alias("group_b"))  # fmt: skip
    found = []
    for i in range(parts):
        pieces = [
            summed(
                small.filter(pl.col("account").hash(seed=31) % parts == i)
                .join(others, on=["kind", "key"])
                .filter(
                    (pl.col("account") < pl.col("account_b"))
                    & (pl.col("group") != pl.col("group_b"))
                )
                .select(
                    pl.col("account").alias("a"),
                    pl.col("account_b").alias("b"),
                    "kind",
                    (1.0 / (pl.col("deg") - 1)).alias("w"),
                    pl.lit(False).alias("hub"),
                )
            )
        ]
        rings = []
        for step in range(1, ring + 1):
            partner = (
                pl.int_range(pl.len()) - pl.col("pos") + (pl.col("pos") + step) % pl.col("deg")
            )
            rings.append(
                big.with_columns(
                    pl.col("account").gather(partner).alias("account_b"),
                    pl.col("group").gather(partner).alias("group_b"),
                )
                .filter(pl.col("group") != pl.col("group_b"))
                .select(
                    pl.min_horizontal("account", "account_b").alias("a"),
                    pl.max_horizontal("account", "account_b").alias("b"),
                    "kind",
                    pl.lit(1.0 / (2 * ring)).alias("w"),
                    pl.lit(True).alias("hub"),
                )
                .filter(first == i)
            )
        if rings:
            # A pair found by both a small key and a hub's ring sums their summed weights
            # (each already weighted by its kind).
            pieces.append(summed(pl.concat(rings, how="vertical_relaxed")))
            del rings
        pairs = by_pair(pl.concat(pieces)) if len(pieces) > 1 else pieces[0]
        found.append(pairs.cast(PAIR_SCHEMA))
    return pl.concat(found) if len(found) > 1 else found[0]


def by_pair(pairs: pl.DataFrame) -> pl.DataFrame:
    """(a, b, kind, w, hub) summed per pair and kind, in one order whatever order the rows
    came in: a sum of floats depends on the order of its terms, joins and group-bys deliver
    their rows in a different order on every large run, and Leiden reads the last bits of
    the weights (``graph_edges``)."""
    return (
        pairs.sort("a", "b", "kind", "w")
        .group_by("a", "b", "kind", maintain_order=True)
        .agg(pl.col("w").sum(), pl.col("hub").all())
    )


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Row-wise MinHash Jaccard estimate of two (n, num_perm) signature arrays."""
    if len(sig_a) == 0:
        return np.zeros(0)
    return (sig_a == sig_b).mean(axis=1)


# The most pairs ``sync_pairs`` compares at once.
SYNC_PAIRS_AT_ONCE = 200_000


def sync_pairs(
    activity: pl.DataFrame,
    candidates: pl.DataFrame,
    groups: pl.DataFrame,
    *,
    window_buckets: int,
    bands: int,
    min_lift: float,
    min_jaccard: float,
    min_buckets: int = 12,
) -> pl.DataFrame:
    """Synchronised pairs of unrelated accounts: (a, b, jaccard, lift).

    ``activity`` is (account, active_buckets, bucket_sig). Candidates are the given pairs plus
    pairs whose activity signatures collide in an LSH band. Two independent accounts active in
    shares p and q of the window's buckets overlap with expected Jaccard pq / (p + q - pq);
    ``lift`` is how many times that the observed overlap is, so two always-on accounts (a
    coding agent and a benchmark runner) are not "synchronised" just for being busy.
    """
    from detection.minhash import band_keys

    active = activity.filter(pl.col("active_buckets") >= min_buckets)
    if active.height < 2:
        return pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "jaccard": pl.Float64})
    sigs = np.vstack(active["bucket_sig"].to_list()).astype(np.uint64)
    keys = band_keys(sigs, bands)
    banded = pl.DataFrame(
        {
            "account": np.repeat(active["account"].to_numpy(), keys.shape[1]),
            "kind": "activity",
            "key": keys.reshape(-1).astype(str),
        }
    )
    lsh = key_pairs(banded, groups, hub_cap=50, ring=3, kind_weights={"activity": 1.0})
    pairs = (
        pl.concat([candidates.select("a", "b"), lsh.select("a", "b")], how="vertical_relaxed")
        .unique()
        .join(groups.rename({"account": "a", "group": "ga"}), on="a")
        .join(groups.rename({"account": "b", "group": "gb"}), on="b")
        .filter(pl.col("ga") != pl.col("gb"))
    )
    # Each pair of two active accounts, by their rows in ``sigs``.
    rows = active.select(pl.col("account").alias("a")).with_row_index("ia", 0)
    pairs = pairs.join(rows, on="a").join(rows.rename({"a": "b", "ia": "ib"}), on="b")
    a_idx = pairs["ia"].to_numpy().astype(np.int64)
    b_idx = pairs["ib"].to_numpy().astype(np.int64)
    # Compared a slice of the pairs at a time: both sides' signatures of every pair at once
    # would be the pairs times the signature's length.
    jac = np.empty(len(a_idx))
    for lo in range(0, len(a_idx), SYNC_PAIRS_AT_ONCE):
        at = slice(lo, lo + SYNC_PAIRS_AT_ONCE)
        jac[at] = estimated_jaccard(sigs[a_idx[at]], sigs[b_idx[at]])
    buckets = active["active_buckets"].to_numpy().astype(float)
    p = np.clip(buckets[a_idx] / max(window_buckets, 1), 1e-6, 1)
    q = np.clip(buckets[b_idx] / max(window_buckets, 1), 1e-6, 1)
    expected = p * q / (p + q - p * q)
    lift = jac / expected
    keep = (jac >= min_jaccard) & (lift >= min_lift)
    return pl.DataFrame(
        {
            "a": pairs["a"].to_numpy()[keep],
            "b": pairs["b"].to_numpy()[keep],
            "jaccard": jac[keep],
            "lift": lift[keep],
        },
        schema={"a": pl.Int64, "b": pl.Int64, "jaccard": pl.Float64, "lift": pl.Float64},
    )


def graph_edges(edges: pl.DataFrame, *, min_weight: float) -> pl.DataFrame:
    """(a, b, w) summed per pair, pairs under ``min_weight`` dropped, weights capped at 1.

    The cap keeps one pair that shares a great deal from holding a group together alone.
    Summed in one order and returned in it (by pair), whatever order the edges came in:
    Leiden's result depends on the order of the edges it is given, and a large run's grouped
    frames come in a different order every time.
    """
    return (
        edges.sort("a", "b", "w")
        .group_by("a", "b", maintain_order=True)
        .agg(pl.col("w").sum())
        .filter(pl.col("w") >= min_weight)
        .with_columns(pl.col("w").clip(upper_bound=1.0))
    )


def communities(
    edges: pl.DataFrame,
    *,
    min_weight: float,
    resolution: float,
    objective: str = "CPM",
    seed: int = 7,
) -> dict[int, int]:
    """account -> community index, by Leiden over links of at least ``min_weight``.

    ``edges`` is (a, b, w). Accounts with no link get no community. The default objective is
    the Constant Potts Model: a group stays together while its members' links average more
    than ``resolution`` per pair. Unlike modularity, CPM does not split a graph that is one
    dense fleet, and it has no resolution limit hiding small fleets inside big components.
    (It does cut a large *sparse* fleet into pieces; ``merge_communities`` joins them again.)
    """
    strong = graph_edges(edges, min_weight=min_weight)
    if strong.is_empty():
        return {}
    nodes = np.unique(np.concatenate([strong["a"].to_numpy(), strong["b"].to_numpy()]))
    position = {int(n): i for i, n in enumerate(nodes)}
    pairs = [
        (position[a], position[b])
        for a, b in zip(strong["a"].to_list(), strong["b"].to_list(), strict=True)
    ]
    graph = ig.Graph(n=len(nodes), edges=pairs)
    graph.es["weight"] = strong["w"].to_list()
    # igraph draws from Python's ``random``; a fixed seed makes a run reproducible.
    ig.set_random_number_generator(random.Random(seed))
    try:
        parts = graph.community_leiden(
            objective_function=objective,
            weights="weight",
            resolution=resolution,
            n_iterations=-1,
        )
    finally:
        ig.set_random_number_generator(random)
    return {int(nodes[v]): int(c) for v, c in enumerate(parts.membership)}


def merge_communities(
    edges: pl.DataFrame,
    community: dict[int, int],
    *,
    eligible: set[int],
    min_lift: float,
    min_weight: float,
    min_piece: int = 1,
) -> dict[int, int]:
    """``community`` with eligible communities of one sparse fleet joined again.

    CPM keeps a group while its links average more than the resolution per pair, so a large
    fleet whose accounts each share only a few proxy exits (a sparse graph: a few partners
    each, however big the fleet) comes out in pieces. Two eligible communities are joined
    when the links between them are at least ``min_lift`` times what chance would give two
    groups with their numbers of links (``d_A d_B / 2m``, the comparison modularity makes):
    pieces of one fleet share far more with each other than with anyone else, while distinct
    fleets, or a fleet and its bystanders, meet only on the odd common exit. ``edges`` are
    the links the communities were found on (``graph_edges`` applies the same filter).

    A piece of fewer than ``min_piece`` accounts joins one community at most, the one it is
    most tied to, and bridges nothing: one account's few links are many times what chance
    gives so small a piece, with anyone, so two fleets it happens to touch (a customer on an
    exit of each) would otherwise become one.
    """
    if len(eligible) < 2:
        return community
    strong = graph_edges(edges, min_weight=min_weight)
    cmap = pl.DataFrame(
        {"acct": list(community), "c": list(community.values())},
        schema={"acct": pl.Int64, "c": pl.Int64},
    )
    # Every sum here is taken in one order (sorted first), whatever order the joins give:
    # the lifts' last bits decide which pieces are joined first.
    tagged = (
        strong.join(cmap.rename({"acct": "a", "c": "ca"}), on="a")
        .join(cmap.rename({"acct": "b", "c": "cb"}), on="b")
        .sort("a", "b")
    )
    total = 2 * float(tagged["w"].sum())
    degree = (
        pl.concat(
            [
                tagged.select(pl.col("ca").alias("c"), "w"),
                tagged.select(pl.col("cb").alias("c"), "w"),
            ]
        )
        .sort("c", "w")
        .group_by("c", maintain_order=True)
        .agg(pl.col("w").sum().alias("d"))
    )
    cut = (
        tagged.filter(
            (pl.col("ca") != pl.col("cb"))
            & pl.col("ca").is_in(list(eligible))
            & pl.col("cb").is_in(list(eligible))
        )
        .select(
            pl.min_horizontal("ca", "cb").alias("c1"),
            pl.max_horizontal("ca", "cb").alias("c2"),
            "w",
        )
        .sort("c1", "c2", "w")
        .group_by("c1", "c2", maintain_order=True)
        .agg(pl.col("w").sum().alias("cut"))
        .join(degree.rename({"c": "c1", "d": "d1"}), on="c1")
        .join(degree.rename({"c": "c2", "d": "d2"}), on="c2")
        .with_columns((pl.col("cut") * total / (pl.col("d1") * pl.col("d2"))).alias("lift"))
        .filter(pl.col("lift") >= min_lift)
        .sort("lift", "c1", "c2", descending=[True, False, False])
    )
    parent = {c: c for c in eligible}

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    size = Counter(community.values())
    placed: set[int] = set()  # small pieces already joined to a community
    for c1, c2 in cut.select("c1", "c2").iter_rows():
        small = {c for c in (c1, c2) if size[c] < min_piece}
        if small & placed:
            continue
        r1, r2 = root(c1), root(c2)
        if r1 != r2:
            parent[max(r1, r2)] = min(r1, r2)
            placed |= small
    return {acct: root(c) if c in parent else c for acct, c in community.items()}


def match_campaigns(
    new: dict[int, set[int]], old: dict[int, set[int]], *, min_overlap: float
) -> dict[int, int]:
    """new community -> earlier campaign it continues, by member overlap, one to one.

    A pair qualifies when their shared members are at least ``min_overlap`` of the smaller
    one; the largest overlaps are matched first, so a fleet that grows, shrinks or loses a
    splinter keeps its identity, and a splinter becomes a new campaign.
    """
    candidates = []
    for n_key, n_members in new.items():
        for o_key, o_members in old.items():
            shared = len(n_members & o_members)
            if shared and shared >= min_overlap * min(len(n_members), len(o_members)):
                candidates.append((shared, n_key, o_key))
    matched: dict[int, int] = {}
    used: set[int] = set()
    for _shared, n_key, o_key in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if n_key not in matched and o_key not in used:
            matched[n_key] = o_key
            used.add(o_key)
    return matched
