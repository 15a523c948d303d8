"""Templating per account: how much of an account's traffic is filled in from templates,
and the LSH band keys of its sampled prompts, which link it to accounts that share them.
Frames in, frames out; part of ``detection.features.chunk_features``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from detection.minhash import MIN_SHINGLES, band_keys, minhash_flat, word_pairs
from detection.spill import Spill

if TYPE_CHECKING:
    from detection.config import DetectionParams


# The template bands as the analysis holds them (``template_rows``).
TEMPLATE_SCHEMA = {"account": pl.Int64, "key": pl.UInt64, "item": pl.Int64}
# Seed of the hash that stands for a template band's key.
TEMPLATE_KEY_SEED = 19
# The most template rows a step that counts per band holds at once (``key_parts``).
TEMPLATE_PART_ROWS = 5_000_000
# Seed of the hash that puts a key in its part (``key_parts``) or bucket (``Bands``).
KEY_PART_SEED = 23
# Buckets of the keys a run's bands are held in (``Bands``).
KEY_BUCKETS = 32


def template_rows(links: pl.DataFrame) -> pl.DataFrame:
    """(account, key, item): the links of kind "template", each band's key as a 64-bit hash
    of it. Only whether two keys are the same matters, and a run holds tens of millions of
    these rows: as numbers they take a third of the memory of the keys' text."""
    return (
        links.filter(pl.col("kind") == "template")
        .select("account", pl.col("key").hash(seed=TEMPLATE_KEY_SEED), "item")
        .cast(TEMPLATE_SCHEMA)
    )


class Bands:
    """A run's template bands (``template_rows``) in buckets of their keys, every row of a
    key in one bucket, so that what is counted per band is counted a few buckets at a time
    (``key_parts``). Given a ``directory``, each bucket's rows are written there as they are
    added (``detection.spill``: a run's finalise step reads its chunks one at a time and
    spills their bands, so a run's tens of millions of band rows are never all in memory,
    and each step that reads them holds one part at a time); without one they stay in
    memory."""

    def __init__(self, *, directory: Path | None = None) -> None:
        self._spill = Spill(name="bands", directory=directory)

    def add(self, rows: pl.DataFrame) -> None:
        """Add (account, key, item) rows: those of one chunk, say."""
        if rows.is_empty():
            return
        bucket = (pl.col("key").hash(seed=KEY_PART_SEED) % KEY_BUCKETS).alias("bucket")
        self._spill.add(rows.with_columns(bucket), by="bucket")

    @property
    def height(self) -> int:
        return self._spill.rows

    def is_empty(self) -> bool:
        return not self.height

    def parts(self) -> Iterator[pl.DataFrame]:
        """The bands a part at a time: consecutive buckets, at most ``TEMPLATE_PART_ROWS``
        rows unless one bucket alone has more (an empty frame when there are none)."""
        if self.is_empty():
            yield pl.DataFrame(schema=TEMPLATE_SCHEMA)
            return
        yield from self._spill.parts(TEMPLATE_PART_ROWS)


def key_parts(links: pl.DataFrame | Bands) -> Iterator[pl.DataFrame]:
    """``links`` (rows with a ``key``) in parts of at most about ``TEMPLATE_PART_ROWS`` rows,
    every row of a key in the same part: what is counted per band can be counted a part at a
    time, so that a run's tens of millions of template rows are never widened all at once.
    ``Bands`` are read back in their own parts (``Bands.parts``)."""
    if isinstance(links, Bands):
        yield from links.parts()
        return
    parts = -(-links.height // TEMPLATE_PART_ROWS)
    if parts <= 1:
        yield links
        return
    part = pl.col("key").hash(seed=KEY_PART_SEED) % parts
    for i in range(parts):
        yield links.filter(part == i)


BANDS_SCHEMA = {"account": pl.Int64, "i": pl.Int64, "rank": pl.Int64, "band": pl.Int64}


def _shingle_tokens(prompts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Word-pair shingles of each normalised prompt, hashed to 32-bit ints (in polars): each
    prompt's number of distinct shingles, and the shingles of all prompts one after the
    other (prompt by prompt), as ``minhash_flat`` takes them."""
    hashed = (
        word_pairs(prompts)
        .select("i", (pl.col("pair").hash(seed=7) & 0xFFFFFFFF).cast(pl.Int64).alias("h"))
        .unique()
        .sort("i")
    )
    sizes = np.bincount(hashed["i"].to_numpy(), minlength=len(prompts)).astype(np.int64)
    return sizes, hashed["h"].to_numpy()


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
    # ``i`` numbers the sampled prompts of the chunk; ``rank`` is a prompt's place among its
    # account's, which names it in the links, so that the links do not depend on which other
    # accounts share the chunk.
    sample = distinct.with_columns(pl.int_range(pl.len()).over("account").alias("rank")).filter(
        pl.col("rank") < k
    )
    sizes, tokens = _shingle_tokens(sample["prompt"])
    long_enough = sizes >= MIN_SHINGLES
    sample = sample.with_columns(
        pl.Series("signed", long_enough), pl.int_range(pl.len()).alias("i")
    )
    signed = sample.filter("signed")
    sigs = minhash_flat(
        tokens[np.repeat(long_enough, sizes)], sizes[long_enough], params.minhash_num_perm
    )
    keys = band_keys(sigs, params.minhash_bands) if len(sigs) else np.empty((0, 0), np.int64)
    bands = (
        pl.DataFrame(
            {
                "account": np.repeat(signed["account"].to_numpy(), keys.shape[1]),
                "i": np.repeat(signed["i"].to_numpy(), keys.shape[1]),
                "rank": np.repeat(signed["rank"].to_numpy(), keys.shape[1]),
                "band": keys.reshape(-1),
            },
            schema=BANDS_SCHEMA,
        )
        if len(signed)
        else pl.DataFrame(schema=BANDS_SCHEMA)
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
    # An account's band sent by several of its prompts is named by the first of them.
    links = bands.unique(["account", "band"], keep="first").select(
        "account",
        pl.lit("template").alias("kind"),
        pl.col("band").cast(pl.Utf8).alias("key"),
        pl.col("rank").alias("item"),
    )
    return stats, links
