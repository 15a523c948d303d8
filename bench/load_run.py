"""The console under a team's load: gunicorn (several workers), PostgreSQL, Redis and a Celery
worker, driven by the Locust scenario in ``bench/load.py`` at 10, 25 and 50 users.

    .venv/bin/python bench/load_run.py [--users 10,25,50] [--duration 120] [--workers 4]
                                       [--scale 0.3] [--reuse-db] [--port 8100]

1. Seeds a scratch database (``BENCH_DATABASE_URL``, default
   ``postgres://localhost/console_bench_load``, dropped and created again unless
   ``--reuse-db``): migrate, ``generate_traffic`` (kept under var/bench-load/), ``ingest``,
   ``detect``, and the bench users (``bench-analyst-1..50``, ``bench-approver-1..10``, one
   password).
2. Starts a Redis of its own on a free port (broker and cache, nothing shared with anything
   else on the machine), a Celery worker, and gunicorn with ``--workers`` processes, DEBUG
   off and static files collected, as production runs it; waits for ``/healthz``.
3. For each user count: Locust headless for ``--duration`` seconds (users start at a fifth of
   the count per second and log in). The measured period starts once every user has logged
   in (``bench/load.py`` resets the statistics then); the logins are timed on their own. It
   prints requests, requests/s, the median and 95th percentile of every request and the
   errors in the measured period, the logins' p50/p95, and the slowest pages by p95. Each
   run's CSV files are kept under var/bench-load/.
4. Stops everything it started, also on Ctrl-C.

Nothing here asserts; the figures go in docs/benchmarks.md ("Load").
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench-load"
BIN = Path(sys.executable).parent
DEFAULT_DB = "postgres://localhost/console_bench_load"
ANALYSTS, APPROVERS = 50, 10

USERS_SCRIPT = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from dashboard.roles import ANALYST, APPROVER, ensure_roles
import os
ensure_roles()
User = get_user_model()
password = os.environ["BENCH_PASSWORD"]
for role, count in ((ANALYST, {analysts}), (APPROVER, {approvers})):
    for n in range(1, count + 1):
        user, _ = User.objects.get_or_create(username=f"bench-{{role}}-{{n}}")
        user.set_password(password)
        user.save()
        user.groups.set(Group.objects.filter(name=role))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict, *args: str, quiet: bool = True) -> None:
    out = subprocess.DEVNULL if quiet else None
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=out)


def seed(env: dict, scale: float, reuse: bool) -> None:
    database = env["DATABASE_URL"]
    name = database.rsplit("/", 1)[1]
    host = database.split("//", 1)[1].split("/", 1)[0] or "localhost"
    if not reuse:
        subprocess.run(["dropdb", "-h", host, "--if-exists", name], check=True)
        subprocess.run(["createdb", "-h", host, name], check=True)
    print(f"seeding {database} (scale {scale})", flush=True)
    manage(env, "migrate", "-v", "0")
    if not reuse:
        data = OUT / f"data-{scale}"
        if not (data / "exchanges.jsonl.gz").exists():
            manage(env, "generate_traffic", str(data), "--seed", "7", "--scale", str(scale))
        manage(env, "ingest", str(data))
        manage(env, "detect")
    script = USERS_SCRIPT.format(analysts=ANALYSTS, approvers=APPROVERS)
    manage(env, "shell", "-c", script)
    manage(env, "collectstatic", "--noinput", "-v", "0")


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own server)
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer 200 within {timeout:.0f}s")


def summary(prefix: Path) -> tuple[dict, list[dict]]:
    with (prefix.parent / f"{prefix.name}_stats.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    pages = [r for r in rows if r["Name"] != "Aggregated"]
    return total, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="10,25,50")
    parser.add_argument("--duration", type=int, default=120, help="seconds per user count")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--reuse-db", action="store_true", help="keep the seeded database")
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("needs redis-server (apt-get install redis-server)")

    OUT.mkdir(parents=True, exist_ok=True)
    redis_port = free_port()
    password = secrets.token_urlsafe(12)
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CACHE_URL": f"redis://127.0.0.1:{redis_port}/1",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "BEHIND_TLS_PROXY": "false",
        "DATA_DIR": str(OUT / "files"),
        "STATIC_ROOT": str(OUT / "static"),
        "BENCH_PASSWORD": password,
        "LOG_LEVEL": "WARNING",
    }
    started: list[subprocess.Popen] = []

    def start(command: list[str], log: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=(OUT / log).open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    try:
        start(
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            "redis.log",
        )
        time.sleep(0.5)
        seed(env, args.scale, args.reuse_db)
        start(
            [
                str(BIN / "celery"),
                "-A",
                "dashboard",
                "worker",
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
            ],
            "celery.log",
        )
        start(
            [
                str(BIN / "gunicorn"),
                "dashboard.wsgi",
                "--workers",
                str(args.workers),
                "--bind",
                f"127.0.0.1:{args.port}",
                "--access-logfile",
                "-",
            ],
            "gunicorn.log",
        )
        host = f"http://127.0.0.1:{args.port}"
        wait_for(host + "/healthz")
        print(f"gunicorn ({args.workers} workers), a Celery worker and Redis :{redis_port} up")

        header = (
            f"{'users':>5} {'requests':>9} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>7}"
        )
        results = []
        for users in [int(u) for u in args.users.split(",")]:
            prefix = OUT / f"locust-{users}"
            logins_out = OUT / f"logins-{users}.json"
            logins_out.unlink(missing_ok=True)
            subprocess.run(
                [
                    str(BIN / "locust"),
                    "-f",
                    "bench/load.py",
                    "--headless",
                    "--host",
                    host,
                    "-u",
                    str(users),
                    "-r",
                    str(max(1, users // 5)),
                    "-t",
                    f"{args.duration}s",
                    "--csv",
                    str(prefix),
                    "--only-summary",
                    "--stop-timeout",
                    "10",
                    "--analysts",
                    str(ANALYSTS),
                    "--approvers",
                    str(APPROVERS),
                    "--logins-out",
                    str(logins_out),
                ],
                cwd=ROOT,
                env=env,
                check=False,
                stdout=(OUT / f"locust-{users}.log").open("w"),
                stderr=subprocess.STDOUT,
            )
            total, pages = summary(prefix)
            results.append((users, total, pages))
            print(header)
            print(
                f"{users:>5} {int(total['Request Count']):>9,} {float(total['Requests/s']):>7.1f} "
                f"{total['50%']:>7} {total['95%']:>7} {int(total['Failure Count']):>7}",
                flush=True,
            )
            if logins_out.exists():
                logins = json.loads(logins_out.read_text())
                print(
                    f"      logins before the measured period: {logins['users']} users, all in "
                    f"after {logins['all_logged_in_after_s']} s, p50 {logins['p50_ms']} ms, "
                    f"p95 {logins['p95_ms']} ms, refused {len(logins['refused'])}",
                    flush=True,
                )
            else:
                print("      not every user logged in: the figures include the logins")
        print("\nslowest pages by p95 (ms), per user count")
        for users, _, pages in results:
            timed = [r for r in pages if r["95%"] not in ("", "N/A")]
            slow = sorted(timed, key=lambda r: -float(r["95%"]))[:6]
            shown = ", ".join(f"{r['Name']} {r['95%']}" for r in slow)
            print(f"{users:>5} users: {shown}")
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
