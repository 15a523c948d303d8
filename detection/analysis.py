"""One run's analysis from its chunks' features: signals, scores, communities, flags. Pure.

``analyse`` is what the run's finalise step and a backtest both call: the first persists
the result, the second only compares what two configurations would flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from detection import clustering, coaction, onset, scoring
from detection import signals as sig
from detection.features import LINK_SCHEMA
from detection.templating import Bands, key_parts, template_rows

if TYPE_CHECKING:
    from detection.config import DetectionParams

ACCOUNT_SCHEMA = {
    "account": pl.Int64,
    "account_id": pl.Utf8,
    "plan": pl.Utf8,
    "org_id": pl.Utf8,
    "email_domain": pl.Utf8,
    "payment_fingerprint": pl.Utf8,
    "created_at": pl.Datetime("us", "UTC"),
}
# How much one shared key of each kind weighs in the campaign graph.
LINK_WEIGHTS = {
    "ip": 1.0,
    "ua": 0.3,
    "payment": 2.0,
    "activity": 1.0,
    "coaction": 1.0,
    "start": 1.0,
}


@dataclass
class Analysis:
    frame: pl.DataFrame  # one row per account, features and derived columns
    scores: scoring.Scores
    decision: scoring.Decision
    membership: np.ndarray  # community per row, -1 for none
    pairs: pl.DataFrame
    sync: pl.DataFrame
    coaction: pl.DataFrame  # (a, b, cells, days, lift, exit_overlap): accounts acting together
    starts: pl.DataFrame  # (a, b, templates, minutes): began together, same uncommon templates
    # (account, key, item): sampled prompts' LSH bands, of accounts in a community or campaign
    templates: pl.DataFrame
    # Rows the known-good list held back from a flag (``hold_back``); None before it ran.
    known_good: np.ndarray | None = None
    # Each community of ``membership`` that was no campaign -> why (``scoring.HELD``), and
    # each account of a campaign's community that was not its member -> why
    # (``scoring.LEFT_OUT``), as the communities were first decided.
    held: dict[int, str] = field(default_factory=dict)
    left_out: dict[int, str] = field(default_factory=dict)

    @property
    def accounts(self) -> np.ndarray:
        return self.frame["account"].to_numpy()


def analyse(
    *,
    features: pl.DataFrame,
    links: pl.DataFrame,
    models: pl.DataFrame,
    accounts: pl.DataFrame,
    window_start: datetime,
    window_end: datetime,
    params: DetectionParams,
    templates: pl.DataFrame | Bands | None = None,
    cells: coaction.Cells | None = None,
) -> Analysis:
    """``templates`` (``template_rows``) and ``cells``: the template bands and co-action
    cells when they are held apart from ``links`` (a run's finalise step reads its chunks
    one at a time and keeps them so, spilled to disk: ``Bands``, ``coaction.Cells``);
    otherwise they are the links of those kinds."""
    accounts = accounts.cast(ACCOUNT_SCHEMA)
    frame = accounts.join(features, on="account", how="inner").sort("account")
    links = links.cast(LINK_SCHEMA)
    # One customer's keys are one organisation, declared or not (``customer_groups``).
    groups = clustering.customer_groups(
        frame.select("account", "payment_fingerprint", "reasoning_share"),
        clustering.relatedness_groups(frame, params.free_mail_domains),
        links.filter(pl.col("kind") == "ip").select("account", "key"),
        max_networks=params.customer_exit_networks,
        max_reasoning_share=params.signals.reasoning_elicitation.threshold,
    )
    payment = frame.filter(pl.col("payment_fingerprint").fill_null("") != "").select(
        "account",
        pl.lit("payment").alias("kind"),
        pl.col("payment_fingerprint").alias("key"),
        pl.lit(0, pl.Int64).alias("item"),
    )
    if templates is None:
        templates = template_rows(links)
    # Shared templates are a signal, not a link: honest strangers and rival fleets ask alike,
    # and content links would merge distinct fleets; fleets are told apart by infrastructure,
    # cards and shifts. So template bands never become pairs (a fleet's template is shared by
    # all its members: its pairs would grow with the square of the fleet).
    # Co-action cells pair accounts only when they share a cell, a crowded account with a
    # capped number of them (``coaction.coaction_pairs``).
    if cells is None:
        cells = coaction.Cells.of(
            links.filter(pl.col("kind") == "coaction"), bucket_minutes=params.coaction_minutes
        )
    all_links = pl.concat(
        [links.filter(~pl.col("kind").is_in(["template", "coaction"])), payment.cast(LINK_SCHEMA)]
    )
    pairs = clustering.key_pairs(
        all_links,
        groups,
        hub_cap=params.hub_cap,
        ring=params.hub_ring_neighbours,
        kind_weights=LINK_WEIGHTS,
        payers=clustering.independent_payers(frame, groups),
        popular_payers={"ip": params.popular_exit_payers},
    )
    # The links are pairs now; the rest of the analysis reads those.
    del links, all_links, payment
    window_buckets = int(
        (window_end - window_start).total_seconds() // (60 * params.sync_bucket_minutes)
    )
    sync = clustering.sync_pairs(
        frame.select("account", "active_buckets", "bucket_sig"),
        pairs,
        groups,
        window_buckets=window_buckets,
        bands=params.minhash_bands,
        min_lift=params.sync_min_lift,
        min_jaccard=params.sync_min_jaccard,
    )
    # What the pair counting needs of all the cells, made once for the pairs and the crowded.
    summary = coaction.CellSummary.of(cells, groups)
    acting = coaction.coaction_pairs(
        cells,
        groups,
        frame.select("account", "exit_sig"),
        window_buckets=int(
            (window_end - window_start).total_seconds() // (60 * params.coaction_minutes)
        ),
        bucket_minutes=params.coaction_minutes,
        cell_cap=params.coaction_cell_cap,
        min_days=params.coaction_min_days,
        min_lift=params.coaction_min_lift,
        min_exit_overlap=params.coaction_min_exit_overlap,
        summary=summary,
    )
    frame = frame.join(
        coaction.crowded_accounts(
            cells, groups, cell_cap=params.coaction_cell_cap, summary=summary
        ),
        on="account",
        how="left",
    )
    # The cells are pairs and columns now.
    del cells, summary
    starts = onset.alike(
        onset.start_pairs(
            frame.select("account", "created_at", "first_ts"),
            templates,
            groups,
            window_start,
            params,
        ),
        templates,
    )
    # Young accounts that moved onto a new model within a day of its release began there.
    # Either way a pair works much the same templates (``onset.alike``), not a few phrases
    # that two operators' templates happen to share.
    moves = onset.alike(
        onset.move_pairs(
            models, frame.select("account", "created_at"), templates, groups, window_start, params
        ),
        templates,
    ).join(starts.select("a", "b"), on=["a", "b"], how="anti")
    starts = pl.concat([starts, moves]).sort("a", "b")
    # Working the same hours strengthens a link between accounts that also
    # share an address, a client or a card, but does not link strangers on its own: every crew
    # (and every office) on the same clock shares its hours.
    infra = pairs.select("a", "b", "kind", "w")
    linked_sync = sync.join(infra.select("a", "b").unique(), on=["a", "b"], how="semi")
    frame = sig.derive(
        frame,
        starts=starts,
        pairs=pairs,
        sync=sync,
        linked_sync=linked_sync,
        coaction=acting,
        template_links=templates,
        groups=groups,
        models=models,
        window_start=window_start,
        window_end=window_end,
        params=params,
    ).sort("account")
    scores = scoring.score(sig.compute_all(frame, params), params)
    shifts = linked_sync.select(
        "a",
        "b",
        pl.lit("activity").alias("kind"),
        (pl.col("jaccard") * LINK_WEIGHTS["activity"]).alias("w"),
    )
    # Acting together (the same template, exits and minutes, day after day) links strangers on
    # its own: it is what a fleet behind a shared proxy network cannot help showing.
    together = acting.select(
        "a", "b", pl.lit("coaction").alias("kind"), pl.lit(LINK_WEIGHTS["coaction"]).alias("w")
    )
    # Beginning in the same hour and then sending the same uncommon templates links strangers
    # on its own too: a fleet born for a release, or woken from dormancy on one afternoon.
    began = starts.select(
        "a", "b", pl.lit("start").alias("kind"), pl.lit(LINK_WEIGHTS["start"]).alias("w")
    )
    edges = pl.concat([infra, shifts, together, began], how="vertical_relaxed")
    community = clustering.communities(
        edges.select("a", "b", "w"),
        min_weight=params.link_min_weight,
        resolution=params.leiden_resolution,
        objective=params.leiden_objective,
    )
    ids = frame["account"].to_list()
    organisation = (frame["group"].rank("dense") - 1).cast(pl.Int64).to_numpy()
    membership = np.array([community.get(a, -1) for a in ids], dtype=np.int64)
    community = clustering.merge_communities(
        edges.select("a", "b", "w"),
        community,
        eligible=_harvesting(membership, scores.behaviour, organisation, params),
        min_lift=params.campaign_merge_min_lift,
        min_weight=params.link_min_weight,
        min_piece=params.campaign_min_accounts,
    )
    whole = np.array([community.get(a, -1) for a in ids], dtype=np.int64)
    # Ties: what links particular accounts (addresses that are not hubs, cards, shifts,
    # co-action), as row indexes and a bit per kind.
    position = {a: i for i, a in enumerate(ids)}
    ties = (
        pl.concat(
            [
                pairs.filter(~pl.col("hub") & pl.col("kind").is_in(["ip", "payment"])).select(
                    "a", "b", "kind"
                ),
                shifts.select("a", "b", "kind"),
                together.select("a", "b", "kind"),
                began.select("a", "b", "kind"),
            ]
        )
        .filter(pl.col("a").is_in(ids) & pl.col("b").is_in(ids))
        .unique()
        .sort("a", "b", "kind")
    )
    tie_a = np.array([position[a] for a in ties["a"].to_list()], dtype=np.int64)
    tie_b = np.array([position[b] for b in ties["b"].to_list()], dtype=np.int64)
    bits = np.array([scoring.TIE_BITS[k] for k in ties["kind"].to_list()], dtype=np.int64)

    # Accounts whose risk could carry a campaign: a tie must reach one (``community_tie_kinds``).
    carried = scores.risk >= params.corroborated_campaign_threshold

    def tie_kinds_in(membership: np.ndarray) -> np.ndarray:
        """Each row's kinds of tie (``scoring.TIE_BITS``) to others of its community."""
        tie_kinds = community_tie_kinds(membership, tie_a, tie_b, bits, carried, params)
        own = own_template_ties(templates, ids, membership, organisation)
        tie_kinds[own] |= scoring.TIE_BITS["template"]
        return tie_kinds

    def decided(membership: np.ndarray, parent: np.ndarray | None = None) -> scoring.Decision:
        kinds = _evidence_kinds(
            edges, {a: int(c) for a, c in zip(ids, membership.tolist(), strict=True) if c >= 0}
        )
        return scoring.decide(
            scores, membership, kinds, params, organisation, tie_kinds_in(membership), parent
        )

    decision = decided(whole)
    held, left_out = decision.held, decision.left_out
    # A community that holds two fleets is decided again with the second one a community of
    # its own (its ties and evidence those among its own accounts); the two campaigns that
    # makes replace the one, when both stand.
    membership, parent = scoring.split_fleets(
        scores, whole, organisation, params.campaign_min_accounts
    )
    if (membership != whole).any():
        # Only the communities cut are decided again (the rest are none in that pass).
        cut = np.isin(whole, np.unique(whole[membership != whole]))
        again = decided(np.where(cut, membership, -1), np.where(cut, parent, -1))
        decision = scoring.both_fleets(decision, again, whole, membership)
        # A community held whole whose two fleets stand apart is no longer held.
        made = set(np.unique(whole[decision.campaign_of >= 0]).tolist())
        held = {c: why for c, why in held.items() if c not in made}
    membership = whole
    # Outside a campaign, working its own templates is a tie to it as inside (corroborating).
    senders = own_template_senders(templates, ids, decision.campaign_of, organisation)
    decision = scoring.join_by_signature(
        scores,
        decision,
        tie_a,
        tie_b,
        bits,
        params,
        organisation,
        template_ties=set(zip(senders["row"].to_list(), senders["c"].to_list(), strict=True)),
    )
    # A campaign's evidence reads its members' bands: only those of accounts in a community
    # or a campaign are kept (``hold_back`` only ever takes members out).
    kept = frame.select("account").filter(
        pl.Series((membership >= 0) | (decision.campaign_of >= 0))
    )
    templates = pl.concat(
        part.join(kept, on="account", how="semi") for part in key_parts(templates)
    )
    return Analysis(
        frame, scores, decision, membership, pairs, sync, acting, starts, templates,
        held=held, left_out=left_out,
    )  # fmt: skip


def hold_back(analysis: Analysis, known_good: np.ndarray) -> Analysis:
    """``analysis`` with the rows in ``known_good`` (a bool mask) scored but not flagged: out
    of their campaigns, and a campaign left with no member is no campaign. Their scores and
    signals stay as they are, so the account's page still shows what detection saw."""
    decision = analysis.decision
    flagged = decision.flagged & ~known_good
    campaign_of = np.where(known_good, -1, decision.campaign_of)
    campaigns = {}
    for community, info in decision.campaigns.items():
        members = np.asarray(info["members"], dtype=np.int64)
        members = members[~known_good[members]] if len(members) else members
        if len(members):
            campaigns[community] = {**info, "members": members}
        else:
            campaign_of = np.where(campaign_of == community, -1, campaign_of)
    analysis.decision = scoring.Decision(flagged, campaign_of, campaigns)
    analysis.known_good = known_good & decision.flagged
    return analysis


def community_tie_kinds(
    membership: np.ndarray,
    tie_a: np.ndarray,
    tie_b: np.ndarray,
    bits: np.ndarray,
    carried: np.ndarray,
    params: DetectionParams,
) -> np.ndarray:
    """Each row's kinds of tie (``scoring.TIE_BITS``) to others of its community
    (``membership``, -1 for none).

    A tie is rows ``tie_a`` and ``tie_b`` tied by the kind ``bits``; it counts when both are
    in one community and at least one of them is ``carried`` (risk enough to carry a
    campaign): two look-alikes tied to each other inside a fleet's community are tied to
    their own kind, not to the fleet."""
    inside = (membership[tie_a] >= 0) & (membership[tie_a] == membership[tie_b])
    inside &= carried[tie_a] | carried[tie_b]
    tie_kinds = np.zeros(len(membership), dtype=np.int64)
    np.bitwise_or.at(tie_kinds, tie_a[inside], bits[inside])
    np.bitwise_or.at(tie_kinds, tie_b[inside], bits[inside])
    # Co-action is a count against chance: one partner can be a coincidence, so it ties an
    # account to its community from as many partners as the signal's threshold. So is
    # beginning together.
    for kind, spec in (("coaction", params.signals.coaction),
                       ("start", params.signals.started_together)):  # fmt: skip
        bit = scoring.TIE_BITS[kind]
        partners = np.zeros(len(membership), dtype=np.int64)
        kind_inside = inside & (bits == bit)
        np.add.at(partners, tie_a[kind_inside], 1)
        np.add.at(partners, tie_b[kind_inside], 1)
        tie_kinds[partners < spec.threshold] &= ~bit
    return tie_kinds


def _harvesting(
    membership: np.ndarray,
    behaviour: np.ndarray,
    organisation: np.ndarray,
    params: DetectionParams,
) -> set[int]:
    """Communities enough of whose organisations harvest to be a campaign (``scoring.decide``)."""
    share = params.campaign_min_behaviour_share
    found = set()
    for rows in scoring.community_rows(membership):
        total, harvesting = scoring.harvesting_organisations(behaviour, rows, organisation)
        if harvesting >= share * total:
            found.add(int(membership[rows[0]]))
    return found


# A community's own template: a band that at least this share of the community's
# organisations send, and that at least as many of its senders are inside as outside.
OWN_TEMPLATE_SHARE = 0.1
# An account works the community's own templates when it sends at least this many of those
# bands: a template is many bands (its fixed words), one band in common is a coincidence.
OWN_TEMPLATE_MIN_BANDS = 3


def own_template_ties(
    templates: pl.DataFrame | Bands,
    ids: list[int],
    membership: np.ndarray,
    organisation: np.ndarray,
) -> np.ndarray:
    """Rows that send their community's own templates: LSH bands sent by at least
    ``OWN_TEMPLATE_SHARE`` of the community's organisations (and three), and mostly from
    inside it, at least ``OWN_TEMPLATE_MIN_BANDS`` of them. A fleet's harness is its own: its
    members send it, hardly anyone else does, and its fixed words fill many bands. A popular
    tool's harness is sent by hundreds outside any one community, and a customer who shares
    a fleet's exits and its popular agent meets the fleet's own bands at most by the odd
    coincidence of one band (the agent's harness next to a short turn)."""
    out = np.zeros(len(ids), dtype=bool)
    counts = _own_band_counts(templates, ids, membership, organisation)
    row, c = counts["row"].to_numpy(), counts["c"].to_numpy()
    out[row[(membership[row] == c) & (counts["len"].to_numpy() >= OWN_TEMPLATE_MIN_BANDS)]] = True
    return out


def own_template_senders(
    templates: pl.DataFrame | Bands,
    ids: list[int],
    membership: np.ndarray,
    organisation: np.ndarray,
) -> pl.DataFrame:
    """(row, c): rows outside community ``c`` that send at least ``OWN_TEMPLATE_MIN_BANDS``
    of its own template bands (``own_template_ties``, with ``membership`` the campaigns): a
    fleet's account that Leiden left beside its campaign still works the campaign's harness."""
    counts = _own_band_counts(templates, ids, membership, organisation)
    outside = membership[counts["row"].to_numpy()] != counts["c"].to_numpy()
    return counts.filter(pl.Series(outside) & (pl.col("len") >= OWN_TEMPLATE_MIN_BANDS)).select(
        "row", "c"
    )


def _own_band_counts(
    templates: pl.DataFrame | Bands,
    ids: list[int],
    membership: np.ndarray,
    organisation: np.ndarray,
) -> pl.DataFrame:
    """(row, c, len): how many of community ``c``'s own template bands each row of ``ids``
    sends (inside ``c`` or not). A community's own bands: sent by at least
    ``OWN_TEMPLATE_SHARE`` of its organisations (and three), and by at least as many of its
    members as of everyone else. Counted a part of the keys at a time (``key_parts``): a
    run's tens of millions of band rows are never made unique all at once."""
    schema = {"row": pl.Int64, "c": pl.Int64, "len": pl.UInt32}
    if templates.is_empty() or not (membership >= 0).any():
        return pl.DataFrame(schema=schema)
    rows = pl.DataFrame(
        {"account": ids, "row": np.arange(len(ids)), "c": membership, "org": organisation},
        schema={"account": pl.Int64, "row": pl.Int64, "c": pl.Int64, "org": pl.Int64},
    )
    members = rows.filter(pl.col("c") >= 0)
    sizes = members.group_by("c").agg(pl.col("org").n_unique().alias("n"))
    counted = []
    for part in key_parts(templates):
        # Only the members' bands, and who sends each of those.
        sent = (
            part.join(members, on="account", how="semi")
            .select("account", "key")
            .unique()
            .join(members, on="account")
        )
        senders = (
            part.join(sent.select("key").unique(), on="key", how="semi")
            .join(rows, on="account", how="semi")
            .select("account", "key")
            .unique()
        )
        bands = (
            sent.join(senders.group_by("key").agg(pl.len().alias("users")), on="key")
            .group_by("c", "key")
            .agg(
                pl.col("org").n_unique().alias("orgs"),
                pl.len().alias("inside"),
                pl.col("users").first(),
            )
            .join(sizes, on="c")
            .filter(
                (pl.col("orgs") >= 3)
                & (pl.col("orgs") >= OWN_TEMPLATE_SHARE * pl.col("n"))
                & (2 * pl.col("inside") >= pl.col("users"))
            )
            .select("c", "key")
        )
        counted.append(
            senders.join(bands, on="key")
            .join(rows.select("account", "row"), on="account")
            .group_by("row", "c")
            .len()
        )
    return pl.concat(counted).group_by("row", "c").agg(pl.col("len").sum()).cast(schema)


def _evidence_kinds(edges: pl.DataFrame, community: dict[int, int]) -> dict[int, set[str]]:
    """Kinds of link found inside each community (both ends in it)."""
    if not community or edges.is_empty():
        return {}
    cmap = pl.DataFrame(
        {"acct": list(community), "c": list(community.values())},
        schema={"acct": pl.Int64, "c": pl.Int64},
    )
    inside = (
        edges.join(cmap.rename({"acct": "a", "c": "ca"}), on="a")
        .join(cmap.rename({"acct": "b", "c": "cb"}), on="b")
        .filter(pl.col("ca") == pl.col("cb"))
        .group_by("ca")
        .agg(pl.col("kind").unique())
    )
    return {int(c): set(kinds) for c, kinds in inside.iter_rows()}


def campaign_evidence(analysis: Analysis, rows: np.ndarray) -> dict:
    """What a campaign's members share, in numbers and words, for its case."""
    frame = analysis.frame[rows.tolist()]
    members = set(frame["account"].to_list())
    inside = analysis.pairs.filter(pl.col("a").is_in(members) & pl.col("b").is_in(members))
    kinds = {k: int(n) for k, n in inside.group_by("kind").len().iter_rows()}
    sync_inside = analysis.sync.filter(pl.col("a").is_in(members) & pl.col("b").is_in(members))
    if sync_inside.height:
        kinds["activity"] = sync_inside.height
    together = analysis.coaction.filter(pl.col("a").is_in(members) & pl.col("b").is_in(members))
    if together.height:
        kinds["coaction"] = together.height
    began = analysis.starts.filter(pl.col("a").is_in(members) & pl.col("b").is_in(members))
    if began.height:
        kinds["start"] = began.height
    shared = (
        analysis.templates.filter(pl.col("account").is_in(members))
        .join(frame.select("account", "group"), on="account", how="left")
        .filter(pl.col("group").n_unique().over("key") > 1)
        .select(pl.col("account").n_unique())
        .item()
    )
    if shared:
        kinds["template"] = int(shared)
    groups = frame["group"].n_unique()
    signal_share = []
    for j, s in enumerate(analysis.scores.signals):
        on = float((analysis.scores.strengths[rows, j] > 0).mean()) if len(rows) else 0.0
        if on > 0:
            signal_share.append(
                {
                    "name": s.name,
                    "share_of_members": round(on, 3),
                    "median_value": round(float(np.median(s.value[rows])), 4),
                    "norm": round(float(np.median(s.norm[rows])), 4),
                }
            )
    signal_share.sort(key=lambda d: -d["share_of_members"])
    words = {
        "ip": "IP-address pairs",
        "ua": "user-agent pairs",
        "payment": "shared-card pairs",
        "template": "accounts sharing prompt templates",
        "activity": "synchronised pairs",
        "coaction": "pairs acting together (same template, same exits, same minutes, on "
        "several days)",
        "start": "pairs that began in the same hour (or, young, moved onto a new model within "
        "a day of its release) and send the same uncommon templates",
    }
    # Groups are declared organisations (with the undeclared keys that pay with their card
    # from their exits), company e-mail domains, one card's holders at one site
    # (clustering.card_customers), or an account on its own
    # (clustering.customer_groups): calling them organisations would name organisations
    # nobody declared, beside a case that says none were.
    whose = (
        "with no organisation, company domain or card-and-site in common"
        if groups == len(rows)
        else f"of {groups} unrelated owners (by organisation, company e-mail domain, or one card "
        "used from one site)"
    )
    summary = f"{len(rows)} accounts {whose} linked by " + ", ".join(
        f"{n} {words.get(k, k)}" for k, n in sorted(kinds.items(), key=lambda x: -x[1])
    )
    ties = [
        LOOKALIKE_GAP[k] for k in ("coaction", "start", "payment", "ip", "activity") if k in kinds
    ]
    campaign = int(analysis.decision.campaign_of[rows[0]]) if len(rows) else -1
    info = analysis.decision.campaigns.get(campaign, {})
    if int(info.get("ties", 0)) & scoring.TIE_BITS["template"]:
        ties.append(LOOKALIKE_GAP["own_template"])
    if ties:
        summary += ". " + " ".join(ties)
    return {"links": kinds, "organisations": groups, "signals": signal_share, "summary": summary}


# Why each tie sets a fleet apart from the customers who look like it: the sentence a case
# shows beside the tie, so an analyst sees what a look-alike would lack.
LOOKALIKE_GAP = {
    "coaction": "Acting together: customers of one popular tool send the same template, but "
    "each at their own hours and from their own addresses; these accounts work it from the "
    "same exits in the same minutes, day after day.",
    "start": "Began together: a launch's sign-ups and customers back after a newsletter also "
    "start in the same hour, and early adopters move to a new model within hours of its "
    "release, but each asks their own questions; these accounts registered or woke from weeks "
    "of silence in the same hour, or were registered days before a release and moved onto the "
    "new model within a day of it, and then sent the same uncommon templates, templates hardly "
    "anyone else sends.",
    "payment": "Shared cards: one customer's own keys are one organisation and never count, "
    "nor do its keys that declare no organisation but pay with its card from its few corporate "
    "exits without asking for the working; these cards pay for accounts that no organisation "
    "holds together.",
    "ip": "Shared addresses: busy exits (NATs, VPNs, proxy networks) are hubs that link only "
    "weakly, and a company's few corporate exits carry its own keys, declared or not, which "
    "count as one organisation; these addresses are shared by few accounts, all of them here.",
    "activity": "Shared shifts: always-on customers overlap only as much as chance gives; "
    "these accounts overlap several times more, on addresses or cards they also share.",
    "own_template": "Its own templates: customers of a popular tool share its harness with "
    "hundreds of strangers outside any one group; most of this campaign's members send "
    "templates hardly anyone outside it sends, and each member also has another tie to it "
    "(the templates alone make no member).",
}
