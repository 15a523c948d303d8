"""Backtest time against a detection run over the same window.

Loads a data set (``generate_traffic`` at ``--scale``, or with ``--generator cohorts`` the
tests' hand-made cohorts), runs detection once to warm up and once timed, then times two
backtests of a draft over the window that run read, beside the version in force:

* a threshold change (flagging parameters only): features are computed once for both;
* a feature change (another sampling of prompts per account): the part of the features
  that sampling feeds (templating) computed again per chunk, the rest shared.

It prints the exchanges in the window, each time, the CPU time of this process for each, and
the ratio to the detection run (the budget: at most 1.5x). The machine is shared: keep
``--scale`` small unless you have it to yourself.

    .venv/bin/python bench/backtest.py [--scale 0.05] [--generator traffic|cohorts]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from detection_common import have_generator, load_cohorts, load_generated, setup_database


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--generator", choices=["traffic", "cohorts"], default="traffic")
    parser.add_argument("--seed", type=int, default=404)
    parser.add_argument("--database", default="bench_backtest")
    args = parser.parse_args()

    setup_database(args.database)
    started = time.perf_counter()
    if args.generator == "traffic" and have_generator():
        with tempfile.TemporaryDirectory() as tmp:
            load_generated(Path(tmp), args.seed, args.scale)
    else:
        load_cohorts(args.seed, scale=max(1, int(args.scale)))
    print(f"loaded in {time.perf_counter() - started:.1f} s")

    from detection.backtest import backtest_execute
    from detection.config import DetectionParams, config_new_version, current_config
    from detection.models import Backtest
    from detection.services import detection_run_create, detection_run_execute

    current_config()
    detection_run_execute(run=detection_run_create())  # warm-up: imports, caches
    run, run_wall, run_cpu = timed(lambda: detection_run_execute(run=detection_run_create()))
    exchanges = run.counts.get("exchanges", 0)
    print(
        f"window {run.window_start:%Y-%m-%d} to {run.window_end:%Y-%m-%d}: "
        f"{exchanges:,} exchanges, {run.counts.get('scored', 0):,} accounts scored, "
        f"{run.counts.get('flagged', 0):,} flagged"
    )
    print(f"detection run          wall {run_wall:7.2f} s  cpu {run_cpu:7.2f} s")
    base = DetectionParams.from_stored(current_config().params)
    drafts = {
        "threshold change": base.replace(
            lone_threshold=base.lone_threshold - 0.15,
            campaign_threshold=base.campaign_threshold + 0.1,
        ),
        "feature change": base.replace(
            minhash_prompts_per_account=base.minhash_prompts_per_account + 1
        ),
    }
    for name, params in drafts.items():
        draft = config_new_version(params=params, reason=f"bench: {name}", draft=True)
        # Created without its task (with no broker it would run at once, untimed).
        backtest = Backtest.objects.create(
            config=draft,
            baseline=current_config(),
            window_start=run.window_start,
            window_end=run.window_end,
        )
        done, wall, cpu = timed(lambda b=backtest: backtest_execute(backtest_id=b.pk))
        assert done.status == "succeeded", done.error
        counts = done.counts
        print(
            f"backtest, {name:16s} wall {wall:7.2f} s  cpu {cpu:7.2f} s  "
            f"{wall / run_wall:4.2f}x the run (wall), {cpu / max(run_cpu, 1e-9):4.2f}x (cpu); "
            f"newly flagged {counts['newly_flagged']}, no longer {counts['no_longer_flagged']}, "
            f"features computed again: {', '.join(counts['recomputed_features']) or 'none'}"
        )


if __name__ == "__main__":
    main()
