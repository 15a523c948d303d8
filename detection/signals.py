"""Detection signals: small named functions, each a value per account with a norm and a reason.

Every signal takes the run's account frame (features from ``detection.features`` plus the
cross-account columns ``derive`` adds) and returns a ``Signal``: the value per account, what
is typical for the account's plan (the plan median), and a sentence template an analyst can
read. Thresholds and weights are not here: they come from the run's ``DetectionParams`` and
``detection.scoring`` applies them, so an admin can retune without a release.

Families matter for flagging (``scoring``): *content* (what is asked), *coordination* (what is
shared with unrelated accounts), *volume*, *rhythm* and *intelligence* (what partners and other
systems reported). Legitimate look-alikes light one family
(a benchmark runner: content; a campus NAT or a VPN: part of coordination; a coding agent:
content and rhythm); a fleet lights several.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from detection import onset
from detection.templating import Bands, key_parts

if TYPE_CHECKING:
    from detection.config import DetectionParams

CONTENT, COORDINATION, VOLUME, RHYTHM = "content", "coordination", "volume", "rhythm"
# What others know: indicators partners shared, flags raised by other systems. Evidence that
# does not come from this console's own view of the traffic, so a family of its own.
INTELLIGENCE = "intelligence"
# Content signals that say *what* an account asks for: the kind of output a fleet harvests.
# (Templating says how prompts are made, which every automated client shares.)
TARGETS = frozenset({"reasoning_elicitation", "capability_targeting"})
# Coordination signals that tie an account to particular other accounts (the same addresses,
# card, uncommon client, shifts or sign-up minutes). The rest of the family is circumstantial
# on its own: a cloud egress, an early move to a new model, prompts that strangers also ask (a
# public benchmark) are what honest customers show too.
TIES = frozenset(
    {
        "shared_infrastructure",
        "shared_payment",
        "user_agent_reuse",
        "registration_burst",
        "synchronised_activity",
        "coaction",
        "started_together",
    }
)


@dataclass
class Signal:
    name: str
    family: str
    value: np.ndarray
    norm: np.ndarray
    # Formatted with value, norm and the extras (one value per account) for the explanation.
    reason: str
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    # A value at least three quarters of all accounts reach (``compute_all`` sets it); when
    # that reaches the threshold, the signal is no evidence (``scoring``).
    common: np.ndarray | None = None
    # Of a signal in ``TIES``: per account, whether it ties the account to particular others
    # (``scoring.score``'s ``tied``); None where it does wherever it is on.
    ties: np.ndarray | None = None

    def explain(self, i: int) -> str:
        values = {k: v[i] for k, v in self.extras.items()}
        return self.reason.format(value=self.value[i], norm=self.norm[i], **values)


SignalFn = Callable[[pl.DataFrame, "DetectionParams"], Signal]
# Every signal, in registration order; ``SignalWeights`` in ``detection.config`` declares a
# weight, threshold and saturation under each one's name.
SIGNALS: list[SignalFn] = []


def signal(fn: SignalFn) -> SignalFn:
    SIGNALS.append(fn)
    return fn


# Below this many accounts a plan's median says little; the median of everyone stands in.
MIN_PLAN_ACCOUNTS = 20


def plan_norm(f: pl.DataFrame, column: str, among: pl.Expr | None = None) -> np.ndarray:
    """The median of ``column`` among accounts on the same plan: "typical for this plan".

    ``among`` limits the accounts that define "typical" (those with enough traffic to judge).
    """
    plan = pl.col("plan").fill_null("")
    value = pl.col(column).fill_null(0)
    if among is not None:
        value = pl.when(among).then(value)
    return (
        f.select(
            pl.when(value.count().over(plan) >= MIN_PLAN_ACCOUNTS)
            .then(value.median().over(plan))
            .otherwise(value.median())
        )
        .to_series()
        .fill_null(0)
        .to_numpy()
        .astype(float)
    )


def _col(f: pl.DataFrame, name: str) -> np.ndarray:
    return f.get_column(name).fill_null(0).to_numpy().astype(float)


def _share(f: pl.DataFrame, p: DetectionParams, column: str) -> tuple[np.ndarray, np.ndarray]:
    """A share column and its plan norm, both over accounts with enough traffic to judge.

    Below ``share_min_exchanges`` exchanges a share is noise (one step-by-step question out of
    four prompts is not a habit), so it counts as 0.
    """
    enough = pl.col("exchanges").fill_null(0) >= p.share_min_exchanges
    value = f.select(pl.when(enough).then(pl.col(column).fill_null(0)).otherwise(0.0))
    return value.to_series().to_numpy().astype(float), plan_norm(f, column, among=enough)


# ------------------------------------------------------------------------------ content


@signal
def reasoning_elicitation(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Share of prompts asking for chain of thought, full working or reasoning in tags.

    The patterns are ``reasoning_patterns`` in the configuration (admin-editable).
    """
    return Signal(
        "reasoning_elicitation",
        CONTENT,
        *_share(f, p, "reasoning_share"),
        "{value:.0%} of prompts ask for full step-by-step reasoning; typical for this plan: "
        "{norm:.0%}",
    )


@signal
def capability_targeting(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Share of prompts on coding, agentic/tool-use and hard-reasoning tasks, or using tools."""
    return Signal(
        "capability_targeting",
        CONTENT,
        *_share(f, p, "capability_share"),
        "{value:.0%} of prompts target coding ({coding:.0%}), agents/tools ({tools:.0%}) or "
        "hard reasoning ({maths:.0%}); typical for this plan: {norm:.0%}",
        {
            "coding": _col(f, "coding_share"),
            "tools": np.maximum(_col(f, "agentic_share"), _col(f, "tool_share")),
            "maths": _col(f, "reasoning_task_share"),
        },
    )


@signal
def prompt_templating(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Share of prompts that repeat or are near-duplicates (MinHash) of the account's own."""
    return Signal(
        "prompt_templating",
        CONTENT,
        *_share(f, p, "template_share"),
        "{value:.0%} of prompts are copies or fill-in variants of a template; typical for this "
        "plan: {norm:.0%}",
    )


# ------------------------------------------------------------------------- coordination


@signal
def shared_templates(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Share of the account's sampled prompts that near-duplicate an unrelated account's."""
    return Signal(
        "shared_templates",
        COORDINATION,
        *_share(f, p, "template_shared_share"),
        "{value:.0%} of sampled prompts match templates that as many as {partners:.0f} accounts "
        "of other organisations also use, weighted down by how many independent payers send "
        "them ({payers:.0f} for the most shared; a popular tool's harness prompt, sent by "
        "thousands of unrelated customers, weighs next to nothing); typical for this plan: "
        "{norm:.0%}",
        {"partners": _col(f, "template_partners"), "payers": _col(f, "template_payers")},
    )


@signal
def shared_infrastructure(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Unrelated accounts using the same IP addresses (hubs such as NATs and VPN exits excluded)."""
    return Signal(
        "shared_infrastructure",
        COORDINATION,
        _col(f, "ip_partners"),
        plan_norm(f, "ip_partners"),
        "shares IP addresses with {value:.0f} accounts of no common organisation (addresses "
        "used by more than {hub:.0f} accounts are not counted); typical for this plan: "
        "{norm:.0f}",
        {"hub": np.full(f.height, float(p.hub_cap))},
    )


@signal
def hosting_network(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Share of traffic from hosting, cloud, proxy or VPN networks (``hosting_asns``)."""
    return Signal(
        "hosting_network",
        COORDINATION,
        *_share(f, p, "hosting_share"),
        "{value:.0%} of traffic comes from hosting, proxy or VPN networks; typical for this "
        "plan: {norm:.0%}",
    )


@signal
def user_agent_reuse(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Unrelated accounts sending the same uncommon user-agent string."""
    return Signal(
        "user_agent_reuse",
        COORDINATION,
        _col(f, "ua_partners"),
        plan_norm(f, "ua_partners"),
        "sends the same uncommon user agent as {value:.0f} accounts of other organisations; "
        "typical for this plan: {norm:.0f}",
    )


@signal
def shared_payment(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Unrelated accounts paying with the same payment instrument."""
    return Signal(
        "shared_payment",
        COORDINATION,
        _col(f, "payment_partners"),
        plan_norm(f, "payment_partners"),
        "pays with the same card as {value:.0f} accounts of other organisations; typical for "
        "this plan: {norm:.0f}",
    )


# The accounts frame's column for ``fleet_move`` (detection.selectors.fleet_moves, added by
# detection.services.run_analysis); a frame built without it (the pure tests) has no moves.
FLEET_MOVES = "fleet_moves"


@signal
def fleet_move(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Moved onto the card or organisation of a fleet the previous run flagged."""
    moves = _col(f, FLEET_MOVES) if FLEET_MOVES in f.columns else np.zeros(f.height)
    return Signal(
        "fleet_move",
        COORDINATION,
        moves,
        np.zeros(f.height),
        "moved onto the card or organisation of a flagged fleet ({value:.0f} recorded "
        "change(s) of its account details); typical for this plan: {norm:.0f}",
    )


@signal
def registration_burst(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Unrelated registrations around this account's, as a multiple of the usual rate."""
    return Signal(
        "registration_burst",
        COORDINATION,
        _col(f, "burst_lift"),
        np.ones(f.height),
        "{count:.0f} unrelated accounts registered within {minutes} minutes of this one, "
        "{value:.1f}x the usual rate",
        {
            "count": _col(f, "burst_count"),
            "minutes": np.full(f.height, p.burst_minutes),
        },
    )


@signal
def synchronised_activity(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Unrelated accounts active in the same time buckets far more often than chance. A tie
    to them only where they also share an address, a client or a card: every crew (and every
    office, and every lab running a benchmark on release day) on the same clock shares its
    hours, which links no strangers on its own."""
    return Signal(
        "synchronised_activity",
        COORDINATION,
        _col(f, "sync_partners"),
        plan_norm(f, "sync_partners"),
        "active in the same {minutes}-minute windows as {value:.0f} unrelated accounts, at "
        "least {lift:.0f}x more often than chance; typical for this plan: {norm:.0f}",
        {
            "minutes": np.full(f.height, p.sync_bucket_minutes),
            "lift": np.full(f.height, p.sync_min_lift),
        },
        ties=_col(f, "sync_tied_partners") > 0,
    )


@signal
def coaction(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Unrelated accounts working the same template from the same exits in the same minutes,
    on several days, far more often than chance (loosely synchronised action)."""
    return Signal(
        "coaction",
        COORDINATION,
        _col(f, "coaction_partners"),
        plan_norm(f, "coaction_partners"),
        "worked the same prompt templates in the same {minutes}-minute windows as {value:.0f} "
        "unrelated accounts on up to {days:.0f} days, {lift:.0f}x more often than chance, "
        "leaving through the same exits ({overlap:.0%} of addresses in common); customers of "
        "one popular tool share its template but not its minutes and exits{crowd}; typical "
        "for this plan: {norm:.0f}",
        {
            "minutes": np.full(f.height, p.coaction_minutes),
            "days": _col(f, "coaction_days"),
            "lift": _col(f, "coaction_lift"),
            "overlap": _col(f, "coaction_exit_overlap"),
            "crowd": _crowd_caveat(_col(f, "coaction_crowded"), p.coaction_cell_cap),
        },
    )


def _crowd_caveat(crowded: np.ndarray, cap: int) -> np.ndarray:
    """Per account, where the co-action cap applied: the sentence saying so, else nothing."""
    return np.array(
        [
            f"; its template windows held {n:.0f} visits by other accounts, more than the cap "
            f"of {cap}, so it was compared only with the quiet ones among them, with the {cap} "
            "whose windows most resemble its own (a MinHash sketch; the cap that keeps the work "
            "linear) and with those that chose it so, and the count may be low"
            if n > 0
            else ""
            for n in crowded
        ],
        dtype=object,
    )


@signal
def model_pivot(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Share of traffic moved to a newly released model within a day of its release."""
    return Signal(
        "model_pivot",
        COORDINATION,
        *_share(f, p, "pivot_share"),
        "moved {value:.0%} of its traffic to a newly released model within {hours:.0f} hours "
        "of its first use anywhere; typical for this plan: {norm:.0%}",
        {"hours": _col(f, "pivot_hours")},
    )


@signal
def new_model_rush(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """New-model use in the account's first days on or after a release, beyond everyone's.

    ``model_pivot`` needs a move from an older model; an account registered for the release
    has none, and rushes to the new model from its first request (``onset.rush_columns``).
    """
    share, _ = _share(f, p, "rush_excess")
    return Signal(
        "new_model_rush",
        COORDINATION,
        share,
        np.zeros(f.height),
        "sent {rush:.0%} of its traffic to a newly released model in its first {days:.0f} "
        "days on or after the release, where customers on the same days sent {adoption:.0%} "
        "(early adopters try a new model too, so on its own this says little)",
        {
            "rush": _col(f, "rush_share"),
            "adoption": _col(f, "rush_adoption"),
            "days": np.full(f.height, float(p.rush_days)),
        },
    )


@signal
def started_together(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Unrelated accounts that began in the same hour (registered, or woke from dormancy), or
    young ones that moved onto a new model within a day of its release, and work the same
    uncommon prompt templates (``onset.start_pairs``, ``onset.move_pairs``)."""
    return Signal(
        "started_together",
        COORDINATION,
        _col(f, "start_partners"),
        np.zeros(f.height),
        "began within {within} of {value:.0f} unrelated accounts ({how}) that "
        "work the same uncommon prompt templates ({templates:.0f} in common with one of them); "
        "a launch's sign-ups and customers back after a newsletter start together too, but "
        "each asks their own questions; typical for this plan: {norm:.0f}",
        {
            "within": np.where(
                _col(f, "moved") > 0,
                "a day of a model's release",
                f"{p.start_minutes} minutes",
            ),
            "templates": _col(f, "start_templates"),
            "how": np.select(
                [_col(f, "moved") > 0, _col(f, "woke") > 0],
                [
                    f"moved onto the new model, registered at most {p.move_max_age_days} days "
                    "before its release",
                    f"woke after {p.dormant_days} or more silent days",
                ],
                "registered",
            ),
        },
    )


# The accounts frame's columns for the intelligence signals (detection.indicators.matching,
# added by detection.services.run_analysis); a frame built without them has no matches.
WATCH_LIST_MATCHES = "watch_list_matches"
EXTERNAL_FLAGS = "external_flags"


def _optional(f: pl.DataFrame, name: str) -> np.ndarray:
    return _col(f, name) if name in f.columns else np.zeros(f.height)


@signal
def watch_list(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Watch-list indicators (shared by partners or imported) the account matches."""
    return Signal(
        "watch_list",
        INTELLIGENCE,
        _optional(f, WATCH_LIST_MATCHES),
        np.zeros(f.height),
        "matches {value:.0f} watch-list indicator(s) that partners shared (addresses, "
        "ranges, networks, email domain, card, prompt templates or the account itself; the "
        "account page lists each with its source); typical for this plan: {norm:.0f}",
    )


@signal
def external_flag(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Other systems (the account platform, a fraud engine) that flagged the account."""
    return Signal(
        "external_flag",
        INTELLIGENCE,
        _optional(f, EXTERNAL_FLAGS),
        np.zeros(f.height),
        "flagged by {value:.0f} other system(s) (the account page lists each flag with its "
        "source and reason); typical for this plan: {norm:.0f}",
    )


# ------------------------------------------------------------------------ volume, rhythm


@signal
def output_harvesting(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """Output tokens received, as a multiple of the plan's median account."""
    tokens = _col(f, "output_tokens")
    norm = plan_norm(f, "output_tokens")
    return Signal(
        "output_harvesting",
        VOLUME,
        tokens / np.maximum(norm, 1),
        np.ones(f.height),
        "received {tokens:,.0f} output tokens over {exchanges:,.0f} exchanges, {value:.1f}x the "
        "median for this plan",
        {"tokens": tokens, "exchanges": _col(f, "exchanges")},
    )


@signal
def new_account_ramp(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """A young account's daily traffic as a multiple of the plan's median daily traffic."""
    age_days = _col(f, "age_days")
    daily = _col(f, "daily_exchanges")
    norm = plan_norm(f, "daily_exchanges")
    young = age_days < p.window_days
    return Signal(
        "new_account_ramp",
        VOLUME,
        np.where(young, daily / np.maximum(norm, 0.1), 0.0),
        np.ones(f.height),
        "registered {age:.0f} days ago and already sends {daily:.0f} exchanges a day, {value:.1f}x "
        "the median for this plan",
        {"age": age_days, "daily": daily},
    )


@signal
def round_the_clock(f: pl.DataFrame, p: DetectionParams) -> Signal:
    """How evenly activity spreads over the 24 hours (1 = no daily rhythm at all)."""
    entropy = np.where(_col(f, "exchanges") >= 48, _col(f, "hour_entropy"), 0.0)
    return Signal(
        "round_the_clock",
        RHYTHM,
        entropy,
        plan_norm(f, "hour_entropy"),
        "active {hours:.0f} hours of the day with no human daily rhythm (evenness {value:.2f}; "
        "typical for this plan: {norm:.2f})",
        {"hours": _col(f, "active_hours")},
    )


# ---------------------------------------------------------------- cross-account columns


def _partner_counts(pairs: pl.DataFrame, name: str) -> pl.DataFrame:
    both = pl.concat(
        [
            pairs.select(pl.col("a").alias("account"), "b"),
            pairs.select(pl.col("b").alias("account"), pl.col("a").alias("b")),
        ]
    )
    return both.group_by("account").agg(pl.col("b").n_unique().alias(name))


def derive(
    f: pl.DataFrame,
    *,
    pairs: pl.DataFrame,
    sync: pl.DataFrame,
    linked_sync: pl.DataFrame,
    coaction: pl.DataFrame,
    template_links: pl.DataFrame | Bands,
    groups: pl.DataFrame,
    models: pl.DataFrame,
    window_start: datetime,
    starts: pl.DataFrame | None = None,
    window_end: datetime,
    params: DetectionParams,
) -> pl.DataFrame:
    """Add the cross-account columns the coordination and volume signals read.
    ``linked_sync``: the ``sync`` pairs that also share an address, a client or a card (the
    shifts that tie accounts)."""
    ip = pairs.filter((pl.col("kind") == "ip") & ~pl.col("hub"))
    ua = pairs.filter((pl.col("kind") == "ua") & ~pl.col("hub"))
    pay = pairs.filter(pl.col("kind") == "payment")
    shared_items = _shared_templates(f, template_links, groups, params)
    out = f.join(groups, on="account", how="left")
    for frame, name in (
        (ip, "ip_partners"),
        (ua, "ua_partners"),
        (pay, "payment_partners"),
        (sync, "sync_partners"),
        (linked_sync, "sync_tied_partners"),
    ):
        out = out.join(_partner_counts(frame, name), on="account", how="left")
    out = out.join(_coaction_columns(coaction), on="account", how="left")
    out = out.join(shared_items, on="account", how="left").with_columns(
        (pl.col("shared_weight").fill_null(0) / pl.col("signed_prompts").clip(1, None))
        .clip(0, 1)
        .alias("template_shared_share")
    )
    out = _bursts(out, params.burst_minutes)
    out = out.join(_pivots(models, window_start, params), on="account", how="left")
    out = out.join(onset.rush_columns(models, window_start, params), on="account", how="left")
    out = out.join(
        _start_columns(starts, f, models, window_start, params), on="account", how="left"
    )
    span_days = max((window_end - window_start).total_seconds() / 86400, 1.0)
    active_from = pl.max_horizontal(
        pl.col("created_at").fill_null(pl.col("first_ts")), pl.lit(window_start)
    )
    return out.with_columns(
        (
            (
                pl.lit(window_end) - pl.col("created_at").fill_null(pl.col("first_ts"))
            ).dt.total_seconds()
            / 86400
        )
        .clip(0, None)
        .alias("age_days"),
        (
            pl.col("exchanges")
            / ((pl.lit(window_end) - active_from).dt.total_seconds() / 86400).clip(1, span_days)
        ).alias("daily_exchanges"),
    ).fill_null(0)


def _shared_templates(
    f: pl.DataFrame,
    template_links: pl.DataFrame | Bands,
    groups: pl.DataFrame,
    params: DetectionParams,
) -> pl.DataFrame:
    """Per account: its sampled prompts shared with other organisations, each weighted by how
    popular its template is among independent payers.

    A band is shared when accounts of more than one organisation use it; bands used by more
    than ``hub_cap`` accounts are stock phrases, not a fleet's template. As FRAUDAR weighs a
    popular column down, a prompt shared with more than ``popular_payers`` independent payers
    (distinct organisations, or for accounts of no organisation distinct cards) counts
    ``(popular_payers / payers)^2`` (twice as popular, a quarter of the weight): thousands
    of a popular agent's customers send its harness prompt, and that says nothing about any
    of them. Counted per band, not per pair of
    accounts: listing a fleet's pairs would grow with the square of the fleet.
    """
    from detection.clustering import independent_payers

    who = groups.join(independent_payers(f, groups), on="account")
    per_item = []
    # Everything is counted per band, so a part of the bands at a time (``key_parts``).
    for part in key_parts(template_links):
        bands = (
            part.select("account", "key", "item")
            .join(who, on="account")
            .with_columns(
                pl.col("group").n_unique().over("key").alias("groups"),
                pl.len().over("key").alias("deg"),
                pl.len().over("key", "group").alias("own"),
                pl.col("payer").n_unique().over("key").alias("payers"),
            )
            .filter((pl.col("groups") > 1) & (pl.col("deg") <= params.hub_cap))
            .with_columns(
                (params.popular_payers / (pl.col("payers") - 1).clip(1, None))
                .clip(0, 1)
                .pow(2)
                .alias("weight")
            )
        )
        per_item.append(
            bands.group_by("account", "item").agg(
                pl.col("weight").max(),
                (pl.col("deg") - pl.col("own")).max().alias("partners"),
                pl.col("payers").max(),
            )
        )
    per_item = (
        pl.concat(per_item)
        .group_by("account", "item")
        .agg(pl.col("weight").max(), pl.col("partners").max(), pl.col("payers").max())
    )
    return per_item.group_by("account").agg(
        pl.col("weight").sum().alias("shared_weight"),
        pl.col("partners").max().cast(pl.Float64).alias("template_partners"),
        pl.col("payers").max().cast(pl.Float64).alias("template_payers"),
    )


def _coaction_columns(coaction: pl.DataFrame) -> pl.DataFrame:
    """Per account: co-acting partners, the most days with one, median lift and exit overlap."""
    both = pl.concat(
        [
            coaction.select(pl.col("a").alias("account"), pl.col("b").alias("partner"), "days",
                            "lift", "exit_overlap"),
            coaction.select(pl.col("b").alias("account"), pl.col("a").alias("partner"), "days",
                            "lift", "exit_overlap"),
        ]
    )  # fmt: skip
    return both.group_by("account").agg(
        pl.col("partner").n_unique().cast(pl.Float64).alias("coaction_partners"),
        pl.col("days").max().cast(pl.Float64).alias("coaction_days"),
        pl.col("lift").median().alias("coaction_lift"),
        pl.col("exit_overlap").median().alias("coaction_exit_overlap"),
    )


def _start_columns(
    starts: pl.DataFrame | None,
    f: pl.DataFrame,
    models: pl.DataFrame,
    window_start: datetime,
    params: DetectionParams,
) -> pl.DataFrame:
    """start_partners, start_templates (the most shared with one partner), woke (1 for an
    account that began by waking from dormancy rather than by registering) and moved (1 for
    a young account that moved onto a newly released model within a day of its release)."""
    woke = onset.start_times(f.select("account", "created_at", "first_ts"), window_start, params)
    woke = woke.join(f.select("account", "created_at"), on="account").select(
        "account", (pl.col("created_at") < pl.lit(window_start)).cast(pl.Float64).alias("woke")
    )
    moved = onset.movers(models, f.select("account", "created_at"), window_start, params)
    woke = woke.join(
        moved.select("account", pl.lit(1.0).alias("moved")), on="account", how="full",
        coalesce=True,
    )  # fmt: skip
    if starts is None or starts.is_empty():
        return woke.with_columns(
            pl.lit(0.0).alias("start_partners"), pl.lit(0.0).alias("start_templates")
        )
    both = pl.concat(
        [
            starts.select(pl.col("a").alias("account"), pl.col("b").alias("partner"), "templates"),
            starts.select(pl.col("b").alias("account"), pl.col("a").alias("partner"), "templates"),
        ]
    )
    partners = both.group_by("account").agg(
        pl.col("partner").n_unique().cast(pl.Float64).alias("start_partners"),
        pl.col("templates").max().cast(pl.Float64).alias("start_templates"),
    )
    return woke.join(partners, on="account", how="full", coalesce=True)


# Seconds between the registration times of two organisations in ``_bursts``: more than any
# time since the epoch and any burst window, so no window reaches another organisation's.
_GROUP_STRIDE = 1 << 40


def _bursts(f: pl.DataFrame, minutes: int) -> pl.DataFrame:
    """burst_count: unrelated accounts registered within ``minutes``; burst_lift vs the rate."""
    reg = f.select("account", "group", "created_at").filter(pl.col("created_at").is_not_null())
    if reg.height < 2:
        return f.with_columns(pl.lit(0.0).alias("burst_count"), pl.lit(0.0).alias("burst_lift"))
    reg = reg.sort("created_at")
    ts = reg["created_at"].dt.epoch("s").to_numpy()
    window = minutes * 60
    lo = np.searchsorted(ts, ts - window, side="left")
    hi = np.searchsorted(ts, ts + window, side="right")
    total = hi - lo - 1
    # Same-organisation registrations in the window do not count (an org onboarding keys):
    # counted the same way, on times kept apart by organisation (an organisation's times
    # shifted past every other's), never by pairing an organisation's registrations.
    group = (
        reg.select(
            # An account of no known group is a group of its own.
            pl.col("group")
            .fill_null(pl.lit("\x00") + pl.col("account").cast(pl.Utf8))
            .rank("dense")
        )
        .to_series()
        .cast(pl.Int64)
        .to_numpy()
    )
    keyed = group * _GROUP_STRIDE + ts
    order = np.argsort(keyed, kind="stable")
    ordered = keyed[order]
    same = np.empty(len(ts), dtype=np.int64)
    same[order] = (
        np.searchsorted(ordered, ordered + window, side="right")
        - np.searchsorted(ordered, ordered - window, side="left")
        - 1
    )
    span = max(ts[-1] - ts[0], window * 2)
    expected = max(len(ts) * (2 * window) / span, 0.5)
    counts = reg.select("account").with_columns(pl.Series("total", total), pl.Series("same", same))
    counts = counts.with_columns(
        (pl.col("total") - pl.col("same")).clip(0, None).cast(pl.Float64).alias("burst_count")
    ).with_columns((pl.col("burst_count") / expected).alias("burst_lift"))
    return f.join(counts.select("account", "burst_count", "burst_lift"), on="account", how="left")


def _pivots(models: pl.DataFrame, window_start: datetime, params: DetectionParams) -> pl.DataFrame:
    """pivot_share / pivot_hours: traffic moved to a model first seen late in the window.

    A move needs a before: an account whose first request came less than a day before the
    release never moved, it began there (``new_model_rush``, ``onset.rush_columns``).
    """
    empty = pl.DataFrame(
        schema={"account": pl.Int64, "pivot_share": pl.Float64, "pivot_hours": pl.Float64}
    )
    if models.is_empty():
        return empty
    new = onset.new_models(models, window_start, params)
    if new.is_empty():
        return empty
    began = models.group_by("account").agg(pl.col("first_ts").min().alias("began"))
    rows = []
    for model, released in new.iter_rows():
        before = began.filter(pl.col("began") < pl.lit(released) - timedelta(days=1))
        since = models.filter(pl.col("day") >= released.date()).join(
            before.select("account"), on="account"
        )
        per = since.group_by("account").agg(
            pl.col("n").sum().alias("total"),
            pl.col("n").filter(pl.col("model") == model).sum().alias("on_new"),
            pl.col("first_ts").filter(pl.col("model") == model).min().alias("adopted"),
        )
        rows.append(
            per.filter(pl.col("adopted").is_not_null()).select(
                "account",
                (pl.col("on_new") / pl.col("total")).alias("share"),
                ((pl.col("adopted") - pl.lit(released)).dt.total_seconds() / 3600).alias("hours"),
            )
        )
    moved = pl.concat(rows).filter(pl.col("hours") <= 24)
    if moved.is_empty():
        return empty
    return moved.group_by("account").agg(
        pl.col("share").max().alias("pivot_share"), pl.col("hours").min().alias("pivot_hours")
    )


def compute_all(f: pl.DataFrame, params: DetectionParams) -> list[Signal]:
    """Every registered signal over the derived frame, in registration order.

    Each gets ``common``: the lower quartile of its value over all accounts, what three
    quarters of the customers reach. A lower quartile rather than the median, and over
    everyone rather than per plan, so that a fleet would have to be three quarters of all
    accounts to make its own behaviour look common (a fleet can fill a plan of its own).
    """
    signals = [fn(f, params) for fn in SIGNALS]
    for sig in signals:
        value = np.nan_to_num(np.asarray(sig.value, dtype=float))
        quartile = float(np.quantile(value, 0.25)) if len(value) else 0.0
        sig.common = np.full(len(value), quartile)
    return signals
