"""Score the detector on a held-out data set, through its public command line only.

    .venv/bin/python -m bench.heldout.score DATA_DIR [--json FILE]
                     [--generate --seed N [--accounts 2000] [--end YYYY-MM-DD]]

1. ``--generate`` first writes the data set into DATA_DIR (``bench.heldout.generate``).
2. Drops and recreates a scratch PostgreSQL database, ``console_heldout_eval`` by default
   (``BENCH_DATABASE_URL`` to override), and migrates it.
3. Runs ``manage.py ingest DATA_DIR``, ``manage.py detect`` and
   ``manage.py export_flagged --format jsonl`` as subprocesses, with no Celery broker (the
   tasks run in-process), exactly as an operator would.
4. Compares the flagged accounts with ``truth.jsonl`` and prints the figures defined in
   bench/heldout/README.md ("Scoring"): precision, recall, flagged share of every benign
   cohort, recall of every campaign, and grouping purity both ways.

Nothing here asserts a figure. The rule for this data set is in docs/benchmarks.md
("Held-out evaluation"): it is never used to tune the detector.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB = "postgres://localhost/console_heldout_eval"


def scores(truth: list[dict], flagged: list[dict]) -> dict:
    """Every figure, from the truth rows and the exported flagged rows (pure)."""
    by_id = {t["account_id"]: t for t in truth}
    predicted = {f["account_id"]: f.get("campaign_id") for f in flagged}
    flagged_ids = set(predicted)
    malicious = {a for a, t in by_id.items() if t["malicious"]}
    unknown = flagged_ids - set(by_id)
    hits = flagged_ids & malicious
    result: dict = {
        "accounts": len(by_id),
        "malicious": len(malicious),
        "flagged": len(flagged_ids),
        "flagged_unknown": len(unknown),
        "precision": len(hits) / len(flagged_ids) if flagged_ids else None,
        "recall": len(hits) / len(malicious) if malicious else None,
    }

    cohorts: dict[str, list[int]] = {}
    for a, t in by_id.items():
        if not t["malicious"]:
            c = cohorts.setdefault(t["cohort"], [0, 0])
            c[0] += 1
            c[1] += a in flagged_ids
    result["benign_cohorts"] = {
        k: {"accounts": n, "flagged": f, "share": f / n} for k, (n, f) in sorted(cohorts.items())
    }

    # The truth label of each predicted campaign: the most common label among its flagged
    # accounts, a benign account counting as the label "benign".
    members: dict[object, Counter] = {}
    for a, p in predicted.items():
        if p is not None:
            label = by_id[a]["campaign"] if a in by_id and by_id[a]["malicious"] else "benign"
            members.setdefault(p, Counter())[label] += 1
    majority_label = {p: _majority(c) for p, c in members.items()}

    campaigns: dict[str, dict] = {}
    pure_a = 0
    kept_b = 0
    for camp in sorted({by_id[a]["campaign"] for a in malicious}):
        accts = [a for a in malicious if by_id[a]["campaign"] == camp]
        found = [a for a in accts if a in flagged_ids]
        grouped = Counter(predicted[a] for a in found if predicted[a] is not None)
        main = _majority(grouped) if grouped else None
        in_main = grouped[main] if main is not None else 0
        kept_b += in_main
        pure_a += sum(1 for a in found if majority_label.get(predicted[a]) == camp)
        campaigns[camp] = {
            "kind": by_id[accts[0]]["cohort"],
            "accounts": len(accts),
            "flagged": len(found),
            "recall": len(found) / len(accts),
            "ungrouped": len(found) - sum(grouped.values()),
            "predicted_campaigns": len(grouped),
            "main_predicted": main,
            "in_main": in_main / len(found) if found else None,
        }
    result["campaigns"] = campaigns
    result["purity_predicted_to_truth"] = pure_a / len(hits) if hits else None
    result["purity_truth_to_predicted"] = kept_b / len(hits) if hits else None
    result["predicted"] = {str(p): dict(c.most_common()) for p, c in members.items()}
    return result


def _majority(counter: Counter):
    """The most common key; ties go to the smallest key by its text, so runs repeat."""
    best = max(counter.values())
    return min((k for k, v in counter.items() if v == best), key=str)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def report(r: dict) -> str:
    lines = [
        f"accounts {r['accounts']:,}, malicious {r['malicious']:,}, flagged {r['flagged']:,}"
        + (f" ({r['flagged_unknown']} not in truth)" if r["flagged_unknown"] else ""),
        f"precision {_fmt(r['precision'])}   recall {_fmt(r['recall'])}   purity "
        f"predicted->truth {_fmt(r['purity_predicted_to_truth'])}   truth->predicted "
        f"{_fmt(r['purity_truth_to_predicted'])}",
        "",
        f"{'benign cohort':<20} {'accounts':>9} {'flagged':>8} {'share':>7}",
    ]
    for name, c in r["benign_cohorts"].items():
        lines.append(f"{name:<20} {c['accounts']:>9,} {c['flagged']:>8,} {c['share']:>7.1%}")
    lines += [
        "",
        f"{'campaign':<14} {'kind':<18} {'accounts':>8} {'flagged':>8} {'recall':>7} "
        f"{'ungrouped':>9} {'groups':>6} {'in main':>8}",
    ]
    for name, c in r["campaigns"].items():
        in_main = "n/a" if c["in_main"] is None else f"{c['in_main']:.1%}"
        lines.append(
            f"{name:<14} {c['kind']:<18} {c['accounts']:>8,} {c['flagged']:>8,} "
            f"{c['recall']:>7.1%} {c['ungrouped']:>9,} {c['predicted_campaigns']:>6} "
            f"{in_main:>8}"
        )
    lines += ["", "predicted campaign -> flagged accounts by truth label"]
    for p, labels in sorted(r["predicted"].items(), key=lambda kv: -sum(kv[1].values())):
        lines.append(f"  {p:<10} " + ", ".join(f"{k} {v}" for k, v in labels.items()))
    return "\n".join(lines)


def manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    took = time.perf_counter() - start
    print(f"manage.py {args[0]}: exit {proc.returncode}, {took:,.0f} s", flush=True)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"manage.py {' '.join(args)} failed")
    return proc


def recreate_database(db_url: str) -> None:
    name = db_url.rsplit("/", 1)[1]
    subprocess.run(["dropdb", "-h", "localhost", "--if-exists", name], check=True)
    subprocess.run(["createdb", "-h", "localhost", name], check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--generate", action="store_true", help="write the data set first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--end", help="with --generate: the window's end, YYYY-MM-DD")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.generate:
        from bench.heldout import generate

        options = [str(args.data_dir), "--seed", str(args.seed), "--accounts", str(args.accounts)]
        generate.main(options + (["--end", args.end] if args.end else []))
    truth_path = args.data_dir / "truth.jsonl"
    truth = [json.loads(line) for line in truth_path.read_text().splitlines() if line]

    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": "",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "localhost",
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    }
    env.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    recreate_database(db_url)
    manage(env, "migrate", "--noinput", "-v", "0")
    ingest = manage(env, "ingest", str(args.data_dir.resolve()), check=False)
    if ingest.returncode not in (0, 1):
        sys.stderr.write(ingest.stderr[-3000:])
        raise SystemExit("ingest failed")
    print("\n".join(line for line in ingest.stdout.splitlines() if line.startswith("total")))
    detect = manage(env, "detect")
    print(detect.stdout.strip()[-1500:])
    out = args.data_dir / "flagged.jsonl"
    manage(env, "export_flagged", "--format", "jsonl", "-o", str(out.resolve()))
    flagged = [json.loads(line) for line in out.read_text().splitlines() if line]

    result = scores(truth, flagged)
    print()
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
