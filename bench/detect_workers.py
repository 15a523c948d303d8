"""One detection run fanned out over Celery worker processes, as production runs it.

    DATABASE_URL=... .venv/bin/python bench/detect_workers.py [--workers 2] [--dump FILE]
                                                              [--broker redis://127.0.0.1:6379/13]

On ``DATABASE_URL``'s data (ingested already), starts ``--workers`` Celery worker processes
(``celery -A dashboard worker --concurrency 1`` each, on ``--broker``, which is emptied
first: use a Redis database nothing else uses), starts one detection run on them
(``detection_run_start``, as the console's button and the beat schedule do) and waits for
it. It prints the run's wall time and its stages (features over all chunks, finalise,
reach), how the chunks spread over the processes, and the peak RSS of each worker process
(sampled from /proc five times a second, so a peak shorter than that can be missed), also
by the stage the run was in, and each process's RSS as each stage began (what the finalise
step's worker carries from its chunks). The
workers are stopped as soon as the run has finished, before the cases it opens are synced,
unless ``--cases``: then they are kept until the run's cases are synced (the task the run's
success enqueues) and every evidence snapshot those cases requested has finished, and the
bench prints when each happened and how long each snapshot took, so the whole of what a
run does on the workers is timed, as production meets it.

``--dump FILE`` writes what the run decided, as ``bench/detect_run.py --dump`` does, so that
``bench/detect_run.py --compare`` can say whether one worker and two decide the same.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _rss_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found.append(child)
            todo.append(child)
    return found


def _wait_for(workers: int, timeout: float = 60.0) -> None:
    """Until ``workers`` worker processes answer a ping on the broker."""
    from dashboard.celery import app

    deadline = time.monotonic() + timeout
    while len(app.control.ping(timeout=1.0)) < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"fewer than {workers} workers answered within {timeout:.0f} s")


def _cases_and_evidence(run, sample, Case, EvidenceSnapshot) -> tuple[float, float]:
    """Sample until the run's cases are synced and their snapshots have finished; when each
    happened, in ``time.perf_counter`` seconds. A case synced by the run names it as its
    last run, and requests its snapshot in the same transaction, so once every subject the
    run flagged has its case, every snapshot to wait for exists."""
    subjects = int(run.counts.get("campaigns") or 0) + int(run.counts.get("lone") or 0)
    cases = Case.objects.filter(last_run=run)
    while cases.count() < subjects:
        sample("cases")
    cases_at = time.perf_counter()
    pending = EvidenceSnapshot.objects.in_flight().filter(case__last_run=run)
    while pending.exists():
        sample("evidence")
    return cases_at, time.perf_counter()


def _print_cases(run, started, wall, cases_at, evidence_at, Case, EvidenceSnapshot) -> None:
    snapshots = EvidenceSnapshot.objects.filter(case__last_run=run).order_by("-account_count")
    print(
        f"  cases: {Case.objects.filter(last_run=run).count()} synced "
        f"{cases_at - started - wall:.1f} s after the run; every snapshot finished "
        f"{evidence_at - cases_at:.1f} s after that; the whole, start to last snapshot: "
        f"{evidence_at - started:.1f} s"
    )
    for snapshot in snapshots:
        # From its request (the case's sync) to done, its wait for a free worker included:
        # ``started_at`` is the collecting task's heartbeat, not when it began.
        took = (snapshot.finished_at - snapshot.created_at).total_seconds()
        print(
            f"    snapshot {snapshot.pk} {snapshot.status}: {snapshot.account_count:,} accounts, "
            f"done {took:.1f} s after its request"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--dump", type=Path, help="write what the run decided to FILE")
    parser.add_argument(
        "--cases", action="store_true", help="also wait for the run's cases and their evidence"
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    # As production runs, DEBUG off: with it on, Django keeps the text of every query a
    # process makes, each chunk's stored payload included, for as long as the process lives.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", f"bench-{secrets.token_hex(16)}")
    os.environ["CELERY_BROKER_URL"] = args.broker
    import django

    django.setup()
    import redis
    from django.db import connection, transaction

    from cases.models import Case, EvidenceSnapshot
    from detection.models import DetectionChunk, DetectionRun, Exchange
    from detection.services import detection_run_start

    redis.Redis.from_url(args.broker).flushdb()
    print(
        f"{Exchange.objects.count():,} exchanges in {connection.settings_dict['NAME']}; "
        f"{args.workers} worker processes; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "dashboard",
                "worker",
                "--concurrency",
                "1",
                "--pool",
                "prefork",
                "--loglevel",
                "WARNING",
                "--hostname",
                f"bench{i}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(args.workers)
    ]
    peaks: dict[int, float] = {}
    by_stage: dict[str, float] = {}
    # Each worker process's RSS when the run entered each stage: what a process carries
    # from the stages before (the finalise step's worker, from its chunks).
    entered: dict[str, dict[int, float]] = {}
    try:
        _wait_for(args.workers)  # the run is timed from when the workers can take it
        with transaction.atomic():
            run = detection_run_start()
        started = time.perf_counter()

        def sample(stage: str) -> None:
            for worker in workers:
                for pid in [worker.pid, *_descendants(worker.pid)]:
                    rss = _rss_mb(pid)
                    peaks[pid] = max(peaks.get(pid, 0.0), rss)
                    by_stage[stage] = max(by_stage.get(stage, 0.0), rss)
                    entered.setdefault(stage, {}).setdefault(pid, rss)
            if any(w.poll() is not None for w in workers):
                raise SystemExit("a worker exited")
            time.sleep(0.2)

        while True:
            run.refresh_from_db()
            if run.status in (DetectionRun.Status.SUCCEEDED, DetectionRun.Status.FAILED):
                break
            sample(run.stage)
        wall = time.perf_counter() - started
        if args.cases and run.status == DetectionRun.Status.SUCCEEDED:
            cases_at, evidence_at = _cases_and_evidence(run, sample, Case, EvidenceSnapshot)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait()
    t = run.timings or {}
    print(
        f"run {run.pk} {run.status}: {wall:.1f} s from start to finish (the run's own wall "
        f"{t.get('wall_seconds', 0):.1f} s); features {t.get('features_seconds', 0):.1f} s, "
        f"finalise {t.get('finalise_seconds', 0):.1f} s, reach {t.get('reach_seconds', 0):.1f} s;"
        f" {run.chunks_total} chunks, {run.counts.get('flagged')} flagged, "
        f"{run.counts.get('campaigns')} campaigns; load average {os.getloadavg()[0]:.1f}"
    )
    if run.status != DetectionRun.Status.SUCCEEDED:
        raise SystemExit(f"run failed: {run.error}")
    chunk_seconds = list(DetectionChunk.objects.filter(run=run).values_list("seconds", flat=True))
    print(
        f"  chunks: {len(chunk_seconds)}, {sum(chunk_seconds):.1f} s of chunk work in all, "
        f"longest {max(chunk_seconds, default=0):.1f} s"
    )
    for pid, peak in sorted(peaks.items(), key=lambda kv: -kv[1]):
        if peak > 0:
            print(f"  process {pid}: peak RSS {peak:,.0f} MB")
    print(
        "  largest process by the run's stage: "
        + ", ".join(f"{stage or '-'} {peak:,.0f} MB" for stage, peak in by_stage.items())
    )
    print(
        "  worker processes' RSS as each stage began: "
        + "; ".join(
            f"{stage or '-'} "
            + ", ".join(f"{rss:,.0f}" for rss in sorted(pids.values()) if rss)
            + " MB"
            for stage, pids in entered.items()
        )
    )
    if args.cases:
        _print_cases(run, started, wall, cases_at, evidence_at, Case, EvidenceSnapshot)
    if args.dump:
        from detect_run import dump

        args.dump.write_text(json.dumps(dump(run), sort_keys=True, default=str))
        print(f"wrote {args.dump}")


if __name__ == "__main__":
    main()
