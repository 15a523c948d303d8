"""The reported scale end to end: generate, ingest, detect and open cases on the preset.

    .venv/bin/python bench/seed_scale.py [--scale 1.0] [--seed 7] [--database NAME]
                                         [--data DIR] [--bare-copy] [--coaction [REV]]
                                         [--ingest-only] [--from-models] [--workers N]

``generate_traffic --preset reported`` at ``--scale`` (1.0 = about 124,000 accounts and 26
million exchanges; a fraction for a smaller run), into ``--data`` (kept, and reused when its
manifest matches), then in a scratch PostgreSQL database (``--database``, dropped and
rebuilt) ``manage.py ingest`` and ``manage.py detect`` with no broker, which opens the cases
and collects each new case's evidence in the same process. Each stage runs as its own child
process, and the script prints its wall time, CPU time, rows per second and peak RSS (the
largest process of the stage, from ``wait4``), then the detection run's own stages, the
cases and their evidence snapshots, and the quality figures against the generator's labels.
``--bare-copy`` also times a bare ``COPY`` of the same exchange rows (bench/ingest.py), the
reference of the ingest budget; ``--profile FILE`` runs detect under pyinstrument;
``--coaction [REV]`` times the co-action stage alone on the run's chunks (and the code at git
revision REV on the same inputs, as before); ``--ingest-only`` stops after the ingest.

``--workers N`` detects as production does instead: N Celery worker processes on a Redis
broker (``--broker``, emptied first) take a run started as the console's button starts one,
then the case sync its success enqueues and each new case's evidence snapshot
(``bench/detect_workers.py --cases``, whose report is printed: the run's stages, the cases,
each snapshot, each process's peak RSS); the detect line's peak RSS is then the bench's own
process, not the workers'.

The scratch database is built by the migrations, as an installation's is (exchanges
partitioned by month); ``--from-models`` builds it straight from the models instead (one
unpartitioned table, quicker to set up: what this bench did before 2026-12-06, late).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from detection_common import ROOT, coaction_timing, read_export, setup_database
from detection_quality import evaluate


def stage(
    name: str,
    args: list[str],
    env: dict,
    rows: int | None = None,
    profile: Path | None = None,
    script: str = "manage.py",
) -> dict:
    """Run ``script args`` as a child; its wall and CPU seconds and peak RSS."""
    prefix = ["-m", "pyinstrument", "--show-all", "-o", str(profile)] if profile else []
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *prefix, script, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        print(output[-4000:])
        raise SystemExit(f"{name} failed")
    result = {
        "stage": name,
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
        "rows": rows,
        "output": output,
    }
    print(line(result), flush=True)
    return result


def line(r: dict) -> str:
    rate = f"{r['rows'] / r['seconds']:>10,.0f} rows/s" if r.get("rows") else " " * 17
    return (
        f"{r['stage']:<10} {r['seconds']:8.1f} s wall {r['cpu']:8.1f} s CPU  {rate}  "
        f"peak RSS {r['peak_mb']:6.0f} MB"
    )


def generated(data: Path, seed: int, scale: float, env: dict) -> dict:
    manifest_path = data / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if (manifest.get("seed"), manifest.get("scale"), manifest.get("preset")) == (
            seed,
            scale,
            "reported",
        ):
            print(f"generate   reusing {data} (same seed, scale and preset)")
            return manifest
    args = ["generate_traffic", str(data), "--preset", "reported"]
    result = stage("generate", [*args, "--seed", str(seed), "--scale", str(scale)], env)
    manifest = json.loads(manifest_path.read_text())
    result["rows"] = manifest["totals"]["exchanges"]
    print(f"           {manifest['totals']['exchanges'] / result['seconds']:,.0f} rows/s written")
    return manifest


def bare_copy(data: Path, url: str) -> float:
    """Seconds of a bare COPY of the exchange rows into an unindexed table (bench/ingest.py)."""
    from ingest import bare_copy as copy
    from ingest import prepare_bare

    text = data / "exchanges.copy.txt"
    rows = prepare_bare(data / "exchanges.jsonl.gz", text)
    seconds, cpu = copy(url, text)
    text.unlink()
    print(
        f"bare COPY  {seconds:8.1f} s wall                   {rows / seconds:>10,.0f} rows/s"
        f"  ({cpu})"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the preset")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default="console_bench_scale", help="scratch (dropped)")
    parser.add_argument("--data", type=Path, help="default var/scale/seed-SEED-scale-SCALE")
    parser.add_argument("--bare-copy", action="store_true", help="also time a bare COPY")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile of detect")
    parser.add_argument("--ingest-only", action="store_true", help="stop after the ingest")
    parser.add_argument(
        "--from-models", action="store_true", help="schema from the models, not the migrations"
    )
    parser.add_argument(
        "--coaction",
        nargs="?",
        const="",
        metavar="REV",
        help="also time the co-action stage alone on the run's chunks (and at git REV, as before)",
    )
    parser.add_argument("--workers", type=int, help="detect on N Celery worker processes")
    parser.add_argument(
        "--broker", default="redis://127.0.0.1:6379/13", help="with --workers (emptied)"
    )
    args = parser.parse_args()
    data = args.data or ROOT / "var" / "scale" / f"seed-{args.seed}-scale-{args.scale}"
    url = setup_database(args.database, migrate=not args.from_models)
    # The stages run as production runs them, DEBUG off: with it on, Django keeps the text of
    # every query a process makes (each stored chunk's payload too), and the detect stage's
    # peak memory would count it.
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": "",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or f"bench-{secrets.token_hex(16)}",
    }
    print(f"preset 'reported' at scale {args.scale}, seed {args.seed}, database {args.database}")

    manifest = generated(data, args.seed, args.scale, env)
    totals = manifest["totals"]
    print(
        f"           {totals['accounts']:,} accounts, {totals['exchanges']:,} exchanges; "
        f"campaigns: "
        + ", ".join(
            f"{c['kind']} {c.get('accounts', 0):,} accounts / {c.get('exchanges', 0):,}"
            for c in manifest["campaigns"].values()
        )
    )
    bare = bare_copy(data, url) if args.bare_copy else None
    ingest = stage("ingest", ["ingest", str(data)], env, rows=totals["exchanges"])
    if bare:
        print(f"           ingest at {bare / ingest['seconds']:.2f} of the bare COPY's rate")
    if args.ingest_only:
        return
    if args.workers:
        workers = ["--workers", str(args.workers), "--broker", args.broker, "--cases"]
        script = "bench/detect_workers.py"
        detect = stage("detect", workers, env, rows=totals["exchanges"], script=script)
        print(detect["output"].rstrip())
    else:
        detect = stage("detect", ["detect"], env, rows=totals["exchanges"], profile=args.profile)

    from cases.models import Case, EvidenceSnapshot
    from detection.models import DetectionRun

    run = DetectionRun.objects.latest()
    timings = run.timings or {}
    print(
        f"  detection run {timings.get('wall_seconds', 0):.1f} s: features (all chunks) "
        f"{timings.get('features_seconds', 0):.1f} s, finalise "
        f"{timings.get('finalise_seconds', 0):.1f} s, reach {timings.get('reach_seconds', 0):.1f}"
        f" s; {run.chunks_total} chunks; counts {run.counts}"
    )
    if args.coaction is not None:
        print("  " + coaction_timing(args.coaction or None), flush=True)
    after = detect["seconds"] - timings.get("wall_seconds", 0)
    where = "on the workers" if args.workers else "in-process"
    snapshots = list(
        EvidenceSnapshot.objects.exclude(finished_at=None).values_list(
            "created_at", "finished_at", "account_count"
        )
    )
    durations = sorted(((f - s).total_seconds(), n) for s, f, n in snapshots)
    print(
        f"  after the run (case sync and evidence, {where}): {after:.1f} s; "
        f"{Case.objects.count()} cases, {len(durations)} snapshots, "
        f"slowest {durations[-1][0] if durations else 0:.1f} s "
        f"({durations[-1][1] if durations else 0} accounts)"
    )

    export = data / "flagged.jsonl"
    env_export = {**env}
    stage("export", ["export_flagged", "--format", "jsonl", "-o", str(export)], env_export)
    labels = {}
    with (data / "labels.jsonl").open() as fh:
        for row in map(json.loads, fh):
            labels[row["account_id"]] = row
    q = evaluate(labels, read_export(export))
    worst = max(q["benign"].items(), key=lambda kv: kv[1]) if q["benign"] else ("-", 0)
    print(
        f"quality    precision {q['precision']:.3f} recall {q['recall']:.3f} purity "
        f"true->pred {q['true_purity']:.3f} pred->true {q['pred_purity']:.3f}; "
        f"{q['flagged']:,} flagged of {q['malicious']:,} malicious; {q['campaigns']} predicted "
        f"campaigns for {q['true_campaigns']}; worst benign cohort {worst[0]} {worst[1]:.1%}"
    )


if __name__ == "__main__":
    main()
