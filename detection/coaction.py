"""Co-action: unrelated accounts acting together, the tell of a fleet behind a proxy network.

After SynchroTrap's loosely synchronised actions: a fleet's orchestrator hands jobs to its
accounts in waves, so many of them work the same prompt template, from the same exit pool,
within the same minutes, day after day, while each account alone stays under every
per-account threshold. Independent customers of one popular tool send the same template too,
but each at their own hours and from their own addresses: they meet in a window no more often
than chance gives.

The cost is linear: a chunk turns its exchanges into cells (account, template key, time
window), one row per account, key and window (``coaction_cells``); the run pairs accounts only
inside a cell, and a crowded cell pairs no one (``coaction_pairs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from detection.minhash import MIN_SHINGLES, minhash_signatures

if TYPE_CHECKING:
    from detection.config import DetectionParams

# Prompt text a co-action key reads: a long harness prompt is one template from its start.
COACTION_PROMPT_CHARS = 600
# Independent min-hashes per prompt: two prompts of one template (Jaccard J) share a key with
# probability 1 - (1 - J)^2, so a fleet's slot-filled prompts still meet on one.
COACTION_KEYS = 2


def coaction_cells(ex: pl.DataFrame, params: DetectionParams) -> pl.DataFrame:
    """(account, kind "coaction", key, item = time bucket): the templates each account worked
    in each ``coaction_minutes`` window, as links.

    A prompt's template keys are min-hashes of its word-pair shingles (digits folded), so
    prompts filled in from one template share a key however the slots were filled. Only the
    keys an account works on at least ``coaction_min_days`` distinct days are kept: co-action
    is sustained, and a one-off question cannot take part in it. One row per account, key and
    window, so the rows grow with exchanges, never with pairs of accounts.
    """
    minutes = params.coaction_minutes
    words = (
        pl.col("prompt")
        .fill_null("")
        .str.slice(0, COACTION_PROMPT_CHARS)
        .str.to_lowercase()
        .str.replace_all(r"\d+", "0")
        .str.replace_all(r"[^\w\s]", " ")
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element() != ""))
    )
    pairs = words.list.eval((pl.element() + " " + pl.element().shift(-1)).drop_nulls())
    prompts = (
        ex.filter(pl.col("prompt_hash").is_not_null())
        .select("prompt_hash", "prompt")
        .unique("prompt_hash")
        .with_columns(pairs.alias("sh"))
        .filter(pl.col("sh").list.len() >= MIN_SHINGLES)
        .select(
            "prompt_hash",
            pl.concat_list(
                [
                    pl.col("sh").list.eval(pl.element().hash(seed=11 + k)).list.min()
                    for k in range(COACTION_KEYS)
                ]
            ).alias("key"),
        )
        .explode("key")
    )
    cells = (
        ex.select(
            "account",
            "prompt_hash",
            (pl.col("ts").dt.epoch("s") // (60 * minutes)).cast(pl.Int64).alias("item"),
            pl.col("ts").dt.date().alias("day"),
        )
        .join(prompts, on="prompt_hash")
        .select("account", "key", "item", "day")
        .unique(["account", "key", "item"])
        .filter(pl.col("day").n_unique().over("account", "key") >= params.coaction_min_days)
    )
    return cells.select(
        "account",
        pl.lit("coaction").alias("kind"),
        pl.col("key").cast(pl.Utf8),
        "item",
    )


def exit_signatures(ex: pl.DataFrame, params: DetectionParams) -> pl.DataFrame:
    """Per account: a MinHash signature of the set of addresses it used (its exit pool)."""
    exits = (
        ex.select("account", (pl.col("ip").hash(seed=5) & 0xFFFFFFFF).cast(pl.Int64).alias("h"))
        .unique()
        .group_by("account")
        .agg("h")
        .sort("account")
    )
    sigs = minhash_signatures(
        [np.asarray(h, dtype=np.int64) for h in exits["h"].to_list()], params.minhash_num_perm
    )
    return exits.select("account").with_columns(
        pl.Series("exit_sig", list(sigs), dtype=pl.List(pl.UInt64))
    )


COACTION_SCHEMA = {
    "a": pl.Int64,
    "b": pl.Int64,
    "cells": pl.Int64,
    "days": pl.Int64,
    "lift": pl.Float64,
    "exit_overlap": pl.Float64,
}


def coaction_pairs(
    cells: pl.DataFrame,
    groups: pl.DataFrame,
    exits: pl.DataFrame,
    *,
    window_buckets: int,
    bucket_minutes: int,
    cell_cap: int,
    min_days: int,
    min_lift: float,
    min_exit_overlap: float,
) -> pl.DataFrame:
    """Pairs of unrelated accounts that act together: (a, b, cells, days, lift, exit_overlap).

    ``cells`` is (account, key, item): the template keys each account worked in each time
    window (``features.coaction_cells``). Accounts are paired only inside one (key, window)
    cell, and a cell worked by more than ``cell_cap`` accounts pairs no one (a popular tool's
    users at a busy hour), so the pairs grow with the cells, never with all pairs of accounts.

    A pair counts when it met in cells on at least ``min_days`` distinct days, at least
    ``min_lift`` times as often as chance: two independent accounts that worked key k in c_a
    and c_b of the window's T windows meet in about c_a c_b / T of them (summed over the keys
    they met on), so two round-the-clock users of one agent meet often, but no more often than
    chance. And they leave through the same exits: their address sets (``exits``: account,
    exit_sig, MinHash) overlap by at least ``min_exit_overlap``.
    """
    empty = pl.DataFrame(schema=COACTION_SCHEMA)
    if cells.is_empty():
        return empty
    cells = cells.select("account", "key", "item").join(groups, on="account")
    worked = cells.group_by("account", "key").agg(pl.len().alias("c"))
    crowd = cells.with_columns(
        pl.len().over("key", "item").alias("k"),
        pl.col("group").n_unique().over("key", "item").alias("g"),
    ).filter((pl.col("k") <= cell_cap) & (pl.col("g") > 1))
    if crowd.is_empty():
        return empty
    met = (
        crowd.select("key", "item", "account", "group")
        .join(
            crowd.select("key", "item", pl.col("account").alias("b"), pl.col("group").alias("gb")),
            on=["key", "item"],
        )
        .filter((pl.col("account") < pl.col("b")) & (pl.col("group") != pl.col("gb")))
        .select(pl.col("account").alias("a"), "b", "key", "item")
    )
    per_day = 24 * 60 // max(bucket_minutes, 1)
    observed = met.group_by("a", "b").agg(
        pl.struct("key", "item").n_unique().alias("cells"),
        (pl.col("item") // max(per_day, 1)).n_unique().alias("days"),
    )
    observed = observed.filter(pl.col("days") >= min_days)
    if observed.is_empty():
        return empty
    keys = (
        met.join(observed.select("a", "b"), on=["a", "b"], how="semi")
        .select("a", "b", "key")
        .unique()
    )
    expected = (
        keys.join(worked.rename({"account": "a", "c": "ca"}), on=["a", "key"])
        .join(worked.rename({"account": "b", "c": "cb"}), on=["b", "key"])
        .group_by("a", "b")
        .agg((pl.col("ca") * pl.col("cb")).sum().cast(pl.Float64).alias("e"))
        .with_columns(pl.col("e") / max(window_buckets, 1))
    )
    pairs = (
        observed.join(expected, on=["a", "b"])
        .with_columns((pl.col("cells") / pl.col("e").clip(1e-9, None)).alias("lift"))
        .filter(pl.col("lift") >= min_lift)
    )
    sig = {
        int(a): np.asarray(s, dtype=np.uint64)
        for a, s in exits.filter(pl.col("exit_sig").is_not_null()).iter_rows()
    }
    a_list, b_list = pairs["a"].to_list(), pairs["b"].to_list()
    overlap = np.array(
        [
            float((sig[a] == sig[b]).mean()) if a in sig and b in sig else 0.0
            for a, b in zip(a_list, b_list, strict=True)
        ]
    )
    return (
        pairs.with_columns(pl.Series("exit_overlap", overlap, dtype=pl.Float64))
        .filter(pl.col("exit_overlap") >= min_exit_overlap)
        .select(list(COACTION_SCHEMA))
        .cast(COACTION_SCHEMA)
    )
