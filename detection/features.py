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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from detection import coaction
from detection.contract import EXCHANGE_FRAME_SCHEMA
from detection.minhash import MIN_SHINGLES, band_keys, minhash_signatures

if TYPE_CHECKING:
    from detection.config import DetectionParams

# Columns a chunk's exchange frame carries (the service selects exactly these): the stored
# columns the ingest contract gives a polars dtype, the account as its key.
EXCHANGE_SCHEMA = EXCHANGE_FRAME_SCHEMA
# ``item`` tells apart the prompts behind template keys (0 for other kinds).
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


def _shingle_tokens(prompts: pl.Series) -> list[np.ndarray]:
    """Word-pair shingles of each normalised prompt, hashed to 32-bit ints (in polars)."""
    words = (
        prompts.fill_null("")
        .str.to_lowercase()
        .str.replace_all(r"\d+", "0")
        .str.replace_all(r"[^\w\s]", " ")
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element() != ""))
    )
    pairs = (
        pl.DataFrame({"i": np.arange(len(words)), "w": words})
        .with_columns(
            pl.col("w").list.eval(
                (pl.element() + " " + pl.element().shift(-1)).drop_nulls().hash(seed=7)
            )
        )
        .explode("w")
        .drop_nulls()
        .rename({"w": "h"})
        .with_columns((pl.col("h") & 0xFFFFFFFF).cast(pl.Int64))
        .unique()
        .group_by("i")
        .agg("h")
    )
    by_index = dict(zip(pairs["i"].to_list(), pairs["h"].to_list(), strict=True))
    return [np.asarray(by_index.get(i, []), dtype=np.int64) for i in range(len(words))]


def template_features(
    ex: pl.DataFrame, params: DetectionParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Templating per account, and its template band keys as links.

    Exact repeats are collapsed by ``prompt_hash``; the most frequent distinct prompts of each
    account (up to ``minhash_prompts_per_account``) are signed. A prompt is templated if it
    repeats exactly or shares an LSH band with another distinct prompt of the same account.
    The share of unsigned prompts that are templated is estimated from the signed singletons.
    """
    k = params.minhash_prompts_per_account
    distinct = (
        ex.filter(pl.col("prompt_hash").is_not_null())
        .group_by("account", "prompt_hash")
        .agg(pl.len().alias("count"), pl.col("prompt").first())
        .sort(["account", "count", "prompt_hash"], descending=[False, True, False])
    )
    sample = distinct.filter(pl.int_range(pl.len()).over("account") < k)
    tokens = _shingle_tokens(sample["prompt"])
    long_enough = np.array([len(t) >= MIN_SHINGLES for t in tokens], dtype=bool)
    sample = sample.with_columns(
        pl.Series("signed", long_enough), pl.int_range(pl.len()).alias("i")
    )
    signed = sample.filter("signed")
    sigs = minhash_signatures(
        [t for t, ok in zip(tokens, long_enough, strict=True) if ok], params.minhash_num_perm
    )
    keys = band_keys(sigs, params.minhash_bands) if len(sigs) else np.empty((0, 0), np.int64)
    bands = (
        pl.DataFrame(
            {
                "account": np.repeat(signed["account"].to_numpy(), keys.shape[1]),
                "i": np.repeat(signed["i"].to_numpy(), keys.shape[1]),
                "band": keys.reshape(-1),
            },
            schema={"account": pl.Int64, "i": pl.Int64, "band": pl.Int64},
        )
        if len(signed)
        else pl.DataFrame(schema={"account": pl.Int64, "i": pl.Int64, "band": pl.Int64})
    )
    partnered = (
        bands.group_by("account", "band")
        .agg(pl.col("i").n_unique().alias("n"), pl.col("i"))
        .filter(pl.col("n") > 1)
        .explode("i")
        .select("i")
        .unique()
        .with_columns(pl.lit(True).alias("near_dup"))
    )
    per_prompt = sample.join(partnered, on="i", how="left").with_columns(
        ((pl.col("count") > 1) | pl.col("near_dup").fill_null(False)).alias("templated")
    )
    stats = per_prompt.group_by("account").agg(
        (pl.col("count") * pl.col("templated")).sum().alias("templated_sampled"),
        pl.col("count").sum().alias("sampled_weight"),
        pl.col("signed").sum().alias("signed_prompts"),
        (pl.col("near_dup").fill_null(False) & (pl.col("count") == 1)).sum().alias("nd_single"),
        ((pl.col("count") == 1) & pl.col("signed")).sum().alias("signed_single"),
    )
    links = bands.unique(["account", "band"]).select(
        "account",
        pl.lit("template").alias("kind"),
        pl.col("band").cast(pl.Utf8).alias("key"),
        pl.col("i").alias("item"),
    )
    return stats, links


def activity_signatures(ex: pl.DataFrame, params: DetectionParams) -> pl.DataFrame:
    """Per account: active time buckets and a MinHash signature of the set of them."""
    minutes = params.sync_bucket_minutes
    buckets = (
        ex.select(
            "account", (pl.col("ts").dt.epoch("s") // (60 * minutes)).cast(pl.Int64).alias("b")
        )
        .unique()
        .group_by("account")
        .agg(pl.col("b"), pl.len().alias("active_buckets"))
        .sort("account")
    )
    sigs = minhash_signatures(
        [np.asarray(b, dtype=np.int64) for b in buckets["b"].to_list()],
        params.minhash_num_perm,
    )
    return buckets.select("account", "active_buckets").with_columns(
        pl.Series("bucket_sig", list(sigs), dtype=pl.List(pl.UInt64))
    )


# The parameters ``chunk_features`` reads (here and in ``coaction``): two configurations that
# agree on these compute the same features, so a backtest computes them once for both.
FEATURE_PARAMS = (
    "capability_patterns",
    "reasoning_patterns",
    "minhash_prompts_per_account",
    "minhash_num_perm",
    "minhash_bands",
    "sync_bucket_minutes",
    "hosting_asns",
    "coaction_minutes",
    "coaction_min_days",
)


def chunk_features(ex: pl.DataFrame, params: DetectionParams) -> ChunkFeatures:
    """Everything one chunk contributes to a run, from its exchanges alone."""
    if ex.is_empty():
        return ChunkFeatures.empty()
    ex = prompt_flags(ex.cast(EXCHANGE_SCHEMA), params)
    hosting = list(params.hosting_asns)
    ex = ex.with_columns(
        pl.col("tool_use").fill_null(False),
        pl.col("asn").is_in(hosting).fill_null(False).alias("is_hosting"),
        pl.col("ts").dt.hour().alias("hour"),
    )
    base = ex.group_by("account").agg(
        pl.len().alias("exchanges"),
        pl.col("output_tokens").fill_null(0).sum().alias("output_tokens"),
        pl.col("input_tokens").fill_null(0).sum().alias("input_tokens"),
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
        (1 - pl.col("prompt_hash").n_unique() / pl.len()).alias("repeat_share"),
        pl.col("ts").min().alias("first_ts"),
        pl.col("ts").max().alias("last_ts"),
        pl.col("ts").dt.date().n_unique().alias("active_days"),
        pl.col("hour").n_unique().alias("active_hours"),
        pl.col("is_hosting").mean().alias("hosting_share"),
        pl.col("ip").n_unique().alias("distinct_ips"),
        pl.col("user_agent").n_unique().alias("distinct_user_agents"),
    )
    entropy = (
        ex.group_by("account", "hour")
        .agg(pl.len().alias("c"))
        .with_columns((pl.col("c") / pl.col("c").sum().over("account")).alias("p"))
        .group_by("account")
        .agg((-(pl.col("p") * pl.col("p").log()).sum() / math.log(24)).alias("hour_entropy"))
    )
    templ, template_links = template_features(ex, params)
    activity = activity_signatures(ex, params)
    features = (
        base.join(entropy, on="account", how="left")
        .join(templ, on="account", how="left")
        .join(activity, on="account", how="left")
        .join(coaction.exit_signatures(ex, params), on="account", how="left")
        .with_columns(
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
        )
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
