"""Fault drills that do not fit in the test suite's time: run by hand before a release, or
after changing ingest or the deployment.

    .venv/bin/python bench/drills.py postgres-restart [--rows 300000]

``postgres-restart``: PostgreSQL restarted in the middle of an ingest.

1. Creates a PostgreSQL cluster of its own (``initdb``, ``pg_ctl``; as the ``postgres`` user
   when run as root) in a temporary folder, on a free port, so no other database is touched,
   and migrates a database in it.
2. Writes an exchanges file of ``--rows`` rows (and its accounts) and ingests the accounts.
3. Starts ``manage.py ingest`` on the exchanges in a process of its own, waits until its
   report shows rows committed or bytes read, and restarts the cluster (``pg_ctl restart -m
   fast``: every connection is cut, as a failover or an operator's restart does).
4. Says what the interrupted ingest reported (its exit status and the last lines it printed)
   and checks that it marked its report ``failed`` with how to finish (the ingest tries the
   database again for up to ``INGEST_RECONNECT_SECONDS`` to record that), then runs the same
   ingest again and checks that every row of the file is stored exactly once: the first
   run's committed batches count as duplicates, the rest load.

Prints each step and PASS or FAIL; exits 1 on FAIL. The other faults (a worker killed mid
detection run, Redis stopped, the webhook receiver down) are tests: see docs/operations.md,
"Faults".
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for version in sorted(Path("/usr/lib/postgresql").glob("*"), reverse=True):
        candidate = version / "bin" / name
        if candidate.exists():
            return str(candidate)
    raise SystemExit(f"{name} not found (PostgreSQL server binaries)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A throwaway PostgreSQL cluster on its own port."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root

    def _run(self, *command: str) -> None:
        if self.as_postgres:
            command = ("runuser", "-u", "postgres", "--", *command)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run(
            _pg_bin("pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-w",
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            *extra,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/drill"


def write_files(folder: Path, rows: int) -> tuple[Path, Path]:
    start = datetime.now(UTC) - timedelta(days=5)  # every row in the past, none quarantined
    accounts = folder / "accounts.jsonl.gz"
    exchanges = folder / "exchanges.jsonl.gz"
    with gzip.open(accounts, "wb") as fh:
        for n in range(200):
            fh.write(
                orjson.dumps({"account_id": f"drill-{n}", "created_at": "2026-01-01T00:00:00Z"})
            )
            fh.write(b"\n")
    with gzip.open(exchanges, "wb", compresslevel=1) as fh:
        for n in range(rows):
            row = {
                "exchange_id": f"drill-ex-{n}",
                "account_id": f"drill-{n % 200}",
                "ts": (start + timedelta(seconds=n)).isoformat(),
                "ip": f"198.51.100.{n % 250}",
                "model": "drill-model",
                "prompt": f"Explain step by step how to solve problem {n}",
                "output_tokens": n % 900,
            }
            fh.write(orjson.dumps(row) + b"\n")
    return accounts, exchanges


def _django(env: dict, code: str) -> str:
    prelude = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
        "'dashboard.settings'); django.setup();"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def postgres_restart(rows: int) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="drill-pg-"))
    cluster = Cluster(folder)
    print(f"cluster in {folder} on port {cluster.port}")
    cluster.init()
    cluster.pg_ctl("start")
    try:
        subprocess.run(
            [
                _pg_bin("createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(cluster.port),
                "-U",
                "postgres",
                "drill",
            ],
            check=True,
        )
        env = {
            **os.environ,
            "DATABASE_URL": cluster.url,
            "DEBUG": "true",
            "CELERY_BROKER_URL": "",
            "CACHE_URL": "",
            "DATA_DIR": str(folder / "files"),
            "INGEST_WORKERS": "1",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        accounts, exchanges = write_files(folder, rows)
        subprocess.run(
            [sys.executable, "manage.py", "ingest", str(accounts)],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"ingesting {rows:,} exchanges, restarting PostgreSQL once rows are committed")
        first = subprocess.Popen(
            [sys.executable, "manage.py", "ingest", str(exchanges), "--bulk", "off"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        progress = (
            "from detection.models import IngestReport as R;"
            "r = R.objects.filter(kind='exchanges').order_by('-pk').first();"
            "print(r.lines_done if r else -1)"
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            if int(_django(env, progress) or -1) > 0:
                break
            time.sleep(0.3)
        if first.poll() is not None:
            print("FAIL: the ingest finished before the restart; use more --rows")
            return False
        cluster.pg_ctl("restart", "-m", "fast")
        output, _ = first.communicate(timeout=300)
        print(f"interrupted ingest: exit status {first.returncode}; it said:")
        for line in output.strip().splitlines()[-4:]:
            print(f"    {line[:200]}")
        if first.returncode == 0:  # it committed its last batch while the restart began
            print("FAIL: the ingest finished before the restart; use more --rows")
            return False
        report = _django(
            env,
            "from detection.models import IngestReport as R;"
            "r = R.objects.filter(kind='exchanges').order_by('-pk').first();"
            "print(r.status, 'run the same command again' in r.error, r.loaded, r.lines_done,"
            " repr(r.error[:160]))",
        )
        print(f"its report: {report}")
        recorded = report.startswith("failed True ")
        again = subprocess.run(
            [sys.executable, "manage.py", "ingest", str(exchanges)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        print(f"second ingest: exit status {again.returncode}")
        for line in again.stdout.strip().splitlines()[-2:]:
            print(f"    {line[:200]}")
        counts = _django(
            env,
            "from django.db.models import Count;"
            "from detection.models import Exchange as E;"
            "print(E.objects.count(), E.objects.values('exchange_id').annotate(n=Count('id'))"
            ".filter(n__gt=1).count())",
        )
        stored, repeated = map(int, counts.split())
        ok = recorded and again.returncode in (0, 1) and stored == rows and not repeated
        verdict = "PASS" if ok else "FAIL"
        first_report = "failed, with how to finish" if recorded else "NOT marked failed"
        print(
            f"{verdict}: first report {first_report}; "
            f"{stored:,} of {rows:,} rows stored, {repeated} stored twice"
        )
        return ok
    finally:
        cluster.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("drill", choices=["postgres-restart"])
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    ok = postgres_restart(args.rows)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
