"""Peak memory and reject-file size of an ingest of hostile files, with and without the line
limit.

    DATABASE_URL=postgres://localhost/console_bench_limits .venv/bin/python bench/ingest_limits.py

Writes three files under var/bench-limits/ (once): a 200 MB line between two good exchanges
in a gzip of a few hundred KB, a gzip of 120 MB of NULs, and a small file of good exchanges
(the baseline). Each is ingested by ``manage.py ingest`` in a process of its own, once with
the default ``INGEST_MAX_LINE_BYTES`` and once with the limit lifted (what ingest did before
it had one), and the script prints the process's peak resident memory (``ru_maxrss`` of the
child), its wall time and the size of the reject file it wrote. The database named by
``DATABASE_URL`` is migrated first and its exchanges are deleted between runs: use a scratch
database. Nothing here asserts; the figures go in docs/benchmarks.md ("Ingest limits").
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench-limits"
MB = 1024 * 1024


def exchange(n: int) -> bytes:
    return orjson.dumps(
        {
            "exchange_id": f"bench-{n}",
            "account_id": "bench-account",
            "ts": "2026-03-01T12:00:00Z",
            "ip": "192.0.2.1",
            "model": "m",
            "prompt": f"hello {n}",
        }
    )


def gzip_members(path: Path, pieces) -> None:
    """One gzip member per piece, each distinct piece compressed once."""
    members: dict[bytes, bytes] = {}
    with path.open("wb") as fh:
        for piece in pieces:
            if piece not in members:
                members[piece] = gzip.compress(piece, compresslevel=9)
            fh.write(members[piece])


def files() -> dict[str, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    made = {
        "baseline (1,000 good rows)": OUT / "exchanges-baseline.jsonl.gz",
        "one 200 MB line": OUT / "exchanges-huge-line.jsonl.gz",
        "120 MB of NULs": OUT / "exchanges-nuls.jsonl.gz",
    }
    paths = list(made.values())
    if not paths[0].exists():
        paths[0].write_bytes(gzip.compress(b"\n".join(exchange(n) for n in range(1000)) + b"\n"))
    if not paths[1].exists():
        line = b'{"exchange_id": "huge", "prompt": "'
        chunk = b"A" * MB
        gzip_members(
            paths[1],
            [exchange(1) + b"\n", line, *([chunk] * 200), b"\n" + exchange(2) + b"\n"],
        )
    if not paths[2].exists():
        gzip_members(paths[2], [b"\x00" * MB] * 120)
    return made


_MEASURED = (
    "import resource, subprocess, sys;"
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run(path: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """Peak RSS (MB), wall seconds and reject file bytes of one ingest in a fresh process
    (a wrapper process of its own reads the ingest's peak, its only child's)."""
    with tempfile.TemporaryDirectory() as rejects:
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _MEASURED,
                sys.executable,
                "manage.py",
                "ingest",
                str(path),
                "--rejects-dir",
                rejects,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - start
        written = sum(p.stat().st_size for p in Path(rejects).iterdir())
    return int(done.stdout.strip()) / 1024, wall, written


def main() -> None:
    if not os.environ.get("DATABASE_URL"):
        sys.exit("set DATABASE_URL to a scratch database")
    env = {**os.environ, "DEBUG": "true", "INGEST_WORKERS": "1"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    made = files()
    print(f"{'file':28} {'gzip':>9} {'limit':>10} {'peak RSS':>10} {'wall':>7} {'rejects':>12}")
    for limited in (True, False):
        run_env = dict(env)
        if not limited:
            run_env["INGEST_MAX_LINE_BYTES"] = str(1 << 40)
            run_env["INGEST_REJECTS_MAX_BYTES"] = str(1 << 40)
        for label, path in made.items():
            subprocess.run([sys.executable, "-c", _CLEAR], cwd=ROOT, env=env, check=True)
            peak, wall, written = run(path, run_env)
            limit = "16 MiB" if limited else "none"
            print(
                f"{label:28} {path.stat().st_size / 1024:>7.0f}KB {limit:>10} "
                f"{peak:>8.0f}MB {wall:>6.1f}s {written:>11,}B"
            )


_CLEAR = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'dashboard.settings');"
    "django.setup();"
    "from detection.models import Exchange, IngestReport;"
    "Exchange.objects.filter(exchange_id__startswith='bench-').delete();"
    "IngestReport.objects.all().delete()"
)


if __name__ == "__main__":
    main()
