"""Co-action: unrelated accounts acting together, the tell of a fleet behind a proxy network.

After SynchroTrap's loosely synchronised actions: a fleet's orchestrator hands jobs to its
accounts in waves, so many of them work the same prompt template, from the same exit pool,
within the same minutes, day after day, while each account alone stays under every
per-account threshold. Independent customers of one popular tool send the same template too,
but each at their own hours and from their own addresses: they meet in a window no more often
than chance gives.

The cost is linear: a chunk turns its exchanges into cells (account, template key, time
window), one row per account, key and window (``coaction_cells``); the run compares accounts
only inside a cell, and there each with at most ``coaction_cell_cap`` neighbours in a fixed
order, however crowded the cell (``cell_neighbours``, ``coaction_pairs``).
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
NEIGHBOUR_SCHEMA = {"a": pl.Int64, "b": pl.Int64, "kid": pl.UInt32, "item": pl.Int64}
# Seed of the fixed pseudo-random order in which a busy cell's accounts meet their neighbours.
RING_SEED = 13
# The most compared pairs ``coaction_pairs`` holds at once (about 28 bytes each).
PAIRS_PER_SHARD = 20_000_000


def numbered_keys(cells: pl.DataFrame) -> pl.DataFrame:
    """(account, kid, item): ``cells`` with each template key replaced by a number, so that
    sorting and comparing cells is sorting and comparing numbers. Which key gets which number
    does not matter: each cell is ordered on its own."""
    keys = cells.select("key").unique().with_row_index("kid")
    return cells.select("account", "key", "item").join(keys, on="key").drop("key")


def cell_members(numbered: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """(kid, item, account, group, k, pos): the cells that can pair anyone (two accounts or
    more, of more than one organisation), each cell's rows together in the ring's order, with
    the cell's size ``k`` and the account's position ``pos`` in it; ``group`` is a number."""
    ordered = (
        numbered.join(groups.select("account", pl.col("group").rank("dense")), on="account")
        .with_columns(pl.col("account").hash(seed=RING_SEED).alias("order"))
        .sort("kid", "item", "order", "account")
    )
    if ordered.is_empty():
        return ordered.select("kid", "item", "account", "group", k=pl.lit(0), pos=pl.lit(0))
    opens = (
        ordered.select(
            (pl.col("kid") != pl.col("kid").shift(1)) | (pl.col("item") != pl.col("item").shift(1))
        )
        .to_series()
        .fill_null(True)
        .to_numpy()
    )
    starts = np.flatnonzero(opens)
    sizes = np.diff(np.append(starts, ordered.height))
    group = ordered["group"].to_numpy()
    mixed = np.minimum.reduceat(group, starts) != np.maximum.reduceat(group, starts)
    cell = np.cumsum(opens) - 1
    return ordered.with_columns(
        pl.Series("k", sizes[cell], dtype=pl.Int64),
        pl.Series("pos", np.arange(ordered.height) - starts[cell], dtype=pl.Int64),
    ).filter(pl.Series(((sizes > 1) & mixed)[cell]))


def ring_pairs(
    members: pl.DataFrame, *, cell_cap: int, shard: int = 0, shards: int = 1
) -> pl.DataFrame:
    """(a, b, kid, item), a < b, once each: the pairs of unrelated accounts each cell of
    ``members`` (``cell_members``) compares, each account with the ``cell_cap // 2`` that
    follow it round the ring (so with as many that precede it too). Only the pairs whose
    ``a`` is ``shard`` modulo ``shards``: each pair is in exactly one shard."""
    if members.is_empty():
        return pl.DataFrame(schema=NEIGHBOUR_SCHEMA)
    size = members["k"].to_numpy()
    pos = members["pos"].to_numpy()
    first = np.arange(len(pos), dtype=np.int64) - pos  # the row where each row's cell starts
    account = members["account"].to_numpy()
    group = members["group"].to_numpy()
    a_parts, b_parts, row_parts = [], [], []
    for step in range(1, min(max(cell_cap // 2, 1), int(size.max()) // 2) + 1):
        # Round a ring of k, step s and step k - s join the same pairs: each is taken once,
        # and at s = k / 2 from the first half of the ring only.
        rows = np.flatnonzero((2 * step < size) | ((2 * step == size) & (pos < step)))
        other = first[rows] + (pos[rows] + step) % size[rows]
        a = np.minimum(account[rows], account[other])
        kept = (group[rows] != group[other]) & (a % shards == shard)
        rows, other = rows[kept], other[kept]
        a_parts.append(a[kept])
        b_parts.append(np.maximum(account[rows], account[other]))
        row_parts.append(rows)
    rows = np.concatenate(row_parts)
    return pl.DataFrame(
        {
            "a": np.concatenate(a_parts),
            "b": np.concatenate(b_parts),
            "kid": members["kid"].to_numpy()[rows],
            "item": members["item"].to_numpy()[rows],
        },
        schema=NEIGHBOUR_SCHEMA,
    )


def cell_neighbours(cells: pl.DataFrame, groups: pl.DataFrame, *, cell_cap: int) -> pl.DataFrame:
    """(a, b, kid, item), a < b: the pairs of unrelated accounts a (key, window) cell compares.

    An account is compared with at most ``cell_cap`` others of a cell: the ``cell_cap // 2``
    that follow it and as many that precede it in one fixed pseudo-random order of accounts (a
    ring, as ``clustering.key_pairs`` links a hub's members). A cell of up to ``cell_cap + 1``
    accounts compares all its pairs; a busier one (a popular tool's users at a busy hour, a
    large fleet's wave) at most ``cell_cap // 2`` pairs per account, so the pairs grow with the
    cells' rows, never with their square. The order is the same in every cell, so a fleet's
    members meet the same neighbours wave after wave, and it does not depend on how the run's
    accounts were split into chunks. ``kid`` numbers the cell's key (``numbered_keys``).
    """
    return ring_pairs(cell_members(numbered_keys(cells), groups), cell_cap=cell_cap)


def crowded_windows(cells: pl.DataFrame, groups: pl.DataFrame, *, cell_cap: int) -> pl.DataFrame:
    """(account, coaction_crowded): how many of an account's cells were too busy to compare it
    with everyone in them (more than ``cell_cap + 1`` accounts), for its explanation."""
    return (
        cells.select("key", "item", "account")
        .filter(pl.len().over("key", "item") > cell_cap + 1)
        .join(groups, on="account")
        .filter(pl.col("group").n_unique().over("key", "item") > 1)
        .group_by("account")
        .agg(pl.len().cast(pl.Float64).alias("coaction_crowded"))
    )


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
    window (``features.coaction_cells``). Accounts are compared only inside one (key, window)
    cell, and there with at most ``cell_cap`` neighbours each (``cell_neighbours``), so the
    work grows with the cells' rows, never with all pairs of accounts.

    A pair counts when it met in cells on at least ``min_days`` distinct days, at least
    ``min_lift`` times as often as chance: two independent accounts that worked key k in c_a
    and c_b of the window's T windows meet in about c_a c_b / T of them (summed over the keys
    they met on), so two round-the-clock users of one agent meet often, but no more often than
    chance. In a cell busier than the cap a pair is counted only when it is compared, so its
    count is at most what it met: against comparing every pair, the cap can lose a pair, never
    add one. And they leave
    through the same exits: their address sets (``exits``: account, exit_sig, MinHash)
    overlap by at least ``min_exit_overlap``.
    """
    empty = pl.DataFrame(schema=COACTION_SCHEMA)
    if cells.is_empty():
        return empty
    numbered = numbered_keys(cells)
    members = cell_members(numbered, groups)
    worked = numbered.group_by("account", "kid").agg(pl.len().alias("c"))
    per_day = max(24 * 60 // max(bucket_minutes, 1), 1)
    # The pairs compared are held a shard at a time, so memory stays bounded however many
    # cell rows the run has; the shards' pairs are disjoint, so the result is the same.
    bound = int((members["k"] // 2).clip(upper_bound=max(cell_cap // 2, 1)).sum() or 0)
    shards = max(1, -(-bound // PAIRS_PER_SHARD))
    found = []
    for shard in range(shards):
        met = ring_pairs(members, cell_cap=cell_cap, shard=shard, shards=shards)
        observed = (
            met.group_by("a", "b")
            .agg(pl.len().alias("cells"), (pl.col("item") // per_day).n_unique().alias("days"))
            .filter(pl.col("days") >= min_days)
        )
        keys = (
            met.join(observed.select("a", "b"), on=["a", "b"], how="semi")
            .select("a", "b", "kid")
            .unique()
        )
        del met
        expected = (
            keys.join(worked.rename({"account": "a", "c": "ca"}), on=["a", "kid"])
            .join(worked.rename({"account": "b", "c": "cb"}), on=["b", "kid"])
            .group_by("a", "b")
            .agg((pl.col("ca") * pl.col("cb")).sum().cast(pl.Float64).alias("e"))
            .with_columns(pl.col("e") / max(window_buckets, 1))
        )
        found.append(
            observed.join(expected, on=["a", "b"])
            .with_columns((pl.col("cells") / pl.col("e").clip(1e-9, None)).alias("lift"))
            .filter(pl.col("lift") >= min_lift)
        )
    pairs = pl.concat(found).sort("a", "b")
    if pairs.is_empty():
        return empty
    return (
        pairs.with_columns(pl.Series("exit_overlap", _exit_overlap(pairs, exits)))
        .filter(pl.col("exit_overlap") >= min_exit_overlap)
        .select(list(COACTION_SCHEMA))
        .cast(COACTION_SCHEMA)
    )


def _exit_overlap(pairs: pl.DataFrame, exits: pl.DataFrame) -> np.ndarray:
    """Per pair (a, b): the MinHash estimate of the Jaccard overlap of their address sets, 0
    for an account with no signature."""
    known = exits.filter(pl.col("exit_sig").is_not_null())
    if pairs.is_empty() or known.is_empty():
        return np.zeros(pairs.height, dtype=np.float64)
    index = known.select("account", pl.int_range(pl.len(), dtype=pl.Int64).alias("row"))
    sigs = np.vstack(known["exit_sig"].to_list()).astype(np.uint64)

    def rows(column: str) -> np.ndarray:
        found = pairs.select(pl.col(column).alias("account")).join(
            index, on="account", how="left", maintain_order="left"
        )
        return found["row"].fill_null(-1).to_numpy()

    a, b = rows("a"), rows("b")
    both = (a >= 0) & (b >= 0)
    overlap = np.zeros(pairs.height, dtype=np.float64)
    overlap[both] = (sigs[a[both]] == sigs[b[both]]).mean(axis=1)
    return overlap
