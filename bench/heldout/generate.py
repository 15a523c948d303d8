"""Write a held-out, labelled data set in the ingest format.

    .venv/bin/python -m bench.heldout.generate OUT_DIR --seed N [--accounts 2000] [--days 30]
                                               [--end YYYY-MM-DD] [--salt]

Writes ``accounts-1-signups.jsonl.gz`` (one row per account), ``accounts-2-changes.jsonl.gz``
(later rows for accounts whose details changed: a card added or replaced, a plan changed),
``exchanges.jsonl.gz`` (in time order), ``truth.jsonl`` (account_id, cohort, campaign,
malicious) and ``manifest.json`` (what was asked for and what came out). The window is the
``--days`` days before ``--end`` (default: today's midnight UTC, so that no row is in the
future). The cohorts are described in bench/heldout/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.heldout import builders, fleets, people
from bench.heldout.context import Ctx
from bench.heldout.schedule import DAY
from bench.heldout.world import residential_proxy_pool

# Share of the benign accounts in each cohort.
BENIGN = {
    "chat": 38,
    "developer": 13,
    "researcher": 0.8,
    "enterprise": 20,
    "student": 9,
    "vpn": 4.5,
    "proxy-customer": 4,
    "integrator": 2.5,
    "hobby-bot": 1.5,
}


def build(seed: int, accounts: int, days: int, end: float, salt: bool) -> Ctx:
    rng = random.Random(seed)
    ctx = Ctx(
        rng=rng,
        g=np.random.default_rng(seed),
        start=end - days * DAY,
        days=days,
        release_day=max(1, round(days * rng.uniform(0.35, 0.65))),
    )
    proxies = residential_proxy_pool(rng, max(60, accounts // 2))
    vpn = people.vpn_pool(ctx)

    fleet_share = rng.uniform(0.14, 0.22)
    benign_total = accounts - round(accounts * fleet_share)
    weight = sum(BENIGN.values())
    count = {k: max(1, round(benign_total * v / weight)) for k, v in BENIGN.items()}
    people.chat_users(ctx, count["chat"])
    builders.developers(ctx, count["developer"])
    builders.researchers(ctx, count["researcher"])
    builders.enterprises(ctx, count["enterprise"])
    people.students(ctx, count["student"])
    people.vpn_users(ctx, count["vpn"], vpn)
    people.proxy_customers(ctx, count["proxy-customer"], proxies)
    builders.integrators(ctx, count["integrator"])
    people.hobby_bots(ctx, count["hobby-bot"])

    # Which fleets this seed has, and their relative sizes.
    weights = {
        "agentic": rng.uniform(0.3, 0.45),
        "reasoning": rng.uniform(0.2, 0.3),
        "coding": rng.uniform(0.1, 0.2),
    }
    if rng.random() < 0.7:
        weights["starter"] = 0.04
    if rng.random() < 0.6:
        weights["sleeper"] = rng.uniform(0.08, 0.12)
    if rng.random() < 0.6 or len(weights) == 3:
        weights["rush"] = rng.uniform(0.08, 0.15)
    fleet_total = accounts - len(ctx.accounts)
    total_w = sum(weights.values())
    size = {k: max(4, round(fleet_total * w / total_w)) for k, w in weights.items()}
    names = iter(f"campaign-{k}" for k in rng.sample(range(10, 99), len(size)))
    fleets.hydra_fleet(ctx, next(names), size["agentic"], proxies)
    fleets.reasoning_fleet(ctx, next(names), size["reasoning"], salt=salt)
    fleets.coding_fleet(ctx, next(names), size["coding"])
    if "starter" in size:
        fleets.starter_fleet(ctx, next(names), size["starter"])
    if "sleeper" in size:
        fleets.sleeper_fleet(ctx, next(names), size["sleeper"], vpn)
    if "rush" in size:
        fleets.rush_fleet(ctx, next(names), size["rush"])
    return ctx


def _gzip_text(path: Path, level: int):
    """A gzip text file with no timestamp in its header, so a seed gives the same bytes."""
    return io.TextIOWrapper(
        gzip.GzipFile(path, "wb", compresslevel=level, mtime=0), encoding="utf-8"
    )


def _iso(ts: np.ndarray) -> list[str]:
    text = np.datetime_as_string((ts * 1000).astype("int64").astype("datetime64[ms]"), unit="ms")
    return [t + "Z" for t in text]


def write(ctx: Ctx, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    order = list(range(len(ctx.accounts)))
    ctx.rng.shuffle(order)  # a fleet's accounts are not next to each other in the file
    changed = 0
    with (
        _gzip_text(out / "accounts-1-signups.jsonl.gz", 5) as signups,
        _gzip_text(out / "accounts-2-changes.jsonl.gz", 5) as changes,
        open(out / "truth.jsonl", "w") as truth,
    ):
        for i in order:
            acct = ctx.accounts[i]
            signups.write(json.dumps(acct.row()) + "\n")
            row = acct.row()
            for update in acct.updates:
                row.update(update)
                changes.write(json.dumps(row) + "\n")
                changed += 1
            truth.write(
                json.dumps(
                    {
                        "account_id": acct.account_id,
                        "cohort": acct.cohort,
                        "campaign": acct.campaign,
                        "malicious": acct.campaign is not None,
                    }
                )
                + "\n"
            )
    cols = ctx.traffic.columns()
    n = len(cols["ts"])
    ids = np.unique(ctx.g.integers(0, 2**63 - 1, n + n // 100 + 10, dtype=np.int64))
    ids = ctx.g.permutation(ids)[:n]
    ips, uas, models = (ctx.traffic.values(t) for t in ("ip", "ua", "model"))
    makers = ctx.traffic.makers
    per_account = np.bincount(cols["account"], minlength=len(ctx.accounts))
    with _gzip_text(out / "exchanges.jsonl.gz", 3) as fh:
        for start in range(0, n, 50_000):
            stop = min(n, start + 50_000)
            stamps = _iso(cols["ts"][start:stop])
            lines = []
            for k in range(start, stop):
                prompt = makers[cols["maker"][k]](random.Random(int(cols["seed"][k])))
                ip, asn = ips[cols["ip"][k]]
                row = {
                    "exchange_id": f"ex_{int(ids[k]):016x}",
                    "account_id": ctx.accounts[cols["account"][k]].account_id,
                    "ts": stamps[k - start],
                    "ip": ip,
                    "asn": asn,
                    "user_agent": uas[cols["ua"][k]],
                    "model": models[cols["model"][k]],
                    "prompt": prompt,
                    "input_tokens": max(int(cols["tin"][k]), len(prompt) // 4),
                    "output_tokens": int(cols["tout"][k]),
                    "tool_use": bool(cols["tool"][k]),
                }
                lines.append(json.dumps(row))
            fh.write("\n".join(lines) + "\n")
    cohorts: dict[str, list[int]] = {}
    for i, acct in enumerate(ctx.accounts):
        key = f"{acct.campaign} ({acct.cohort})" if acct.campaign else acct.cohort
        cohorts.setdefault(key, [0, 0])
        cohorts[key][0] += 1
        cohorts[key][1] += int(per_account[i])
    return {
        "accounts": len(ctx.accounts),
        "account_changes": changed,
        "exchanges": n,
        "by_cohort_or_campaign": {
            k: {"accounts": v[0], "exchanges": v[1]} for k, v in sorted(cohorts.items())
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--end", help="last day's end, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument(
        "--salt",
        action="store_true",
        help="put NULs and lone surrogates in one fleet's prompts and clients",
    )
    args = parser.parse_args(argv)
    if args.end:
        end = datetime.strptime(args.end, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    else:
        now = datetime.now(UTC)
        end = datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp()
    ctx = build(args.seed, args.accounts, args.days, end, args.salt)
    summary = write(ctx, args.out_dir)
    summary.update(
        seed=args.seed,
        days=args.days,
        salt=args.salt,
        window_end=datetime.fromtimestamp(end, UTC).isoformat(),
    )
    (args.out_dir / "manifest.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{summary['accounts']:,} accounts ({summary['account_changes']} later changes), "
        f"{summary['exchanges']:,} exchanges -> {args.out_dir}"
    )
    for key, v in summary["by_cohort_or_campaign"].items():
        print(f"  {key:<22} {v['accounts']:>6,} accounts {v['exchanges']:>9,} exchanges")


if __name__ == "__main__":
    main()
