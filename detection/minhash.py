"""MinHash signatures and their LSH band keys, over sets of 32-bit integer tokens: the
near-duplicate machinery that template features and co-action both build on."""

from __future__ import annotations

import numpy as np
import polars as pl
from datasketch import MinHash

# Prompts with fewer word pairs than this are too short to call a template.
MIN_SHINGLES = 4
# What is not a word character or white space separates words, as a space does.
_NOT_WORD = r"[^\w\s]"
_MIX = np.uint64(0x9E3779B97F4A7C15)


# MurmurHash3's 32-bit finalizer, the pre-mix datasketch's "affine32" scheme applies to each
# input hash before its permutations.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))
# Tokens permuted at once: the (num_perm x tokens) block of 32-bit values stays in the CPU's
# cache (4 MB at 64 permutations) while it is reduced, which is most of the speed.
_MINHASH_BLOCK = 16_384


def word_pairs(prompts: pl.Series) -> pl.DataFrame:
    """(i, pair): the word-pair shingles of each prompt, one row each, ``i`` the prompt's
    position in ``prompts``. The text is lower-cased with digit runs folded to "0", anything
    but word characters and white space becomes a space, and the words are what spaces
    separate; a prompt of fewer than two words has no row. The words are made in one flat
    column for all prompts, not list by list, which cost several times as much."""
    words = (
        prompts.fill_null("")
        .str.to_lowercase()
        .str.replace_all(r"\d+", "0")
        .str.replace_all(_NOT_WORD, " ")
        .str.split(" ")
    )
    flat = (
        pl.DataFrame({"i": np.arange(len(prompts), dtype=np.int64), "w": words})
        .explode("w")
        .filter(pl.col("w") != "")
    )
    # A word and the next one, where the next one is the same prompt's.
    return flat.select(
        "i", pl.concat_str([pl.col("w"), pl.col("w").shift(-1)], separator=" ").alias("pair")
    ).filter(pl.col("i") == pl.col("i").shift(-1))


def minhash_signatures(token_lists: list[np.ndarray], num_perm: int) -> np.ndarray:
    """MinHash signatures of sets of 32-bit integer tokens, one row per set.

    The values are datasketch's (``MinHash(num_perm, seed=1, hashfunc=int)``, scheme
    "affine32": ``a * fmix32(h) + b`` modulo 2**32, minimum over the set), computed for all
    sets at once in numpy rather than one datasketch object per set, which cost more than
    everything else a chunk does. An empty set gets the all-maximum signature, as there.
    """
    sizes = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    tokens = np.concatenate(token_lists) if len(token_lists) else np.empty(0, np.int64)
    return minhash_flat(tokens, sizes, num_perm)


def minhash_flat(tokens: np.ndarray, sizes: np.ndarray, num_perm: int) -> np.ndarray:
    """``minhash_signatures`` of sets given flat: the tokens of every set one after the
    other (in any order within a set) and each set's size, so a caller that already holds
    them in one array never makes a Python object per set."""
    a, b = MinHash(num_perm=num_perm, seed=1).permutations
    a, b = a.astype(np.uint32), b.astype(np.uint32)
    out = np.full((len(sizes), num_perm), np.iinfo(np.uint32).max, dtype=np.uint64)
    hv = np.asarray(tokens).astype(np.uint32)
    s1, m1, s2, m2 = _FMIX32
    with np.errstate(over="ignore"):
        hv ^= hv >> s1
        hv *= m1
        hv ^= hv >> s2
        hv *= m2
        hv ^= hv >> s1
    ends = np.cumsum(sizes)
    starts = ends - sizes
    rows = np.flatnonzero(sizes)
    first = 0
    while first < len(rows):
        # Sets rows[first:last] whose tokens fit one block (at least one set per block).
        fits = np.searchsorted(ends[rows[first:]] - starts[rows[first]], _MINHASH_BLOCK, "right")
        last = first + max(1, int(fits))
        block = rows[first:last]
        lo, hi = starts[block[0]], ends[block[-1]]
        with np.errstate(over="ignore"):
            permuted = np.multiply.outer(a, hv[lo:hi])
            permuted += b[:, None]
        out[block] = np.minimum.reduceat(permuted, starts[block] - lo, axis=1).T
        first = last
    return out


def minhash_groups(rows: pl.DataFrame, by: str, num_perm: int) -> tuple[pl.DataFrame, np.ndarray]:
    """Per value of ``by``, the MinHash signature of the set of its rows' other column (32-bit
    integer tokens): (the values of ``by`` sorted, with ``n`` their distinct tokens) and the
    signatures in that order."""
    (token,) = (c for c in rows.columns if c != by)
    flat = rows.select(by, token).unique().sort(by)
    sets = flat.group_by(by, maintain_order=True).agg(pl.len().alias("n"))
    sizes = sets["n"].to_numpy().astype(np.int64)
    return sets, minhash_flat(flat[token].to_numpy(), sizes, num_perm)


def band_keys(signatures: np.ndarray, bands: int) -> np.ndarray:
    """LSH band keys: one 63-bit key per (signature, band); equal keys mean a likely near-dup."""
    n, num_perm = signatures.shape
    rows = num_perm // bands
    banded = signatures[:, : rows * bands].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        key = np.zeros((n, bands), dtype=np.uint64)
        for r in range(rows):
            key = (key ^ banded[:, :, r]) * _MIX
        key = key ^ (np.arange(bands, dtype=np.uint64) * np.uint64(0xBF58476D1CE4E5B9))
    return (key >> np.uint64(1)).astype(np.int64)
