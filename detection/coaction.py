"""Co-action: unrelated accounts acting together, the tell of a fleet behind a proxy network.

After SynchroTrap's loosely synchronised actions: a fleet's orchestrator hands jobs to its
accounts in waves, so many of them work the same prompt template, from the same exit pool,
within the same minutes, day after day, while each account alone stays under every
per-account threshold. Independent customers of one popular tool send the same template too,
but each at their own hours and from their own addresses: they meet in a window no more often
than chance gives.

The cost is linear: a chunk turns its exchanges into cells (account, template key, time
window), one row per account, key and window (``coaction_cells``); the run compares accounts
that share a cell, but an account whose cells are crowded (a popular tool's user at busy
hours, a large fleet's member whose waves are crowds) only with at most ``coaction_cell_cap``
others, those whose cells most resemble its own by a MinHash sketch, and counts each pair
compared exactly (``compared``, ``coaction_pairs``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import scipy.sparse as sp

from detection.minhash import MIN_SHINGLES, minhash_groups, word_pairs
from detection.spill import Spill

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
    distinct = (
        ex.filter(pl.col("prompt_hash").is_not_null())
        .select("prompt_hash", "prompt")
        .unique("prompt_hash")
    )
    shingles = word_pairs(distinct["prompt"].str.slice(0, COACTION_PROMPT_CHARS))
    # Each prompt's keys: the least hash of its pairs, per seed (its pairs are consecutive).
    prompt = shingles["i"].to_numpy()
    opens = np.flatnonzero(np.diff(prompt, prepend=-1))
    signed = np.diff(np.append(opens, len(prompt))) >= MIN_SHINGLES
    keys = [
        np.minimum.reduceat(shingles["pair"].hash(seed=11 + k).to_numpy(), opens)[signed]
        if len(opens)
        else np.empty(0, np.uint64)
        for k in range(COACTION_KEYS)
    ]
    hashes = distinct["prompt_hash"].to_numpy()[prompt[opens][signed]]
    prompts = pl.DataFrame(
        {"prompt_hash": np.tile(hashes, COACTION_KEYS), "key": np.concatenate(keys)},
        schema={"prompt_hash": pl.Int64, "key": pl.UInt64},
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
    exits, sigs = minhash_groups(
        ex.select("account", (pl.col("ip").hash(seed=5) & 0xFFFFFFFF).cast(pl.Int64)),
        "account",
        params.minhash_num_perm,
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
COMPARED_SCHEMA = {"a": pl.Int64, "b": pl.Int64, "rows": pl.Int64}
# Seed of the hashes that sketch an account's cells and break ties between equal sketches.
SKETCH_SEED = 13
# Min-hashes in the sketch: each sorts the accounts once. Two accounts whose sets of cells
# overlap by J (Jaccard) share one with probability J, so a fleet whose members share a fifth
# of their cells still meets in several of them.
SKETCH_ORDERS = 32
# In each order an account meets this many accounts on either side of it in a ring of those
# that share its min-hash.
SKETCH_NEIGHBOURS = 2
# The most cell rows the exact count of the compared pairs reads at once (about 16 bytes each).
PAIRS_PER_SHARD = 8_000_000
# A pair's cells are merged with its partner's when the partner has at most this many times
# as many in the part, else looked up among them (``_meetings``).
MERGE_RATIO = 4
# The most cell rows a part of the cells holds, when the run has more days than that.
PART_ROWS = 4_000_000
# The most pairs whose exit signatures ``_exit_overlap`` compares at once.
OVERLAP_PAIRS_AT_ONCE = 200_000
# Seed of the hash that numbers a template key.
KEY_SEED = 17
NUMBERED_SCHEMA = {"account": pl.Int64, "kid": pl.UInt64, "item": pl.Int64, "cell": pl.UInt64}


def numbered_keys(cells: pl.DataFrame) -> pl.DataFrame:
    """(account, kid, item, cell): ``cells`` with each template key replaced by a number (a
    64-bit hash of it), so that joining and comparing cells is joining and comparing numbers,
    and ``cell`` a hash of the (key, window) cell itself for the sketch. Both depend on the
    cell alone, never on the rows' order or on which chunk they came from."""
    return cells.select(
        "account",
        pl.col("key").hash(seed=KEY_SEED).alias("kid"),
        "item",
        pl.struct("key", "item").hash(seed=SKETCH_SEED).alias("cell"),
    ).cast(NUMBERED_SCHEMA)


def cell_members(numbered: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """(account, kid, item, cell, group, k): the rows of the cells that can pair anyone (two
    accounts or more, of more than one organisation), with the cell's size ``k``; ``group``
    is a number (``numbered_groups``)."""
    cell = ["kid", "item"]
    return (
        numbered.join(groups, on="account")
        .with_columns(
            pl.len().over(cell).alias("k"),
            (pl.col("group").min().over(cell) != pl.col("group").max().over(cell)).alias("mixed"),
        )
        .filter((pl.col("k") > 1) & pl.col("mixed"))
        .drop("mixed")
    )


def numbered_groups(groups: pl.DataFrame) -> pl.DataFrame:
    """(account, group): each organisation as a number."""
    return groups.select("account", pl.col("group").rank("dense"))


class Cells:
    """A run's co-action cells, numbered (``numbered_keys``), in parts of whole days.

    A cell (a key in one window) lies within one day, so everything co-action counts per cell
    or per pair and day can be counted one part at a time and added up: only one part is in
    memory at once. Given a ``directory``, each day's rows are written there as they are
    added (``detection.spill``: a run's finalise step reads its chunks one at a time and
    spills their cells); without one they stay in memory (a test's or a backtest's frames)."""

    def __init__(self, *, bucket_minutes: int, directory: Path | None = None) -> None:
        self.per_day = max(24 * 60 // max(bucket_minutes, 1), 1)
        self.directory = directory
        self._spill = Spill(name="cells", directory=directory)

    @classmethod
    def of(cls, cells: pl.DataFrame, *, bucket_minutes: int) -> Cells:
        """``cells`` (account, key, item) in memory."""
        held = cls(bucket_minutes=bucket_minutes)
        held.add(cells)
        return held

    def add(self, cells: pl.DataFrame) -> None:
        """Add (account, key, item) rows: those of one chunk, say."""
        if cells.is_empty():
            return
        day = (pl.col("item") // self.per_day).alias("day")
        self._spill.add(numbered_keys(cells).with_columns(day), by="day")

    @property
    def rows(self) -> int:
        return self._spill.rows

    def is_empty(self) -> bool:
        return not self.rows

    def parts(self) -> Iterator[pl.DataFrame]:
        """The cells, a part at a time: consecutive days, at most ``PART_ROWS`` rows unless
        one day alone has more."""
        return self._spill.parts(PART_ROWS)


@dataclass
class CellSummary:
    """What co-action needs of all the cells at once, counted a part at a time: per account,
    ``crowd`` (``crowds``), ``size`` (its rows in cells that can pair anyone), ``sketch``
    (its group and the MinHash sketch of those cells) and ``worked`` (account, kid, c: the
    windows in which it worked each key). ``members`` holds each part's rows of cells that
    can pair anyone (``cell_members``), in the same parts as the cells."""

    members: Spill
    crowd: pl.DataFrame
    size: pl.DataFrame
    sketch: pl.DataFrame
    worked: pl.DataFrame

    @classmethod
    def of(cls, cells: Cells, groups: pl.DataFrame) -> CellSummary:
        numbered = numbered_groups(groups)
        members = Spill(name="members", directory=cells.directory)
        crowd, size = [], []
        sketch = None
        worked = pl.DataFrame(schema={"account": pl.Int64, "kid": pl.UInt64, "c": pl.UInt32})
        for index, part in enumerate(cells.parts()):
            # Added up part by part: an account works its keys on many days, so every part's
            # counts held until the end were several times the total (and counts add up
            # alike in any order).
            worked = (
                pl.concat([worked, part.group_by("account", "kid").agg(pl.len().alias("c"))])
                .group_by("account", "kid")
                .agg(pl.col("c").sum())
            )
            rows = cell_members(part, numbered)
            del part
            crowd.append(crowds(rows))
            size.append(rows.group_by("account").agg(pl.len().alias("n")))
            # The least hashes so far: an account's sketch in every part held until the end
            # was its 32 numbers times the parts.
            sketch = _least(_sketch(rows) if sketch is None else pl.concat([sketch, _sketch(rows)]))
            members.put(index, rows)
        return cls(
            members=members,
            crowd=_summed(crowd, "crowd", {"account": pl.Int64, "crowd": pl.Int64}),
            size=_summed(size, "n", {"account": pl.Int64, "n": pl.UInt32}),
            sketch=pl.DataFrame() if sketch is None else sketch.sort("account"),
            worked=worked,
        )

    def member_parts(self) -> Iterator[pl.DataFrame]:
        return self.members.parts(0)  # each in the part of the cells it came from

    def is_empty(self) -> bool:
        return self.size.is_empty()


def _summed(parts: list[pl.DataFrame], column: str, schema: dict) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).group_by("account").agg(pl.col(column).sum()).cast(schema)


def _sketch(members: pl.DataFrame) -> pl.DataFrame:
    """(account, group, m0 ... m31): per account, the least hash of its cells per order."""
    return members.group_by("account").agg(
        pl.col("group").first(),
        *[
            pl.col("cell").hash(seed=SKETCH_SEED + 1 + j).min().alias(f"m{j}")
            for j in range(SKETCH_ORDERS)
        ],
    )


def _least(sketches: pl.DataFrame) -> pl.DataFrame:
    """Per account of ``sketches`` (``_sketch`` of some parts), its group and the least hash
    of each order."""
    return sketches.group_by("account").agg(
        pl.col("group").first(), *[pl.col(f"m{j}").min() for j in range(SKETCH_ORDERS)]
    )


def crowds(members: pl.DataFrame) -> pl.DataFrame:
    """(account, crowd): per account, how many other accounts' rows its cells hold, summed
    over its cells (a partner met in several cells counts in each): the most others it could
    be compared with."""
    return members.group_by("account").agg((pl.col("k") - 1).sum().alias("crowd"))


def _quiet_pairs(summary: CellSummary, *, cell_cap: int) -> pl.DataFrame:
    """(a, b): every unrelated pair that shares a cell and one of whose accounts is quiet (its
    cells hold at most ``cell_cap`` others' rows). Enumerating a quiet account's cells reads
    at most ``cell_cap`` rows besides its own, so this is linear whatever the cells' sizes."""
    quiet = summary.crowd.filter(pl.col("crowd") <= cell_cap).select("account")
    found = []
    for members in summary.member_parts():
        mine = members.join(quiet, on="account", how="semi").select(
            pl.col("account").alias("x"), pl.col("group").alias("gx"), "kid", "item"
        )
        theirs = members.select(
            pl.col("account").alias("y"), pl.col("group").alias("gy"), "kid", "item"
        )
        found.append(
            mine.join(theirs, on=["kid", "item"])
            .filter(pl.col("gx") != pl.col("gy"))
            .select(pl.min_horizontal("x", "y").alias("a"), pl.max_horizontal("x", "y").alias("b"))
            .unique()
        )
    return (
        pl.concat(found).unique() if found else pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64})
    )


def _sketch_pairs(sig: pl.DataFrame, *, cell_cap: int) -> pl.DataFrame:
    """(a, b): for each account, the ``cell_cap`` unrelated accounts whose sets of cells most
    resemble its own, by a MinHash sketch (``sig``: account, group, m0 ... m31, sorted by
    account); a pair once, whichever of the two chose it.

    In each of ``SKETCH_ORDERS`` orders, the accounts that share a min-hash of their cells
    (so share the cell it picked) form a ring, and each meets the ``SKETCH_NEIGHBOURS`` on
    either side of it. The ring is ordered by a second min-hash and then a seeded tie-break,
    so accounts that share that one too sit together, whatever strangers the cell holds.
    Two accounts meet in about as many orders as their sets overlap (J of them); each account
    keeps those it met in the most orders. The work is a sort of the accounts per order and
    at most 2 ``SKETCH_NEIGHBOURS`` meetings per account and order."""
    account = sig["account"].to_numpy()
    group = sig["group"].to_numpy()
    a_parts, b_parts = [], []
    for j in range(SKETCH_ORDERS):
        order = sig.select(
            pl.int_range(pl.len()).alias("row"),
            pl.col(f"m{j}").alias("bucket"),
            pl.col(f"m{(j + 1) % SKETCH_ORDERS}").alias("second"),
            pl.col("account").hash(seed=SKETCH_SEED + 1 + SKETCH_ORDERS + j).alias("tie"),
            "account",
        ).sort("bucket", "second", "tie", "account")
        rows = order["row"].to_numpy()
        bucket = order["bucket"].to_numpy()
        opens = np.ones(len(rows), dtype=bool)
        opens[1:] = bucket[1:] != bucket[:-1]
        starts = np.flatnonzero(opens)
        sizes = np.diff(np.append(starts, len(rows)))
        ring = np.cumsum(opens) - 1
        size, start = sizes[ring], starts[ring]
        pos = np.arange(len(rows)) - start
        for step in range(1, SKETCH_NEIGHBOURS + 1):
            # Round a ring of k, step s and step k - s join the same pairs: each is taken once,
            # and at s = k / 2 from the first half of the ring only.
            at = np.flatnonzero((2 * step < size) | ((2 * step == size) & (pos < step)))
            x = rows[at]
            y = rows[start[at] + (pos[at] + step) % size[at]]
            kept = group[x] != group[y]
            x, y = x[kept], y[kept]
            a_parts.append(np.minimum(account[x], account[y]))
            b_parts.append(np.maximum(account[x], account[y]))
    met = pl.DataFrame(
        {"a": np.concatenate(a_parts), "b": np.concatenate(b_parts)},
        schema={"a": pl.Int64, "b": pl.Int64},
    )
    # Among partners met as often, a seeded hash of the pair chooses, so that no account is
    # everyone's choice for its number.
    hits = met.group_by("a", "b").agg(
        pl.len().alias("hits"), pl.struct("a", "b").first().hash(seed=SKETCH_SEED).alias("t")
    )
    mine = pl.concat(
        [
            hits.select(pl.col("a").alias("account"), "a", "b", "hits", "t"),
            hits.select(pl.col("b").alias("account"), "a", "b", "hits", "t"),
        ]
    )
    return (
        mine.sort(["account", "hits", "t", "a", "b"], descending=[False, True, False, False, False])
        .group_by("account", maintain_order=True)
        .head(cell_cap)
        .select("a", "b")
        .unique()
    )


def compared(summary: CellSummary, *, cell_cap: int) -> pl.DataFrame:
    """(a, b, rows), a < b, once each: the pairs of unrelated accounts co-action compares, and
    how many cell rows counting each exactly reads (the cells of the one with fewer).

    A quiet account (its cells hold at most ``cell_cap`` others' rows in all) is compared with
    everyone it shares a cell with; a busier one (a popular tool's user at busy hours, a large
    fleet's member, whose waves are crowds) with those quiet ones, with the ``cell_cap``
    others whose cells most resemble its own by a sketch (``_sketch_pairs``), as a fleet's
    members' do, and with those that chose it so. So the pairs grow with the accounts and the rows,
    never with their square, and a pair is counted in every cell it shares, not only in some.
    The hashes depend on the cells and accounts alone, so the pairs do not depend on the
    rows' order, on how the run's accounts were split into chunks or on how the cells were
    split into parts."""
    if summary.is_empty():
        return pl.DataFrame(schema=COMPARED_SCHEMA)
    pairs = pl.concat(
        [_quiet_pairs(summary, cell_cap=cell_cap), _sketch_pairs(summary.sketch, cell_cap=cell_cap)]
    ).unique()
    size = summary.size
    return (
        pairs.join(size.rename({"account": "a", "n": "na"}), on="a")
        .join(size.rename({"account": "b", "n": "nb"}), on="b")
        .select("a", "b", pl.min_horizontal("na", "nb").alias("rows"))
        .sort("a", "b")
        .cast(COMPARED_SCHEMA)
    )


def compared_pairs(
    cells: pl.DataFrame, groups: pl.DataFrame, *, cell_cap: int, bucket_minutes: int = 10
) -> pl.DataFrame:
    """``compared`` straight from ``cells`` (account, key, item) and ``groups``."""
    held = Cells.of(cells, bucket_minutes=bucket_minutes)
    return compared(CellSummary.of(held, groups), cell_cap=cell_cap)


class _Incidence:
    """One part's cells as a sparse (account x cell) matrix: a row per account of
    ``accounts`` (sorted), a column per cell (key, window) of the part, numbered in the order
    of (window, key) so that a row's columns run in time; each entry is how many of the
    account's rows the cell holds (one, unless two keys' numbers collide). ``item`` and
    ``kid`` are each column's window and key (an index into ``kids``, sorted)."""

    def __init__(self, members: pl.DataFrame, accounts: np.ndarray, kids: np.ndarray) -> None:
        row = np.searchsorted(accounts, members["account"].to_numpy())
        kid = np.searchsorted(kids, members["kid"].to_numpy())
        item = members["item"].to_numpy()
        first = int(item.min())
        code, column = np.unique((item - first) * len(kids) + kid, return_inverse=True)
        self.item = code // len(kids) + first
        self.kid = code % len(kids)
        entry, count = np.unique(row * len(code) + column.ravel(), return_counts=True)
        indptr = np.zeros(len(accounts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(entry // len(code), minlength=len(accounts)), out=indptr[1:])
        shape = (len(accounts), len(code))
        self.counts = sp.csr_array((count, entry % len(code), indptr), shape=shape)
        self.present = sp.csr_array(
            (np.ones(len(entry), np.int8), entry % len(code), indptr), shape=shape
        )
        self.rows = np.diff(indptr)


def _distinct(values: np.ndarray) -> np.ndarray:
    """``values`` sorted, each once (as ``np.unique``, by a sort rather than a hash table).
    A stable sort: as fast as the default on values in no order, and it merges runs already
    sorted (the distinct values so far and a part's, in ``coaction_pairs``) in one pass."""
    values = np.sort(values, kind="stable")
    kept = np.ones(len(values), dtype=bool)
    kept[1:] = values[1:] != values[:-1]
    return values[kept]


def _meetings(cells: _Incidence, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """(pair, column, count), sorted by pair and column: each cell the pair ``x[pair]``,
    ``y[pair]`` (rows of ``cells``) shares, and how many of x's rows it holds. x's cells are
    read and either merged with y's, when y has at most ``MERGE_RATIO`` times as many, or
    looked up among them (a binary search in y's row), so the work grows with x's rows."""
    merge = cells.rows[y] <= MERGE_RATIO * cells.rows[x]
    found = []
    if merge.any():
        at = np.flatnonzero(merge)
        met = sp.csr_array(cells.counts[x[at]].multiply(cells.present[y[at]]))
        met.eliminate_zeros()
        met.sort_indices()
        found.append((np.repeat(at, np.diff(met.indptr)), met.indices, met.data))
    if not merge.all():
        at = np.flatnonzero(~merge)
        mine = cells.counts[x[at]]
        mine.sort_indices()
        pair = np.repeat(at, np.diff(mine.indptr))
        hit = cells.present[y[pair], mine.indices] != 0
        found.append((pair[hit], mine.indices[hit], mine.data[hit]))
    pair, column, count = (np.concatenate(f) for f in zip(*found, strict=True))
    order = np.argsort(pair, kind="stable")
    return pair[order], column[order].astype(np.int64), count[order].astype(np.int64)


def crowded_accounts(
    cells: pl.DataFrame | Cells,
    groups: pl.DataFrame,
    *,
    cell_cap: int,
    summary: CellSummary | None = None,
) -> pl.DataFrame:
    """(account, coaction_crowded): for each account whose cells hold more than ``cell_cap``
    other accounts' rows (so that it was compared with a sketch's choice of them, not with
    all), how many; for its explanation. ``summary``: ``CellSummary.of(cells, groups)``, when
    the caller has made it already."""
    summary = summary or CellSummary.of(_held(cells), groups)
    return summary.crowd.filter(pl.col("crowd") > cell_cap).select(
        "account", pl.col("crowd").cast(pl.Float64).alias("coaction_crowded")
    )


def _held(cells: pl.DataFrame | Cells, bucket_minutes: int = 10) -> Cells:
    if isinstance(cells, Cells):
        return cells
    return Cells.of(cells, bucket_minutes=bucket_minutes)


def coaction_pairs(
    cells: pl.DataFrame | Cells,
    groups: pl.DataFrame,
    exits: pl.DataFrame,
    *,
    window_buckets: int,
    bucket_minutes: int,
    cell_cap: int,
    min_days: int,
    min_lift: float,
    min_exit_overlap: float,
    summary: CellSummary | None = None,
) -> pl.DataFrame:
    """Pairs of unrelated accounts that act together: (a, b, cells, days, lift, exit_overlap).

    ``cells`` is (account, key, item): the template keys each account worked in each time
    window (``features.coaction_cells``), as a frame or held in parts (``Cells``). Only the
    pairs ``compared`` picks are counted: every pair sharing a cell with a quiet account, and
    for a busier account at most ``cell_cap`` more chosen by a MinHash sketch of its cells, so
    the work grows with the cells' rows, never with all pairs of accounts, however crowded a
    window. A compared pair is counted in every cell it shares; against comparing every pair,
    the cap can lose a pair, never add one or change its count.

    A pair counts when it met in cells on at least ``min_days`` distinct days, at least
    ``min_lift`` times as often as chance: two independent accounts that worked key k in c_a
    and c_b of the window's T windows meet in about c_a c_b / T of them (summed over the keys
    they met on), so two round-the-clock users of one agent meet often, but no more often than
    chance. And they leave through the same exits: their address sets (``exits``: account,
    exit_sig, MinHash) overlap by at least ``min_exit_overlap``.

    The cells are read a part (of whole days) at a time, and within a part a shard of pairs
    at a time, so memory stays bounded however many the run has; a pair's meetings in each
    part are added up, so the result is the same however the cells are split.
    """
    empty = pl.DataFrame(schema=COACTION_SCHEMA)
    held = _held(cells, bucket_minutes)
    if held.is_empty():
        return empty
    summary = summary or CellSummary.of(held, groups)
    candidates = compared(summary, cell_cap=cell_cap)
    if candidates.is_empty():
        return empty
    per_day = held.per_day
    size = summary.size
    # Accounts, keys and pairs as numbers: rows of one sparse matrix per part, indices into
    # arrays that add up a pair's meetings over the parts.
    accounts = np.sort(size["account"].to_numpy())
    kids = np.sort(summary.worked["kid"].unique().to_numpy())
    a = np.searchsorted(accounts, candidates["a"].to_numpy())
    b = np.searchsorted(accounts, candidates["b"].to_numpy())
    n = size.sort("account")["n"].to_numpy()
    x = np.where(n[a] <= n[b], a, b)
    y = np.where(n[a] <= n[b], b, a)
    met_cells = np.zeros(len(a), dtype=np.int64)
    met_days = np.zeros(len(a), dtype=np.int64)
    # The (pair, key) each pair met on, packed into one number, each once: made distinct
    # part by part (a pair meets on the same key on many days, in many parts).
    met = np.empty(0, dtype=np.int64)
    for members in summary.member_parts():
        if members.is_empty():
            continue
        cells_here = _Incidence(members, accounts, kids)
        del members
        here = np.flatnonzero((cells_here.rows[x] > 0) & (cells_here.rows[y] > 0))
        if not len(here):
            continue
        keys = [met]
        # Each pair is in one shard, and each cell (so each day) in one part: a pair's cells
        # and days add up over the shards and the parts.
        reads = np.cumsum(cells_here.rows[x[here]] + cells_here.rows[y[here]])
        bounds = np.searchsorted(reads, np.arange(PAIRS_PER_SHARD, reads[-1], PAIRS_PER_SHARD))
        for shard in np.split(here, bounds):
            pair, column, count = _meetings(cells_here, x[shard], y[shard])
            met_cells[shard] += np.bincount(pair, weights=count, minlength=len(shard)).astype(
                np.int64
            )
            day = cells_here.item[column] // per_day
            first = np.ones(len(pair), dtype=bool)
            first[1:] = (pair[1:] != pair[:-1]) | (day[1:] != day[:-1])
            met_days[shard] += np.bincount(pair[first], minlength=len(shard))
            keys.append(_distinct(shard[pair] * len(kids) + cells_here.kid[column]))
        del cells_here
        met = _distinct(np.concatenate(keys))
        del keys
    kept = np.flatnonzero((met_cells > 0) & (met_days >= min_days))
    observed = pl.DataFrame(
        {
            "a": accounts[a[kept]],
            "b": accounts[b[kept]],
            "cells": met_cells[kept],
            "days": met_days[kept],
        },
        schema={"a": pl.Int64, "b": pl.Int64, "cells": pl.Int64, "days": pl.Int64},
    )
    # The expected count of each pair kept: for each key the two met on, c_a c_b / T, with
    # the account and key of ``worked`` packed into one number to look each up.
    pair, kid = met // len(kids), met % len(kids)
    chosen = np.isin(pair, kept)
    pair, kid = pair[chosen], kid[chosen]
    worked = summary.worked.join(size.select("account"), on="account", how="semi")
    packed = np.searchsorted(accounts, worked["account"].to_numpy()) * len(kids) + np.searchsorted(
        kids, worked["kid"].to_numpy()
    )
    order = np.argsort(packed)
    packed, windows = packed[order], worked["c"].to_numpy().astype(np.int64)[order]
    ca = windows[np.searchsorted(packed, a[pair] * len(kids) + kid)]
    cb = windows[np.searchsorted(packed, b[pair] * len(kids) + kid)]
    expected = np.zeros(len(kept), dtype=np.int64)
    np.add.at(expected, np.searchsorted(kept, pair), ca * cb)
    observed = observed.with_columns(pl.Series("e", expected).cast(pl.Float64)).with_columns(
        pl.col("e") / max(window_buckets, 1)
    )
    pairs = (
        observed.with_columns((pl.col("cells") / pl.col("e").clip(1e-9, None)).alias("lift"))
        .filter(pl.col("lift") >= min_lift)
        .sort("a", "b")
    )
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
    width = int(known["exit_sig"].list.len().max())
    sigs = known["exit_sig"].list.to_array(width).to_numpy().astype(np.uint64)

    def rows(column: str) -> np.ndarray:
        found = pairs.select(pl.col(column).alias("account")).join(
            index, on="account", how="left", maintain_order="left"
        )
        return found["row"].fill_null(-1).to_numpy()

    a, b = rows("a"), rows("b")
    both = np.flatnonzero((a >= 0) & (b >= 0))
    overlap = np.zeros(pairs.height, dtype=np.float64)
    # A slice of the pairs at a time: both signatures of every pair at once are the pairs
    # times twice the signature's numbers.
    for at in np.array_split(both, -(-len(both) // OVERLAP_PAIRS_AT_ONCE) or 1):
        overlap[at] = (sigs[a[at]] == sigs[b[at]]).mean(axis=1)
    return overlap
