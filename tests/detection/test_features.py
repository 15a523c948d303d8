"""Per-account features from one chunk of exchanges (pure: frames in, frames out)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from detection import minhash
from detection.config import DetectionParams
from detection.features import (
    changed_parts,
    chunk_bounds,
    chunk_features,
    chunk_features_beside,
    window_bounds,
)
from detection.minhash import band_keys, minhash_flat, minhash_signatures, word_pairs
from tests.detection.cohorts import Cohort


def _features(cohort):
    _, exchanges = cohort.to_frames()
    chunk = chunk_features(exchanges, DetectionParams())
    ids = {v: k for k, v in cohort.pks().items()}
    return chunk, chunk.features.with_columns(
        pl.col("account").replace_strict(ids, return_dtype=pl.Utf8).alias("account_id")
    )


def test_shares_counts_and_rhythm_per_account():
    cohort = Cohort(seed=61)
    fleet = cohort.fleet(n=3, per_account=90)
    agent = cohort.coding_agent()
    person = cohort.ordinary(1)[0]
    _chunk, f = _features(cohort)
    row = {r["account_id"]: r for r in f.iter_rows(named=True)}
    assert row[fleet[0]]["exchanges"] == 90
    assert row[fleet[0]]["reasoning_share"] == 1.0
    assert row[fleet[0]]["output_tokens"] == 90 * 1800
    assert row[agent]["tool_share"] == 1.0 and row[agent]["coding_share"] == 1.0
    assert row[agent]["hour_entropy"] > 0.95 > row[person]["hour_entropy"]
    assert row[fleet[0]]["hosting_share"] == 1.0 and row[person]["hosting_share"] == 0.0
    assert row[fleet[0]]["template_share"] > 0.6 and row[person]["template_share"] < 0.2
    assert len(row[fleet[0]]["bucket_sig"]) == 64


def test_links_carry_addresses_clients_and_template_bands():
    cohort = Cohort(seed=62)
    cohort.fleet(n=2, per_account=40)
    chunk, _ = _features(cohort)
    kinds = set(chunk.links["kind"].unique())
    assert kinds == {"ip", "ua", "template", "coaction"}
    assert set(chunk.models.columns) == {"account", "model", "first_ts", "day", "n"}


def test_near_duplicates_share_band_keys_and_strangers_do_not():

    a = np.arange(100, 140)
    b = np.concatenate([np.arange(100, 136), [9001, 9002, 9003, 9004]])  # Jaccard ~0.82
    c = np.arange(5000, 5040)
    keys = band_keys(minhash_signatures([a, b, c], 64), 16)
    assert len(set(keys[0]) & set(keys[1])) > 0
    assert len(set(keys[0]) & set(keys[2])) == 0


def test_empty_chunk_gives_empty_frames():
    empty = pl.DataFrame(schema={"account": pl.Int64})
    chunk = chunk_features(empty, DetectionParams())
    assert chunk.features.is_empty() and chunk.links.is_empty()


def test_window_is_the_days_before_the_newest_exchange():
    newest = datetime(2026, 10, 1, tzinfo=UTC)
    start, end = window_bounds(newest, 30)
    assert start == newest - timedelta(days=30) and end > newest
    assert window_bounds(None, 30) == (None, None)


@pytest.mark.parametrize(("max_accounts", "max_exchanges"), [(50, 400), (7, 10**9), (3, 1)])
def test_chunk_bounds_hold_both_limits_and_cover_every_account_once(max_accounts, max_exchanges):
    rng = np.random.default_rng(max_accounts)
    pks = sorted(rng.choice(10_000, 600, replace=False).tolist())
    # Mostly small accounts, some with none in the window, a few far over the bound.
    sizes = rng.choice([0, 1, 5, 40, 120, 900], 600, p=[0.2, 0.2, 0.25, 0.2, 0.1, 0.05])
    counts = {pk: int(n) for pk, n in zip(pks, sizes, strict=True) if n}
    bounds = chunk_bounds(pks, counts, max_accounts, max_exchanges)
    members = [[pk for pk in pks if first <= pk <= last] for first, last in bounds]
    assert [pk for part in members for pk in part] == pks
    assert all(
        part[0] == first and part[-1] == last
        for part, (first, last) in zip(members, bounds, strict=True)
    )
    oversized = 0
    for i, part in enumerate(members):
        held = sum(counts.get(pk, 0) for pk in part)
        assert len(part) <= max_accounts
        if held > max_exchanges:
            assert len(part) == 1  # only an account bigger than the bound on its own
            oversized += 1
        if i + 1 < len(members):  # a chunk closes only when the next account would not fit
            following = members[i + 1][0]
            assert len(part) == max_accounts or held + counts.get(following, 0) > max_exchanges
    if max_exchanges < 900:
        assert oversized > 0
    if max_exchanges >= sum(counts.values()):  # no exchange bound: chunks of accounts alone
        assert members == [pks[j : j + max_accounts] for j in range(0, len(pks), max_accounts)]
    assert chunk_bounds([], {}, max_accounts, max_exchanges) == []


def test_minhash_signatures_are_datasketch_values():
    from datasketch import MinHash

    rng = np.random.default_rng(5)
    sets = [rng.integers(0, 2**32, size, dtype=np.int64) for size in (0, 1, 7, 40, 300)]
    permutations = MinHash(num_perm=64, seed=1).permutations
    expected = []
    for tokens in sets:
        m = MinHash(num_perm=64, hashfunc=int, permutations=permutations, scheme="affine32")
        if len(tokens):
            m.update_batch(tokens.tolist())
        expected.append(m.hashvalues)
    assert (minhash_signatures(sets, 64) == np.array(expected, dtype=np.uint64)).all()


def test_features_do_not_depend_on_the_order_of_the_rows():
    """The same exchanges in another order give the same features to the last bit (the
    hour entropy is a float sum: summed in a fixed order)."""
    _, exchanges = Cohort(seed=3).everyone().to_frames()
    first = chunk_features(exchanges, DetectionParams()).features
    for seed in range(6):
        shuffled = exchanges.sample(fraction=1.0, shuffle=True, seed=seed)
        again = chunk_features(shuffled, DetectionParams()).features
        assert_frame_equal(first, again, check_exact=True)


@pytest.mark.parametrize("parts", [2, 5, 40])
def test_features_do_not_depend_on_which_accounts_share_the_chunk(parts):
    """A run splits accounts into chunks as their sizes fall: the frames of the chunks
    together are the frames of one chunk of everyone, row for row (the links name an
    account's prompt by its place among the account's own, never by its row in the chunk)."""
    _, exchanges = Cohort(seed=3).everyone().to_frames()
    whole = chunk_features(exchanges, DetectionParams())
    accounts = exchanges["account"].unique().sort()
    cuts = np.array_split(accounts.to_numpy(), parts)
    pieces = [
        chunk_features(exchanges.filter(pl.col("account").is_in(cut.tolist())), DetectionParams())
        for cut in cuts
    ]
    for name in ("features", "links", "models"):
        frame = getattr(whole, name)
        together = pl.concat([getattr(p, name) for p in pieces])
        assert frame.height > 0
        assert_frame_equal(frame.sort(pl.all()), together.sort(pl.all()), check_exact=True)


def test_minhash_in_blocks_is_the_same_as_one_set_at_a_time(monkeypatch):
    """Sets are permuted a block of tokens at a time: sets that straddle a block's end, a
    set larger than a block and empty sets between them get the values one set alone gets."""
    rng = np.random.default_rng(7)
    sizes = np.array([0, 3, 49, 50, 51, 0, 120, 1, 0, 17, 33, 2, 260, 0], dtype=np.int64)
    tokens = rng.integers(0, 2**32, int(sizes.sum()), dtype=np.int64)
    sets = np.split(tokens, np.cumsum(sizes)[:-1])
    alone = np.vstack([minhash_signatures([s], 64) for s in sets])
    monkeypatch.setattr(minhash, "_MINHASH_BLOCK", 50)
    assert (minhash_flat(tokens, sizes, 64) == alone).all()
    assert (minhash_signatures(sets, 64) == alone).all()
    assert minhash_flat(np.empty(0, np.int64), np.zeros(2, np.int64), 64).shape == (2, 64)


def test_word_pairs_are_each_prompts_own_list_of_pairs():
    """The flat word pairs are what splitting each prompt into its own list gives: hostile
    text (only separators, tabs and new lines inside words, digits, NUL-free Unicode, a
    null) makes no pair that crosses from one prompt into the next."""
    prompts = pl.Series(
        [
            "Step 12 by step: PROVE it!",
            "",
            None,
            "one",
            "  --  ;; ",
            "tab\there and\nnew line  x",
            "Ünïcödé wörds, ünd 3.14159 ZAHLEN",
            "a b",
            "last prompt words",
        ]
    )
    lists = (
        prompts.fill_null("")
        .str.to_lowercase()
        .str.replace_all(r"\d+", "0")
        .str.replace_all(r"[^\w\s]", " ")
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element() != ""))
        .list.eval((pl.element() + " " + pl.element().shift(-1)).drop_nulls())
    )
    expected = [(i, pair) for i, pairs in enumerate(lists.to_list()) for pair in pairs]
    got = word_pairs(prompts)
    assert list(zip(got["i"].to_list(), got["pair"].to_list(), strict=True)) == expected
    assert ("tab\there", "and\nnew") in {tuple(p.split(" ")) for _, p in expected}
    assert word_pairs(pl.Series([], dtype=pl.Utf8)).is_empty()


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns)


BESIDE_DRAFTS = {
    "prompt_flags": {"reasoning_patterns": ["step by step"]},
    "capabilities": {"capability_patterns": {"coding": ["zzzqqq"]}},
    "hosting": {"hosting_asns": [64500]},
    "templates": {"minhash_prompts_per_account": 21},
    "num_perm": {"minhash_num_perm": 48, "minhash_bands": 12},
    "activity": {"sync_bucket_minutes": 15},
    "coaction": {"coaction_minutes": 20, "coaction_min_days": 1},
    "several": {"reasoning_patterns": ["think"], "sync_bucket_minutes": 5},
}


@pytest.mark.parametrize("name", list(BESIDE_DRAFTS))
def test_features_beside_a_known_chunk_equal_features_computed_afresh(name):
    """A backtest computes the draft's features from the base chunk, redoing only the parts
    whose parameters changed: the frames must be those a run under the draft computes."""
    cohort = Cohort(seed=67).everyone()
    _, exchanges = cohort.to_frames()
    base = DetectionParams()
    draft = base.replace(**BESIDE_DRAFTS[name])
    assert changed_parts(base, draft)
    known = chunk_features(exchanges, base)
    beside = chunk_features_beside(exchanges, draft, known, base)
    afresh = chunk_features(exchanges, draft)
    # Exact but for float summation order (chunk_features run twice differs by 1e-16 there).
    assert_frame_equal(beside.features, afresh.features, rel_tol=1e-12, abs_tol=1e-12)
    assert_frame_equal(_sorted(beside.links), _sorted(afresh.links))
    assert_frame_equal(_sorted(beside.models), _sorted(afresh.models))
    assert not beside.features.equals(known.features) or not _sorted(beside.links).equals(
        _sorted(known.links)
    )


def test_features_beside_redo_only_the_changed_part(monkeypatch):
    from detection import features

    _, exchanges = Cohort(seed=67).everyone().to_frames()
    base = DetectionParams()
    known = chunk_features(exchanges, base)

    def refuse(*args, **kwargs):
        raise AssertionError("a part the draft does not change was computed again")

    for name in ("prompt_flags", "activity_signatures", "_key_links"):
        monkeypatch.setattr(features, name, refuse)
    monkeypatch.setattr(features.coaction, "coaction_cells", refuse)
    monkeypatch.setattr(features.coaction, "exit_signatures", refuse)
    draft = base.replace(minhash_prompts_per_account=base.minhash_prompts_per_account + 1)
    assert changed_parts(base, draft) == {"templates"}
    beside = chunk_features_beside(exchanges, draft, known, base)
    assert beside.models is known.models
    assert chunk_features_beside(exchanges, base, known, base) is known
