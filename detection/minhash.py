"""MinHash signatures and their LSH band keys, over sets of 32-bit integer tokens: the
near-duplicate machinery that template features and co-action both build on."""

from __future__ import annotations

import numpy as np
from datasketch import MinHash

# Prompts with fewer word pairs than this are too short to call a template.
MIN_SHINGLES = 4
_MIX = np.uint64(0x9E3779B97F4A7C15)


# MurmurHash3's 32-bit finalizer, the pre-mix datasketch's "affine32" scheme applies to each
# input hash before its permutations.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))
# Tokens hashed at once: bounds the (tokens x num_perm) block in memory (~50 MB at 64).
_MINHASH_BLOCK = 200_000


def minhash_signatures(token_lists: list[np.ndarray], num_perm: int) -> np.ndarray:
    """MinHash signatures of sets of 32-bit integer tokens, one row per set.

    The values are datasketch's (``MinHash(num_perm, seed=1, hashfunc=int)``, scheme
    "affine32": ``a * fmix32(h) + b`` modulo 2**32, minimum over the set), computed for all
    sets at once in numpy rather than one datasketch object per set, which cost more than
    everything else a chunk does. An empty set gets the all-maximum signature, as there.
    """
    a, b = MinHash(num_perm=num_perm, seed=1).permutations
    a, b = a.astype(np.uint32), b.astype(np.uint32)
    out = np.full((len(token_lists), num_perm), np.iinfo(np.uint32).max, dtype=np.uint64)
    sizes = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    start = 0
    while start < len(token_lists):
        # Sets [start, stop) whose tokens fit one block (at least one set per block).
        ends = np.cumsum(sizes[start:])
        stop = start + max(1, int(np.searchsorted(ends, _MINHASH_BLOCK, side="right")))
        rows = np.flatnonzero(sizes[start:stop]) + start
        if len(rows):
            hv = np.concatenate([token_lists[i] for i in rows]).astype(np.uint32)
            s1, m1, s2, m2 = _FMIX32
            with np.errstate(over="ignore"):
                hv = hv ^ (hv >> s1)
                hv = hv * m1
                hv = hv ^ (hv >> s2)
                hv = hv * m2
                hv = hv ^ (hv >> s1)
                phv = hv[:, None] * a + b
            offsets = np.concatenate([[0], np.cumsum(sizes[rows])[:-1]])
            out[rows] = np.minimum.reduceat(phv, offsets, axis=0)
        start = stop
    return out


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
