"""Detection run time and peak memory at two data sizes, and the growth ratio.

Loads a data set (``generate_traffic`` at ``--scale`` and twice that; with ``--generator
cohorts`` the tests' hand-made cohorts repeated; with ``--generator heldout`` the independent
generator of bench/heldout/ at ``--accounts`` and twice that), then times ``python manage.py
detect`` in a child process: wall time, the child's CPU time (user + system, all threads;
steadier than wall time on a machine shared with other work) and its peak RSS, so the loader
is not counted. ``--profile DIR`` runs the child under pyinstrument and writes its profile
there (the profiler adds a little to each figure). ``--coaction [REV]`` also times the
co-action stage alone on each run's stored chunks (CPU of all threads, best of three), and
with REV the code of that git revision on the same inputs, as "before".

The held-out data is used for timing only: this script never reads its labels
(``truth.jsonl``), and refuses the seeds kept for measuring quality.

    .venv/bin/python bench/detection_scale.py [--scale 0.5] [--generator traffic|cohorts]
    .venv/bin/python bench/detection_scale.py --generator heldout --accounts 500 --seed 11
    .venv/bin/python bench/detection_scale.py --sqlite ...   # the embedded default (SQLite)
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from detection_common import (
    ROOT,
    coaction_timing,
    have_generator,
    load_cohorts,
    load_generated,
    load_heldout,
    setup_database,
    truncate_all,
)

# Seeds of the held-out generator spent on, or kept for, measuring quality.
HELDOUT_QUALITY_SEEDS = set(range(1, 11)) | set(range(12, 31))  # 1-10, 12-25 spent; 26-30 kept


def measure(url: str, profile: Path | None = None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one ``detect`` in a child process."""
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": "", "DEBUG": "true"}
    command = [sys.executable, "manage.py", "detect"]
    if profile is not None:
        command[1:1] = ["-m", "pyinstrument", "--show-all", "-o", str(profile)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of the children is the largest any child reached: the second, bigger run's.
    return seconds, cpu, after.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--generator", choices=["traffic", "cohorts", "heldout"], default="traffic")
    parser.add_argument("--accounts", type=int, default=500, help="heldout: accounts at x1")
    parser.add_argument("--end", default="2026-12-06", help="heldout: the window's last day")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile per size here")
    parser.add_argument(
        "--database", default="console_bench_detection_scale", help="scratch database (dropped)"
    )
    parser.add_argument("--seed", type=int, help="default 404 (traffic, cohorts), 11 (heldout)")
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="the embedded default: a SQLite file (var/bench/DATABASE.sqlite3), not PostgreSQL",
    )
    parser.add_argument(
        "--coaction",
        nargs="?",
        const="",
        metavar="REV",
        help="also time the co-action stage alone on each run's chunks (and at git REV, as before)",
    )
    args = parser.parse_args()
    if args.seed is None:
        args.seed = 11 if args.generator == "heldout" else 404
    if args.generator == "heldout" and args.seed in HELDOUT_QUALITY_SEEDS:
        raise SystemExit(f"held-out seeds {sorted(HELDOUT_QUALITY_SEEDS)} are kept for quality")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.generator == "traffic" and not have_generator():
        raise SystemExit("generate_traffic / ingest are not available; try --generator cohorts")
    url = setup_database(args.database, sqlite=args.sqlite)
    from detection.models import Account, Exchange

    rows = []
    for factor in (1, 2):
        truncate_all()
        with tempfile.TemporaryDirectory() as tmp:
            if args.generator == "traffic":
                load_generated(Path(tmp) / "data", args.seed, args.scale * factor)
            elif args.generator == "heldout":
                load_heldout(Path(tmp) / "data", args.seed, args.accounts * factor, args.end)
            else:
                load_cohorts(args.seed, fleets=4, scale=int(max(1, args.scale * 8)) * factor)
        exchanges, accounts = Exchange.objects.count(), Account.objects.count()
        profile = args.profile / f"detect-{args.generator}-x{factor}.txt" if args.profile else None
        seconds, cpu, peak = measure(url, profile)
        from cases.models import Case
        from detection.models import DetectionRun

        run = DetectionRun.objects.latest()
        cases = Case.objects.count()
        wall = run.timings["wall_seconds"]
        rows.append((exchanges, wall, seconds, cpu))
        print(
            f"{exchanges:>10,} exchanges {accounts:>7,} accounts: detection run {wall:6.1f} s "
            f"(features {run.timings['features_seconds']:.1f} s, finalise "
            f"{run.timings['finalise_seconds']:.1f} s, "
            f"reach {run.timings.get('reach_seconds', 0):.1f} s); whole command incl. case sync "
            f"and {cases} cases' in-process evidence "
            f"snapshots {seconds:6.1f} s wall, {cpu:6.1f} s CPU; "
            f"peak RSS {peak:7.0f} MB"
        )
        if args.coaction is not None:
            print("  " + coaction_timing(args.coaction or None), flush=True)
    (e1, t1, c1, u1), (e2, t2, c2, u2) = rows
    print(
        f"data x{e2 / e1:.2f} -> detection run x{t2 / t1:.2f}, whole command x{c2 / c1:.2f} "
        f"(CPU x{u2 / u1:.2f}) (target: doubling data <= 2.2x time)"
    )


if __name__ == "__main__":
    main()
