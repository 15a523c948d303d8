"""Per-account features from one shard of exchanges: frames in, frames out.

A detection run splits accounts into chunks; each chunk's exchanges (one polars frame, prompt
text included) become a ``ChunkFeatures``: one row of features per account, the keys that can
link it to other accounts (IP addresses, user agents, prompt-template buckets) and the first
use of each model. Nothing here reads the database; the run's ``finalise`` step combines the
chunks (``detection.signals``) once every chunk is done, so chunks can run on any worker.

Costs are kept linear in exchanges: regular expressions and grouping run inside polars; only a
bounded sample of *distinct* prompts per account (exact repeats collapsed by ``prompt_hash``) is
signed with MinHash (datasketch), and activity is summarised as one MinHash signature of the
account's active time buckets, so two accounts' overlap can be estimated without their
timestamps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from detection import coaction
from detection.contract import EXCHANGE_FRAME_SCHEMA
from detection.minhash import minhash_groups
from detection.templating import template_features

if TYPE_CHECKING:
    from detection.config import DetectionParams

# Columns a chunk's exchange frame carries (the service selects exactly these): the stored
# columns the ingest contract gives a polars dtype, the account as its key.
EXCHANGE_SCHEMA = EXCHANGE_FRAME_SCHEMA
# ``item`` tells apart an account's prompts behind template keys (their place among its own
# sampled prompts), the time buckets of co-action cells, and is 0 for other kinds.
LINK_SCHEMA = {"account": pl.Int64, "kind": pl.Utf8, "key": pl.Utf8, "item": pl.Int64}
# Daily exchanges per account and model: enough to see who moved to a new model, and when.
MODEL_SCHEMA = {
    "account": pl.Int64,
    "model": pl.Utf8,
    "first_ts": pl.Datetime("us", "UTC"),
    "day": pl.Date,
    "n": pl.Int64,
}


@dataclass
class ChunkFeatures:
    features: pl.DataFrame  # one row per account
    links: pl.DataFrame  # (account, kind, key, weight): shareable keys
    models: pl.DataFrame  # (account, model, first_ts)
    # (kind, value, accounts, first_ts): the reach of the chunk's values
    # (``detection.reach.chunk_reach``); only a run's chunk step counts it.
    reach: pl.DataFrame | None = None

    @classmethod
    def empty(cls) -> ChunkFeatures:
        return cls(
            features=pl.DataFrame(schema=FEATURE_SCHEMA),
            links=pl.DataFrame(schema=LINK_SCHEMA),
            models=pl.DataFrame(schema=MODEL_SCHEMA),
        )


FEATURE_SCHEMA = {
    "account": pl.Int64,
    "exchanges": pl.Int64,
    "output_tokens": pl.Int64,
    "input_tokens": pl.Int64,
    "reasoning_share": pl.Float64,
    "coding_share": pl.Float64,
    "agentic_share": pl.Float64,
    "reasoning_task_share": pl.Float64,
    "tool_share": pl.Float64,
    "capability_share": pl.Float64,
    "repeat_share": pl.Float64,
    "template_share": pl.Float64,
    "signed_prompts": pl.Int64,
    "hour_entropy": pl.Float64,
    "active_hours": pl.Int64,
    "active_days": pl.Int64,
    "first_ts": pl.Datetime("us", "UTC"),
    "last_ts": pl.Datetime("us", "UTC"),
    "hosting_share": pl.Float64,
    "distinct_ips": pl.Int64,
    "distinct_user_agents": pl.Int64,
    "active_buckets": pl.Int64,
    "bucket_sig": pl.List(pl.UInt64),
    # MinHash of the set of addresses the account left through: "the same exit pool"
    "exit_sig": pl.List(pl.UInt64),
}


def any_pattern(patterns: Sequence[str]) -> str:
    """One case-insensitive regular expression matching any of ``patterns``."""
    return "(?i)(?:" + "|".join(f"(?:{p})" for p in patterns) + ")" if patterns else "(?!)"


def prompt_flags(ex: pl.DataFrame, params: DetectionParams) -> pl.DataFrame:
    """Add boolean columns: reasoning elicitation and each capability group."""
    cap = params.capability_patterns
    prompt = pl.col("prompt").fill_null("")
    flags = [prompt.str.contains(any_pattern(params.reasoning_patterns)).alias("is_reasoning")]
    for group in ("coding", "agentic", "reasoning"):
        flags.append(prompt.str.contains(any_pattern(getattr(cap, group))).alias(f"cap_{group}"))
    return ex.with_columns(flags)


def activity_signatures(ex: pl.DataFrame, params: DetectionParams) -> pl.DataFrame:
    """Per account: active time buckets and a MinHash signature of the set of them."""
    minutes = params.sync_bucket_minutes
    buckets, sigs = minhash_groups(
        ex.select("account", (pl.col("ts").dt.epoch("s") // (60 * minutes)).cast(pl.Int64)),
        "account",
        params.minhash_num_perm,
    )
    return buckets.select("account", pl.col("n").alias("active_buckets")).with_columns(
        pl.Series("bucket_sig", list(sigs), dtype=pl.List(pl.UInt64))
    )


# The parts of ``chunk_features`` that depend on parameters: for each, the parameters it reads
# (here and in ``coaction``), the feature columns it makes and the kinds of link it makes.
PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "prompt_flags": (
        ("reasoning_patterns", "capability_patterns"),
        (
            "reasoning_share",
            "coding_share",
            "agentic_share",
            "reasoning_task_share",
            "capability_share",
        ),
        (),
    ),
    "hosting": (("hosting_asns",), ("hosting_share",), ()),
    "templates": (
        ("minhash_prompts_per_account", "minhash_num_perm", "minhash_bands"),
        ("template_share", "signed_prompts"),
        ("template",),
    ),
    "activity": (("sync_bucket_minutes", "minhash_num_perm"), ("active_buckets", "bucket_sig"), ()),
    "exits": (("minhash_num_perm",), ("exit_sig",), ()),
    "coaction": (("coaction_minutes", "coaction_min_days"), (), ("coaction",)),
}
# Two configurations that agree on these compute the same features, so a backtest computes
# them once for both.
FEATURE_PARAMS = tuple(dict.fromkeys(name for reads, _, _ in PARTS.values() for name in reads))
# The kinds of link, in the order ``chunk_features`` concatenates them.
LINK_KINDS = ("ip", "ua", "template", "coaction")


def _flag_shares() -> list[pl.Expr]:
    """Per-account shares of the prompt flags (``prompt_flags``) and of tool use."""
    return [
        pl.col("is_reasoning").mean().alias("reasoning_share"),
        pl.col("cap_coding").mean().alias("coding_share"),
        pl.col("cap_agentic").mean().alias("agentic_share"),
        # Maths, proofs, puzzles: a task type, not the same as asking to show the working.
        pl.col("cap_reasoning").mean().alias("reasoning_task_share"),
        pl.col("tool_use").mean().alias("tool_share"),
        (
            pl.col("cap_coding")
            | pl.col("cap_agentic")
            | pl.col("cap_reasoning")
            | pl.col("tool_use")
        )
        .mean()
        .alias("capability_share"),
    ]


def _with_hosting(ex: pl.DataFrame, params: DetectionParams) -> pl.DataFrame:
    return ex.with_columns(
        pl.col("asn").is_in(list(params.hosting_asns)).fill_null(False).alias("is_hosting")
    )


def _template_share() -> list[pl.Expr]:
    """From ``template_features``' sampled counts and the account's exchanges."""
    return [
        (
            (
                pl.col("templated_sampled").fill_null(0)
                + (pl.col("exchanges") - pl.col("sampled_weight").fill_null(0))
                * (pl.col("nd_single").fill_null(0) / pl.col("signed_single").clip(1, None))
            )
            / pl.col("exchanges")
        )
        .clip(0, 1)
        .fill_null(0)
        .alias("template_share"),
        pl.col("signed_prompts").fill_null(0).cast(pl.Int64),
    ]


def chunk_features(ex: pl.DataFrame, params: DetectionParams) -> ChunkFeatures:
    """Everything one chunk contributes to a run, from its exchanges alone."""
    if ex.is_empty():
        return ChunkFeatures.empty()
    ex = prompt_flags(ex.cast(EXCHANGE_SCHEMA), params)
    ex = _with_hosting(ex, params).with_columns(
        pl.col("tool_use").fill_null(False),
        pl.col("ts").dt.hour().alias("hour"),
    )
    base = ex.group_by("account").agg(
        pl.len().alias("exchanges"),
        pl.col("output_tokens").fill_null(0).sum().alias("output_tokens"),
        pl.col("input_tokens").fill_null(0).sum().alias("input_tokens"),
        *_flag_shares(),
        (1 - pl.col("prompt_hash").n_unique() / pl.len()).alias("repeat_share"),
        pl.col("ts").min().alias("first_ts"),
        pl.col("ts").max().alias("last_ts"),
        pl.col("ts").dt.date().n_unique().alias("active_days"),
        pl.col("hour").n_unique().alias("active_hours"),
        pl.col("is_hosting").mean().alias("hosting_share"),
        pl.col("ip").n_unique().alias("distinct_ips"),
        pl.col("user_agent").n_unique().alias("distinct_user_agents"),
    )
    # Each account's hours summed in hour order: a float sum in whatever order the groups
    # came would differ in its last bit from run to run.
    entropy = (
        ex.group_by("account", "hour")
        .agg(pl.len().alias("c"))
        .sort("account", "hour")
        .with_columns((pl.col("c") / pl.col("c").sum().over("account")).alias("p"))
        .group_by("account", maintain_order=True)
        .agg((-(pl.col("p") * pl.col("p").log()).sum() / math.log(24)).alias("hour_entropy"))
    )
    templ, template_links = template_features(ex, params)
    activity = activity_signatures(ex, params)
    features = (
        base.join(entropy, on="account", how="left")
        .join(templ, on="account", how="left")
        .join(activity, on="account", how="left")
        .join(coaction.exit_signatures(ex, params), on="account", how="left")
        .with_columns(_template_share())
        .select(list(FEATURE_SCHEMA))
        .cast(FEATURE_SCHEMA)
        .sort("account")
    )
    infra_links = pl.concat(
        [
            _key_links(ex, "ip", "ip"),
            _key_links(ex.filter(pl.col("user_agent").str.len_chars() > 0), "user_agent", "ua"),
        ]
    )
    models = ex.group_by("account", "model", pl.col("ts").dt.date().alias("day")).agg(
        pl.col("ts").min().alias("first_ts"), pl.len().alias("n")
    )
    return ChunkFeatures(
        features=features,
        links=pl.concat(
            [infra_links, template_links, coaction.coaction_cells(ex, params)],
            how="vertical_relaxed",
        ).cast(LINK_SCHEMA),
        models=models.select(list(MODEL_SCHEMA)).cast(MODEL_SCHEMA),
    )


def changed_parts(a: DetectionParams, b: DetectionParams) -> set[str]:
    """The parts of ``chunk_features`` whose parameters differ between ``a`` and ``b``."""
    return {
        part
        for part, (reads, _, _) in PARTS.items()
        if any(getattr(a, name) != getattr(b, name) for name in reads)
    }


def chunk_features_beside(
    ex: pl.DataFrame, params: DetectionParams, known: ChunkFeatures, known_params: DetectionParams
) -> ChunkFeatures:
    """``chunk_features(ex, params)``, given ``known`` = ``chunk_features(ex, known_params)``:
    only the parts whose parameters differ are computed again, the rest is taken from
    ``known``. The same frames either way, at the cost of the changed parts alone."""
    changed = changed_parts(params, known_params)
    if not changed or ex.is_empty():
        return known
    ex = ex.cast(EXCHANGE_SCHEMA)
    parts: list[pl.DataFrame] = []
    links: dict[str, pl.DataFrame] = {}
    if "prompt_flags" in changed:
        flagged = prompt_flags(ex, params).with_columns(pl.col("tool_use").fill_null(False))
        parts.append(flagged.group_by("account").agg(_flag_shares()).drop("tool_share"))
    if "hosting" in changed:
        hosting = _with_hosting(ex, params).group_by("account")
        parts.append(hosting.agg(pl.col("is_hosting").mean().alias("hosting_share")))
    if "templates" in changed:
        templ, links["template"] = template_features(ex, params)
        exchanges = known.features.select("account", "exchanges")
        parts.append(
            exchanges.join(templ, on="account", how="left")
            .with_columns(_template_share())
            .select("account", "template_share", "signed_prompts")
        )
    if "activity" in changed:
        parts.append(activity_signatures(ex, params))
    if "exits" in changed:
        parts.append(coaction.exit_signatures(ex, params))
    if "coaction" in changed:
        links["coaction"] = coaction.coaction_cells(ex, params)
    redone = [column for part in parts for column in part.columns if column != "account"]
    features = known.features.drop(redone)
    for part in parts:
        features = features.join(part, on="account", how="left")
    kept = known.links.filter(~pl.col("kind").is_in(list(links)))
    return ChunkFeatures(
        features=features.select(list(FEATURE_SCHEMA)).cast(FEATURE_SCHEMA).sort("account"),
        links=pl.concat(
            [
                kept.filter(pl.col("kind") == kind) if kind not in links else links[kind]
                for kind in LINK_KINDS
            ],
            how="vertical_relaxed",
        ).cast(LINK_SCHEMA),
        models=known.models,
    )


def _key_links(ex: pl.DataFrame, column: str, kind: str) -> pl.DataFrame:
    """(account, kind, key, item): each distinct value of ``column`` the account used."""
    return (
        ex.select("account", column)
        .unique()
        .select(
            "account",
            pl.lit(kind).alias("kind"),
            pl.col(column).alias("key"),
            pl.lit(0, pl.Int64).alias("item"),
        )
    )


def window_bounds(newest: datetime | None, days: int) -> tuple[datetime | None, datetime | None]:
    """The run's window: ``days`` before the newest exchange, up to and including it."""
    if newest is None:
        return None, None
    from datetime import timedelta

    return newest - timedelta(days=days), newest + timedelta(microseconds=1)


def chunk_bounds(
    accounts: Sequence[int], exchanges: Mapping[int, int], max_accounts: int, max_exchanges: int
) -> list[tuple[int, int]]:
    """Split ``accounts`` (primary keys, ascending) into runs of consecutive keys, each as
    ``(first, last)``: a run closes before the account that would take it past
    ``max_accounts`` accounts or ``max_exchanges`` exchanges (``exchanges``: the count of
    each account's exchanges in the window, absent for none). An account bigger than
    ``max_exchanges`` on its own is a run of its own. Every chunk's features come from its
    accounts' exchanges alone, so the split decides the work's unit and its memory, never
    what a run finds."""
    bounds: list[tuple[int, int]] = []
    first = last = 0
    count = held = 0
    for pk in accounts:
        size = exchanges.get(pk, 0)
        if count and (count >= max_accounts or held + size > max_exchanges):
            bounds.append((first, last))
            count = held = 0
        if not count:
            first = pk
        last = pk
        count += 1
        held += size
    if count:
        bounds.append((first, last))
    return bounds
