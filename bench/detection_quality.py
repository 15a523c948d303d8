"""Detection quality on labelled data it was not tuned on: generate -> ingest -> detect -> export.

For each seed, a fresh data set (``generate_traffic``, or with ``--generator cohorts`` the
hand-made cohorts of the tests, a different generator) goes through the real commands, and
the export is compared with the labels:

- account precision and recall (flagged vs malicious);
- the share of each benign cohort flagged, and of each fleet cohort (recall per kind of fleet);
- campaign purity both ways: each true campaign's flagged members mostly in one predicted
  campaign, and each predicted campaign's members mostly from one true campaign (benign
  accounts count as a class of their own).

    .venv/bin/python bench/detection_quality.py [--seeds 101 202 303] [--scale 0.05] [--vary]

With ``--vary`` the data sets have fleets and companies of varied shapes
(``generate_traffic --vary``), and each fleet is printed with its shape and how much of it
was found in how many predicted campaigns. With ``--why`` as well, each fleet's accounts that
were not flagged are counted by what stopped them: in no community, in a community that was
no campaign (the test it failed, ``detection.scoring.HELD``), or in a campaign's community
but not its member (the member test it failed, ``detection.scoring.LEFT_OUT``); the analysis
of the run's stored chunks is made again for this.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from detection_common import (
    have_generator,
    load_cohorts,
    load_generated,
    read_export,
    setup_database,
    truncate_all,
)


def purity(groups: dict[str, list[str]]) -> float:
    """Members in their group's most common class, over all members."""
    total = sum(len(m) for m in groups.values())
    top = sum(Counter(m).most_common(1)[0][1] for m in groups.values() if m)
    return top / total if total else 1.0


def evaluate(labels: dict[str, dict], flagged: dict[str, dict]) -> dict:
    malicious = {a for a, row in labels.items() if row["malicious"]}
    hits = set(flagged) & malicious
    precision = len(hits) / len(flagged) if flagged else 1.0
    recall = len(hits) / len(malicious) if malicious else 1.0
    benign = defaultdict(lambda: [0, 0])
    for a, row in labels.items():
        if not row["malicious"]:
            benign[row["cohort"]][0] += 1
            benign[row["cohort"]][1] += a in flagged
    true_to_pred, pred_to_true = defaultdict(list), defaultdict(list)
    for a, row in flagged.items():
        truth = labels.get(a, {}).get("campaign") or "(benign)"
        predicted = row.get("campaign_id") or f"lone:{a}"
        if truth != "(benign)":
            true_to_pred[truth].append(predicted)
        if row.get("campaign_id"):
            pred_to_true[predicted].append(truth)
    fleets = defaultdict(lambda: [0, 0])
    for a, row in labels.items():
        if row["malicious"]:
            fleets[row["cohort"]][0] += 1
            fleets[row["cohort"]][1] += a in flagged
    return {
        "precision": precision,
        "recall": recall,
        "benign": {c: f / n for c, (n, f) in sorted(benign.items())},
        "fleets": {c: f / n for c, (n, f) in sorted(fleets.items())},
        "true_purity": purity(true_to_pred),
        "pred_purity": purity(pred_to_true),
        "flagged": len(flagged),
        "malicious": len(malicious),
        "campaigns": len(pred_to_true),
        "true_campaigns": len({r["campaign"] for r in labels.values() if r["campaign"]}),
    }


def per_campaign(labels: dict[str, dict], flagged: dict[str, dict], manifest: dict) -> list[str]:
    """One line per true campaign (share found, in how many predicted campaigns, its shape),
    and the benign accounts flagged per predicted campaign."""
    lines = []
    members = defaultdict(list)
    for a, row in labels.items():
        members[row["campaign"] or "(benign:" + row["cohort"] + ")"].append(a)
    for campaign, info in manifest["campaigns"].items():
        accts = members.get(campaign, [])
        found = [a for a in accts if a in flagged]
        predicted = Counter(flagged[a].get("campaign_id") or "lone" for a in found)
        shape = info.get("shape", {})
        text = " ".join(
            f"{k}={v}" for k, v in shape.items() if k not in ("mix", "accounts", "harvest")
        )
        lines.append(
            f"{campaign} {info.get('cohort', '')} {len(found)}/{len(accts)} found in "
            f"{len(predicted)} predicted {dict(predicted.most_common(3))}; {text}"
        )
    benign = defaultdict(Counter)
    for a, row in flagged.items():
        label = labels.get(a, {})
        if not label.get("malicious"):
            benign[row.get("campaign_id") or "lone"][label.get("cohort", "?")] += 1
    for predicted, cohorts in benign.items():
        lines.append(f"benign flagged in {predicted}: {dict(cohorts)}")
    return lines


def missed_why(labels: dict[str, dict], flagged: dict[str, dict]) -> dict[str, Counter]:
    """Per true campaign, its accounts not flagged counted by what stopped them (``--why``):
    the last run's analysis made again from its stored chunks."""
    from detection import services
    from detection.models import DetectionRun

    analysis = services.run_analysis(DetectionRun.objects.latest())
    row_of = {a: i for i, a in enumerate(analysis.frame["account_id"].to_list())}
    out: dict[str, Counter] = defaultdict(Counter)
    for account, label in labels.items():
        if not label.get("campaign") or account in flagged or account not in row_of:
            continue
        community = int(analysis.membership[row_of[account]])
        if community < 0:
            why = "no community"
        elif community in analysis.held:
            why = analysis.held[community]
        else:
            why = "not a member: " + analysis.left_out.get(row_of[account], "later")
        out[label["campaign"]][why] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 202, 303])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--generator", choices=["traffic", "cohorts"], default="traffic")
    parser.add_argument("--vary", action="store_true", help="varied fleet and company shapes")
    parser.add_argument(
        "--why", action="store_true", help="with --vary: what stopped each fleet's missed accounts"
    )
    parser.add_argument(
        "--database", default="console_bench_detection", help="scratch database (dropped)"
    )
    args = parser.parse_args()
    if args.generator == "traffic" and not have_generator():
        raise SystemExit("generate_traffic / ingest are not available; try --generator cohorts")
    setup_database(args.database)
    from django.core.management import call_command

    results = []
    for seed in args.seeds:
        truncate_all()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            started = time.perf_counter()
            if args.generator == "traffic":
                labels = load_generated(tmp / "data", seed, args.scale, vary=args.vary)
                manifest = json.loads((tmp / "data" / "manifest.json").read_text())
            else:
                labels = load_cohorts(seed)
            loaded = time.perf_counter()
            call_command("detect")
            detected = time.perf_counter()
            call_command("export_flagged", "-o", str(tmp / "flagged.jsonl"))
            flagged = read_export(tmp / "flagged.jsonl")
            why = missed_why(labels, flagged) if args.why and args.vary else {}
        result = evaluate(labels, flagged)
        result["seed"] = seed
        results.append(result)
        print(
            f"seed {seed}: {len(labels)} accounts, {result['malicious']} malicious in "
            f"{result['true_campaigns']} campaigns; flagged {result['flagged']} in "
            f"{result['campaigns']} campaigns (load {loaded - started:.1f} s, detect "
            f"{detected - loaded:.1f} s)"
        )
        print(
            f"  precision {result['precision']:.3f}  recall {result['recall']:.3f}  "
            f"purity true->pred {result['true_purity']:.3f}  pred->true {result['pred_purity']:.3f}"
        )
        print("  benign flagged: " + ", ".join(f"{c} {s:.1%}" for c, s in result["benign"].items()))
        print("  fleets found: " + ", ".join(f"{c} {s:.1%}" for c, s in result["fleets"].items()))
        if args.vary:
            for line in per_campaign(labels, flagged, manifest):
                print("    " + line)
            for campaign, counts in why.items():
                print(f"    {campaign} missed: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    n = len(results)
    worst_benign = max((s for r in results for s in r["benign"].values()), default=0.0)
    print(
        f"\nmean over {n} seeds: precision {sum(r['precision'] for r in results) / n:.3f}, "
        f"recall {sum(r['recall'] for r in results) / n:.3f}, "
        f"purity {sum(r['true_purity'] for r in results) / n:.3f} / "
        f"{sum(r['pred_purity'] for r in results) / n:.3f}, "
        f"worst benign cohort {worst_benign:.1%}"
    )
    print("targets: precision >= 0.98, recall >= 0.95, every benign cohort <= 1%, purity >= 0.95")
    if args.why and args.vary:
        from detection.scoring import HELD, LEFT_OUT

        print("missed: no community = in no community with anyone")
        for key, text in HELD.items():
            print(f"        {key} = a community that was no campaign: {text}")
        for key, text in LEFT_OUT.items():
            print(f"        not a member: {key} = in a campaign's community, but {text}")
        print("        not a member: later = decided after the first pass (a community cut in two)")


if __name__ == "__main__":
    main()
