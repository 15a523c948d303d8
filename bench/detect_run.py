"""The detection run alone, repeated on data already ingested, and what it decided.

    .venv/bin/python bench/detect_run.py [--runs 2] [--dump FILE] [--profile FILE] [--stages]
        [--lines] [--chunk-exchanges N] [--chunk-size N]
    .venv/bin/python bench/detect_run.py --compare A.json B.json

Runs ``detection_run_execute`` (prepare, every chunk, finalise, reach: no case sync, no
evidence) ``--runs`` times in this process on ``DATABASE_URL``'s data, and prints for each
run its stages (features over all chunks, finalise, reach), its wall time, this process's
CPU time (all threads) and the CPU time of its PostgreSQL backend (read from /proc, so the
database must run on this machine; parallel query workers are not counted). The first run
pays for imports and a cold cache; compare the later ones.

``--stages`` also prints, for each run, the CPU time of this process (all threads) and of
its PostgreSQL backend spent in each named step of the run (``STAGES``; a step called inside
another is counted in both), per exchange too, and the highest resident memory of this
process seen while the step ran (sampled every 50 ms, so a peak shorter than that can be
missed). ``--lines`` takes the main thread's stack at each of those samples and prints the
lines of ``detection`` at which the RSS was highest (the three innermost frames there).

``--chunk-exchanges N`` and ``--chunk-size N`` first publish, on that database, a
configuration version like the one in force but for ``chunk_exchanges`` (the most exchanges
in a chunk) or ``chunk_size`` (the most accounts), so that the runs split the accounts
differently; a run's decisions must not change with them (``--dump`` two runs, each on a
fresh copy of the data, and ``--compare`` them).

``--analyse-only`` (with ``--stages``) runs only the analysis of the finalise step again, on
the chunks the latest successful run stored (nothing is written): where its time and
memory go, without the chunk step's. ``--shuffle SEED`` reads the chunks, and each chunk's
rows, in an order drawn from SEED: the analysis must decide the same whatever the order
(``--dump`` it and ``--compare`` with an unshuffled dump). With ``--dump FILE`` it writes
what that analysis decided (every account's risk, flag and signal strengths; each
campaign's members and evidence summary), which ``--compare`` compares with another such
dump.

``--dump FILE`` writes what the last run decided, in terms that do not depend on database
keys: every account's risk, flag, known-good hold, counts and signals; each campaign as its
members' account ids with its risk, counts and evidence; the run's counts; the reach rows;
and digests of the chunks' feature, link and model frames (each row's hash, all chunks'
hashes sorted, so they do not depend on how accounts were split into chunks; read a chunk at
a time). ``--compare A B`` says whether
two dumps are identical and, if not, where they differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _backend_cpu(pid: int) -> float:
    """utime + stime of a local process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# (module, function) whose CPU ``--stages`` reports: the chunk step and its parts, the
# finalise step and its parts, in the order a run calls them.
STAGES = (
    ("detection.services", "_refresh_statistics"),
    ("detection.services", "window_exchange_counts"),
    ("detection.services", "load_exchanges"),
    ("detection.features", "prompt_flags"),
    ("detection.features", "template_features"),
    ("detection.features", "activity_signatures"),
    ("detection.coaction", "exit_signatures"),
    ("detection.coaction", "coaction_cells"),
    ("detection.features", "chunk_features"),
    ("detection.services", "_pack"),
    ("detection.services", "detection_chunk_compute"),
    ("detection.services", "_unpack"),
    ("detection.clustering", "key_pairs"),
    ("detection.clustering", "sync_pairs"),
    ("detection.coaction", "cell_members"),
    ("detection.coaction", "_quiet_pairs"),
    ("detection.coaction", "_sketch_pairs"),
    ("detection.coaction", "_meetings"),
    ("detection.coaction", "coaction_pairs"),
    ("detection.coaction", "crowded_accounts"),
    ("detection.onset", "start_pairs"),
    ("detection.onset", "move_pairs"),
    ("detection.onset", "alike"),
    ("detection.signals", "derive"),
    ("detection.analysis", "own_template_ties"),
    ("detection.clustering", "communities"),
    ("detection.scoring", "decide"),
    ("detection.services", "analyse_chunks"),
    ("detection.services", "value_reach_write"),
    ("detection.services", "_persist"),
    ("detection.services", "detection_run_finalise"),
)


# Seed of the row hashes the chunk frames' digests are made of (``_frame_digests``).
FRAME_SEED = 29


def _rss_mb() -> float:
    """This process's resident memory now, in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


# Every ``--stages`` and ``--lines`` figure comes from one thread that samples this
# process's RSS at this period and hands it to each of them (``_on_sample``).
SAMPLE_SECONDS = 0.05
_samplers: list = []


def _on_sample(callback) -> None:
    """Call ``callback(rss_mb)`` from the one sampling thread, every ``SAMPLE_SECONDS`` (the
    thread starts with the first callback)."""
    import threading

    def sample() -> None:
        while True:
            rss = _rss_mb()
            for each in list(_samplers):
                each(rss)
            time.sleep(SAMPLE_SECONDS)

    if not _samplers:
        threading.Thread(target=sample, daemon=True).start()
    _samplers.append(callback)


def _sample_lines() -> dict[str, float]:
    """At each sample, the main thread's stack; returns, per innermost three frames in
    ``detection`` (module:line, innermost first), the highest RSS seen there, accumulated for
    as long as the process lives."""
    import threading
    import traceback

    main, seen = threading.get_ident(), {}

    def at(rss: float) -> None:
        frame = sys._current_frames().get(main)
        if frame is not None:
            stack = [f for f in traceback.extract_stack(frame) if "/detection/" in f.filename]
            where = " < ".join(f"{Path(f.filename).stem}:{f.lineno}" for f in reversed(stack[-3:]))
            seen[where] = max(seen.get(where, 0.0), rss)

    _on_sample(at)
    return seen


def _print_lines(seen: dict[str, float], count: int = 15) -> None:
    print("  highest RSS by the line running (innermost first):")
    for where, rss in sorted(seen.items(), key=lambda kv: -kv[1])[:count]:
        print(f"    {rss:7,.0f} MB  {where or '(outside detection)'}")


def _time_stages(backend: int) -> dict[str, list[float]]:
    """Wrap each of ``STAGES`` where the run looks it up; returns name -> [CPU here, CPU in
    PostgreSQL, highest RSS in MB], accumulated until cleared. Each sample of the RSS
    (``_on_sample``) raises the peak of every step running at that moment."""
    import importlib

    spent: dict[str, list[float]] = {}
    running: list[str] = []

    def at(rss: float) -> None:
        for name in list(running):
            spent[name][2] = max(spent[name][2], rss)

    _on_sample(at)
    for module_name, name in STAGES:
        module = importlib.import_module(module_name)
        function = getattr(module, name)
        spent[name] = [0.0, 0.0, 0.0]

        def call(*a, _function=function, _name=name, **kw):
            cpu, db = time.process_time(), _backend_cpu(backend)
            running.append(_name)
            spent[_name][2] = max(spent[_name][2], _rss_mb())
            try:
                return _function(*a, **kw)
            finally:
                running.remove(_name)
                spent[_name][2] = max(spent[_name][2], _rss_mb())
                spent[_name][0] += time.process_time() - cpu
                spent[_name][1] += _backend_cpu(backend) - db

        setattr(module, name, call)
    return spent


def _largest_chunk(run) -> int:
    return max(run.chunks.values_list("exchange_count", flat=True), default=0)


def _print_payloads(run) -> None:
    """The size of what the chunks stored for finalise: bytes, and link rows per kind (read
    one chunk at a time)."""
    from collections import Counter

    from detection.services import _unpack

    size, rows, kinds = 0, Counter(), Counter()
    payloads = run.chunks.exclude(payload=None).values_list("payload", flat=True)
    for payload in payloads.iterator(chunk_size=1):
        size += len(payload)
        chunk = _unpack(bytes(payload))
        rows.update(features=chunk.features.height, models=chunk.models.height)
        kinds.update(dict(chunk.links.group_by("kind").len().iter_rows()))
    print(
        f"  chunk payloads {size / 1e6:,.0f} MB; rows: "
        + ", ".join(f"{k} {n:,}" for k, n in rows.items())
        + "; links "
        + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items()))
    )


def _frame_digests(run) -> dict[str, str]:
    """For each of the chunks' frames (features, links, models), a digest of its rows over
    all the chunks, whatever their order and whatever chunk they came from: every row's
    hash (``hash_rows``), all the chunks' hashes sorted. The chunks are read one at a time:
    all of them at once, concatenated and sorted, were tens of GB at the full preset."""
    import numpy as np

    from detection.services import _unpack

    names = ("features", "links", "models")
    hashes: dict[str, list] = {name: [] for name in names}
    payloads = run.chunks.exclude(payload=None).values_list("payload", flat=True)
    for payload in payloads.iterator(chunk_size=1):
        chunk = _unpack(bytes(payload))
        for name in names:
            hashes[name].append(getattr(chunk, name).hash_rows(seed=FRAME_SEED).to_numpy())
        del chunk
    digests = {}
    for name, parts in hashes.items():
        rows = np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)
        digests[name] = (
            f"{len(rows)}:{hashlib.sha256(rows.tobytes()).hexdigest()}" if len(rows) else "empty"
        )
    return digests


def _analyse_shuffled(run, seed: int):
    """``services.run_analysis`` of ``run`` with its chunks, and each chunk's rows, in an
    order drawn from ``seed``: what it decides must not depend on the order it reads."""
    import random
    import tempfile

    from detection import services
    from detection.config import DetectionParams

    payloads = list(
        run.chunks.exclude(payload=None).order_by("index").values_list("payload", flat=True)
    )
    draw = random.Random(seed)
    draw.shuffle(payloads)

    def shuffled(payload):
        chunk = services._unpack(bytes(payload))
        for name in ("features", "links", "models"):
            frame = getattr(chunk, name)
            setattr(
                chunk, name, frame.sample(fraction=1.0, shuffle=True, seed=draw.randrange(2**32))
            )
        return chunk

    with tempfile.TemporaryDirectory(prefix="detection-cells-") as spill:
        return services.analyse_chunks(
            (shuffled(p) for p in payloads),
            window_start=run.window_start,
            window_end=run.window_end,
            params=DetectionParams.from_stored(run.config.params),
            before=run,
            spill=Path(spill),
        )


def dump(run) -> dict:
    """``detection.outcome.run_outcome`` and digests of the run's chunk frames."""
    from detection.outcome import run_outcome

    return {**run_outcome(run), "frames": _frame_digests(run)}


def dump_analysis(analysis) -> dict:
    """What an analysis decided (``--analyse-only --dump``): each account's risk, flag and
    signal strengths, and each campaign's members and evidence summary."""
    import numpy as np

    from detection.analysis import campaign_evidence

    ids = analysis.frame["account"].to_list()
    strengths = np.round(analysis.scores.strengths, 4)
    accounts = {
        str(a): [round(float(analysis.scores.risk[i]), 4), bool(analysis.decision.flagged[i]),
                 strengths[i].tolist()]
        for i, a in enumerate(ids)
    }  # fmt: skip
    campaigns = sorted(
        [
            sorted(ids[i] for i in info["members"]),
            campaign_evidence(analysis, np.asarray(info["members"]))["summary"],
        ]
        for info in analysis.decision.campaigns.values()
    )
    return {"analysis": {"accounts": accounts, "campaigns": campaigns}}


def compare(a_path: Path, b_path: Path) -> int:
    a, b = (json.loads(p.read_text()) for p in (a_path, b_path))
    if "analysis" in a or "analysis" in b:
        a, b = a.get("analysis", {}), b.get("analysis", {})
        changed = [k for k in sorted(set(a["accounts"]) | set(b["accounts"]))
                   if a["accounts"].get(k) != b["accounts"].get(k)]  # fmt: skip
        print(f"{len(a['accounts']):,} accounts, {len(a['campaigns'])} campaigns analysed")
        same = a["campaigns"] == b["campaigns"]
        if changed or not same:
            print(f"DIFFERENT: {len(changed)} accounts (e.g. {changed[:5]}); campaigns "
                  f"{'identical' if same else 'not identical'}")  # fmt: skip
            return 1
        print("identical: risks, flags, signal strengths, campaigns and their evidence")
        return 0
    differences = []
    for key in ("counts", "window", "frames"):
        if a[key] != b[key]:
            differences.append(f"{key}: {a[key]} != {b[key]}")
    changed = [
        k
        for k in sorted(set(a["accounts"]) | set(b["accounts"]))
        if a["accounts"].get(k) != b["accounts"].get(k)
    ]
    if changed:
        differences.append(f"accounts: {len(changed)} differ, e.g. {changed[:5]}")
    if a["campaigns"] != b["campaigns"]:
        differences.append(
            f"campaigns: {len(a['campaigns'])} vs {len(b['campaigns'])}, not identical"
        )
    if a["reach"] != b["reach"]:
        differences.append(f"reach: {len(a['reach'])} vs {len(b['reach'])} rows, not identical")
    print(
        f"{len(a['accounts']):,} accounts, {sum(v[1] for v in a['accounts'].values()):,} flagged, "
        f"{len(a['campaigns'])} campaigns, {len(a['reach']):,} reach rows"
    )
    if differences:
        print("DIFFERENT:\n  " + "\n  ".join(differences))
        return 1
    print("identical: scores, flags, signals, campaigns and their evidence, reach, chunk frames")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--dump", type=Path, help="write what the last run decided to FILE")
    parser.add_argument("--profile", type=Path, help="pyinstrument profile of the last run")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    parser.add_argument("--stages", action="store_true", help="CPU and memory per step of the run")
    parser.add_argument(
        "--lines", action="store_true", help="the highest RSS seen at each line of detection"
    )
    parser.add_argument(
        "--analyse-only",
        action="store_true",
        help="only analyse the latest successful run's stored chunks again (with --stages)",
    )
    parser.add_argument(
        "--shuffle",
        type=int,
        metavar="SEED",
        help="with --analyse-only: the chunks and their rows in an order drawn from SEED",
    )
    parser.add_argument(
        "--chunk-exchanges", type=int, help="publish a version with this chunk_exchanges first"
    )
    parser.add_argument(
        "--chunk-size", type=int, help="publish a version with this chunk_size first"
    )
    args = parser.parse_args()
    if args.compare:
        raise SystemExit(compare(*args.compare))

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    # As production runs, DEBUG off: with it on, Django keeps the text of every query a
    # process makes, each chunk's stored payload included, for as long as the process lives.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", f"bench-{secrets.token_hex(16)}")
    os.environ["CELERY_BROKER_URL"] = ""
    import django

    django.setup()
    from django.db import connection

    from detection.models import Exchange
    from detection.services import detection_run_create, detection_run_execute

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    print(
        f"{Exchange.objects.count():,} exchanges in {connection.settings_dict['NAME']}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    from detection import services

    split = {
        name: value
        for name, value in (
            ("chunk_size", args.chunk_size),
            ("chunk_exchanges", args.chunk_exchanges),
        )
        if value
    }
    if split:
        from detection.config import DetectionParams, config_new_version, current_config

        params = DetectionParams.from_stored(current_config().params)
        config_new_version(
            params=params.replace(**split), reason=f"bench/detect_run.py: chunks of {split}"
        )

    spent = {"load": 0.0, "compute": 0.0, "rows": 0}

    def timed(name, function):
        def call(*a, **kw):
            started = time.perf_counter()
            result = function(*a, **kw)
            spent[name] += time.perf_counter() - started
            if name == "load":
                spent["rows"] += result.height
            return result

        return call

    # The features stage split into reading the chunk and computing on it.
    stages = _time_stages(backend) if args.stages else {}
    lines = _sample_lines() if args.lines else None
    if args.analyse_only:
        from detection.models import DetectionRun

        run = DetectionRun.objects.filter(status=DetectionRun.Status.SUCCEEDED).latest()
        wall, cpu = time.perf_counter(), time.process_time()
        if args.shuffle is None:
            analysis = services.run_analysis(run)
        else:
            analysis = _analyse_shuffled(run, args.shuffle)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"analysis of run {run.pk} again: {wall:.1f} s wall, {cpu:.1f} s CPU here, "
            f"{int(analysis.decision.flagged.sum()) if analysis else 0} flagged; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        exchanges = max(run.counts.get("exchanges") or 0, 1)
        for name, (here, _there, peak) in stages.items():
            if peak:
                print(
                    f"  {name:24s} {here:7.2f} s CPU here ({1e6 * here / exchanges:5.2f} us an "
                    f"exchange), peak RSS {peak:,.0f} MB"
                )
        if lines is not None:
            _print_lines(lines)
        if args.dump and analysis is not None:
            args.dump.write_text(json.dumps(dump_analysis(analysis), sort_keys=True))
            print(f"wrote {args.dump}")
        return
    services.load_exchanges = timed("load", services.load_exchanges)
    services.feat.chunk_features = timed("compute", services.feat.chunk_features)
    run = None
    for i in range(args.runs):
        spent.update(load=0.0, compute=0.0, rows=0)
        for figures in stages.values():
            figures[:] = [0.0, 0.0, 0.0]
        profiler = None
        if args.profile and i == args.runs - 1:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        wall, cpu, db = time.perf_counter(), time.process_time(), _backend_cpu(backend)
        run = detection_run_execute(run=detection_run_create())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        db = _backend_cpu(backend) - db
        if profiler:
            profiler.stop()
            args.profile.write_text(profiler.output_text(show_all=True))
        t = run.timings
        print(
            f"run {i + 1}: {wall:6.1f} s wall, {cpu:6.1f} s CPU here, {db:6.1f} s CPU in "
            f"PostgreSQL; features {t['features_seconds']:.1f} s (reading {spent['load']:.1f} s, "
            f"{spent['rows']:,} rows; computing {spent['compute']:.1f} s), finalise "
            f"{t['finalise_seconds']:.1f} s, reach {t['reach_seconds']:.1f} s; "
            f"{run.chunks_total} chunks (at most {_largest_chunk(run):,} exchanges), "
            f"{run.counts.get('flagged')} flagged, "
            f"{run.counts.get('campaigns')} campaigns; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        exchanges = max(run.counts.get("exchanges") or 0, 1)
        for name, (here, there, peak) in stages.items():
            print(
                f"  {name:24s} {here:7.2f} s CPU here ({1e6 * here / exchanges:5.2f} us an "
                f"exchange), {there:6.2f} s in PostgreSQL ({1e6 * there / exchanges:5.2f} us), "
                f"peak RSS {peak:,.0f} MB"
            )
    if lines is not None:
        _print_lines(lines)
    if args.stages and run is not None:
        _print_payloads(run)
    if args.dump and run is not None:
        args.dump.write_text(json.dumps(dump(run), sort_keys=True, default=str))
        print(f"wrote {args.dump}")


if __name__ == "__main__":
    main()
