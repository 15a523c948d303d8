"""Plan a labelled data set for a seed and scale, then stream it to disk.

Outputs in ``out_dir``: ``accounts.jsonl.gz`` and ``exchanges.jsonl.gz`` in the ingest format
(``.csv.gz`` with ``fmt="csv"``), ``labels.jsonl`` (one line per account: account_id, cohort,
campaign, malicious) and ``manifest.json`` (seed, scale, window, models, counts).

Accounts are written in a shuffled order under random-looking ids, and exchanges are written
in chunks of accounts, time-ordered within each chunk, with ids from a seeded permutation:
nothing in an id or a row's position tells a cohort apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from detection.contract import ACCOUNT_FIELDS, EXCHANGE_FIELDS, names
from detection.synthetic import cohorts, lookalikes, organisations, timed, variety
from detection.synthetic.base import (
    NEW_MODEL,
    OLD_MODELS,
    AccountSpec,
    World,
    render,
    rfc3339,
    rfc3339_many,
)
from detection.synthetic.campaigns import campaign_kinds, plan_campaign
from detection.synthetic.writer import RowWriter, file_name

CHUNK_ACCOUNTS = 64
_EXCHANGE_NAMES = names(EXCHANGE_FIELDS)
# The columns render makes, one value per exchange (ids, account names and times are set
# out separately: ids are made here, a block has one account, times are sorted on).
_RENDERED = tuple(n for n in _EXCHANGE_NAMES if n not in ("exchange_id", "account_id", "ts"))
# Odd multiplier: counter * K mod 2**64 is a bijection, so ids are unique and look random.
_ID_MULT = np.uint64(0x9E3779B97F4A7C15)
# The legitimate cohorts in planning order (ordinary customers first: their home addresses are
# what residential-proxy pools later borrow).
BENIGN = {
    "ordinary": cohorts.plan_ordinary,
    "enterprise": organisations.plan_enterprise,
    "campus": cohorts.plan_campus,
    "benchmark": organisations.plan_benchmark,
    "developer": cohorts.plan_developers,
    "vpn": cohorts.plan_vpn,
    "small_team": organisations.plan_small_teams,
    "agent_user": lookalikes.plan_agent_users,
    "researcher": lookalikes.plan_researchers,
    "proxy_user": lookalikes.plan_proxy_users,
    "launch_user": timed.plan_launch_users,
    "returning": timed.plan_returning,
    "early_adopter": timed.plan_early_adopters,
}
# Fleets added after the data sets' order was fixed: planned and written after every other
# account (an account's rows are drawn from its position), so adding them changed no one else's.
LATER = ("quiet_rush",)
# Benign cohorts of the varied data (``--vary``) added the same way, after every account.
VARIED_LATER = {"coworker": lookalikes.plan_coworkers}
COHORT_OF_KIND = {
    "reasoning": "reasoning_harvest",
    "capability": "capability_harvest",
    "agentic": "agentic_harvest",
    "evasive": "evasive_fleet",
    "hydra": "hydra_fleet",
    "rush": "rush_fleet",
    "sleeper": "sleeper_fleet",
    "pivot": "pivot_fleet",
    "quiet_rush": "quiet_rush_fleet",
}


# The reported scale (DESIGN.md, "The problem"): three campaigns of about 150 thousand, 3.4
# million and 13 million exchanges over about 24,000 accounts (chain-of-thought harvesting; an
# agentic fleet behind a rotating-proxy network that ordinary customers also use; coding and
# tool use that moves to the new model within a day), inside ordinary traffic of at least
# 100,000 accounts and 10 million exchanges with every look-alike cohort. ``scale`` is then a
# fraction of it. Campaigns are (kind, accounts, exchanges); the ordinary cohorts are the
# default mix, ``benign_scale`` times as many accounts with ``benign_volume`` times the traffic.
PRESETS = {
    "reported": {
        "benign_scale": 37.0,
        "benign_volume": 19.0,
        "campaigns": [
            ("reasoning", 1_200, 150_000),
            ("hydra", 6_800, 3_400_000),
            ("capability", 16_000, 13_000_000),
        ],
    }
}


def plan(
    seed: int, scale: float, preset: str | None = None, vary: bool = False
) -> tuple[World, list[AccountSpec], dict[str, dict]]:
    """Every account of the data set (shuffled) and a description of each campaign; with
    ``vary``, fleets and companies of varied shapes (``variety.py``) instead of the fixed
    kinds and companies."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    if vary and preset is not None:
        raise ValueError("varied shapes have no preset")
    sizes: list[tuple[str, int | None, int | None]]
    if vary:
        world = World(seed=seed, scale=scale, vary=True)
        world.reseed("varied-campaigns")
        sizes = [("varied", None, None)] * variety.fleet_count(world)
    elif preset is None:
        world = World(seed=seed, scale=scale)
        world.reseed("campaigns")
        # The hydra, rush, sleeper and pivot fleets come last, in the order they were added,
        # so the other campaigns keep their numbers and streams; the fleets added since
        # (``LATER``) after the shuffle, so every earlier account keeps its rows too.
        kinds = [*campaign_kinds(world), "hydra", "rush", "sleeper", "pivot", *LATER]
        sizes = [(kind, None, None) for kind in kinds]
    else:
        shape = PRESETS[preset]
        world = World(
            seed=seed,
            scale=shape["benign_scale"] * scale,
            volume_scale=shape["benign_volume"] * scale,
        )
        sizes = [(k, round(a * scale), round(n * scale)) for k, a, n in shape["campaigns"]]
    specs: list[AccountSpec] = []
    for name, planner in BENIGN.items():
        world.reseed(name)
        if vary and name == "enterprise":
            planner = variety.plan_companies
        specs += planner(world)
    campaigns: dict[str, dict] = {}
    for k, (kind, count, total) in enumerate(sizes, start=1):
        campaign_id = f"campaign-{k}"
        world.reseed(campaign_id)
        if kind == "varied":
            fleet, info = variety.plan_fleet(world, campaign_id)
        else:
            fleet, info = plan_campaign(world, kind, campaign_id, count=count, total=total)
            for spec in fleet:
                spec.cohort = COHORT_OF_KIND[kind]
        info["first_active"] = rfc3339(info["first_active"])
        campaigns[campaign_id] = info
        specs += fleet
    later = [s for s in specs if s.campaign and campaigns[s.campaign]["kind"] in LATER]
    specs = [s for s in specs if not (s.campaign and campaigns[s.campaign]["kind"] in LATER)]
    world.reseed("order")
    world.rng.shuffle(specs)
    world.reseed("order-later")
    world.rng.shuffle(later)
    if vary:
        # Cohorts added to the varied data since, after everyone else, in their own streams:
        # every earlier account keeps its rows.
        for name, planner in VARIED_LATER.items():
            world.reseed(name)
            added = planner(world)
            world.reseed(f"order-{name}")
            world.rng.shuffle(added)
            later += added
    return world, specs + later, campaigns


def generate(
    out_dir: Path | str,
    *,
    seed: int = 1,
    scale: float = 1.0,
    fmt: str = "jsonl",
    progress: Callable[[int], None] | None = None,
    preset: str | None = None,
    vary: bool = False,
) -> dict:
    """Write the data set and return its manifest. ``progress`` gets exchanges written so far.

    Memory holds the plan (one small record per account) and one chunk of accounts'
    exchanges at a time, whatever the number of exchanges.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world, specs, campaigns = plan(seed, scale, preset, vary)
    accounts_path = out / file_name("accounts", fmt)
    exchanges_path = out / file_name("exchanges", fmt)
    with RowWriter(accounts_path, names(ACCOUNT_FIELDS), fmt) as writer:
        for start in range(0, len(specs), 10_000):
            writer.write([s.account_row() for s in specs[start : start + 10_000]])
    with (out / "labels.jsonl").open("wb") as fh:
        for s in specs:
            label = {
                "account_id": s.account_id,
                "cohort": s.cohort,
                "campaign": s.campaign,
                "malicious": s.campaign is not None,
            }
            fh.write(orjson.dumps(label, option=orjson.OPT_APPEND_NEWLINE))

    per_account: list[int] = []
    first_ts, last_ts = None, None
    salt = np.uint64((seed * 0xD1B54A32D192ED03) % 2**64)
    with RowWriter(exchanges_path, _EXCHANGE_NAMES, fmt) as writer:
        for start in range(0, len(specs), CHUNK_ACCOUNTS):
            chunk = specs[start : start + CHUNK_ACCOUNTS]
            blocks = [render(s, seed, start + i) for i, s in enumerate(chunk)]
            per_account += [len(b["ts"]) for b in blocks]
            rows = _rows(blocks, writer.rows, salt)
            if rows:
                first_ts = min(first_ts or rows[0]["ts"], rows[0]["ts"])
                last_ts = max(last_ts or rows[-1]["ts"], rows[-1]["ts"])
            writer.write(rows)
            if progress:
                progress(writer.rows)
        total = writer.rows

    manifest = _manifest(world, specs, campaigns, per_account, fmt, total)
    manifest["preset"] = preset
    manifest["vary"] = vary
    if preset is not None:
        manifest["scale"] = scale  # a fraction of the preset, not the ordinary cohorts' scale
    manifest["window"]["first_exchange"], manifest["window"]["last_exchange"] = first_ts, last_ts
    manifest["files"] = {p.name: p.stat().st_size for p in (accounts_path, exchanges_path)}
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


def _rows(blocks: list[dict], written: int, salt: np.uint64) -> list[dict]:
    """One chunk's exchanges as ingest records (the contract's fields, in its order), in
    time order, with their ids."""
    if not blocks:
        return []
    sizes = [len(b["ts"]) for b in blocks]
    ts = np.concatenate([b["ts"] for b in blocks])
    order = np.argsort(ts, kind="stable").tolist()
    counter = np.arange(written, written + len(ts), dtype=np.uint64)
    ids = (counter * _ID_MULT + salt).tolist()  # wraps modulo 2**64 by design
    owners = [b["account_id"] for b, size in zip(blocks, sizes, strict=True) for _ in range(size)]
    columns = {
        "exchange_id": [f"ex_{i:016x}" for i in ids],
        "account_id": [owners[k] for k in order],
        "ts": rfc3339_many(ts[order]),
    }
    for name in _RENDERED:
        flat = [v for b in blocks for v in _plain(b[name])]
        columns[name] = [flat[k] for k in order]
    return [
        dict(zip(_EXCHANGE_NAMES, values, strict=True))
        for values in zip(*(columns[n] for n in _EXCHANGE_NAMES), strict=True)
    ]


def _plain(column: list | np.ndarray) -> list:
    """Python values, as orjson and the CSV writer take them (numpy's ints and bools are not)."""
    return column.tolist() if isinstance(column, np.ndarray) else column


def _manifest(world, specs, campaigns, per_account, fmt, total) -> dict:
    per_cohort: dict[str, dict] = defaultdict(
        lambda: {"accounts": 0, "exchanges": 0, "malicious": False}
    )
    for spec, n in zip(specs, per_account, strict=True):
        c = per_cohort[spec.cohort]
        c["accounts"] += 1
        c["exchanges"] += n
        c["malicious"] = spec.campaign is not None
        if spec.campaign:
            campaigns[spec.campaign]["accounts"] = campaigns[spec.campaign].get("accounts", 0) + 1
            campaigns[spec.campaign]["exchanges"] = campaigns[spec.campaign].get("exchanges", 0) + n
            campaigns[spec.campaign]["cohort"] = spec.cohort
    malicious = [n for s, n in zip(specs, per_account, strict=True) if s.campaign]
    return {
        "generator": "detection.synthetic",
        "seed": world.seed,
        "scale": world.scale,
        "format": fmt,
        "window": {"start": rfc3339(world.start), "end": rfc3339(world.end)},
        "models": {
            **{name: {"released": day} for name, day in OLD_MODELS.items()},
            NEW_MODEL: {"released": rfc3339(world.release)},
        },
        "new_model": NEW_MODEL,
        "totals": {
            "accounts": len(specs),
            "exchanges": total,
            "malicious_accounts": len(malicious),
            "malicious_exchanges": sum(malicious),
        },
        "cohorts": dict(sorted(per_cohort.items())),
        "campaigns": campaigns,
    }
