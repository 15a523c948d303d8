"""Ingest throughput beside a bare COPY of the same rows on the same server.

    .venv/bin/python bench/ingest.py [--exchanges 500000] [--seed 7] [--scale 1.0]
                                     [--loader copy|portable] [--from-models]
                                     [--workers N] [--rounds 3] [--reuse-data]
                                     [--data DIR] [--phases]

1. Drops and recreates a scratch PostgreSQL database, ``console_bench_ingest`` (override
   with ``BENCH_DATABASE_URL``), and migrates it (``--from-models`` builds the schema straight
   from the models instead, for a tree whose migrations are not written yet).
2. Data: ``generate_traffic OUT --seed N --scale X`` when that command exists, else rows
   written here in the ingest format (``--own-data`` forces this): accounts.jsonl.gz and
   exchanges.jsonl.gz under var/bench-ingest/ (``--reuse-data`` keeps the last run's;
   ``--data DIR`` takes those two files from DIR instead, such as a
   ``generate_traffic --preset reported`` data set of bench/seed_scale.py).
3. Times our ingest of the accounts file, then ``--rounds`` rounds of: our ingest of the
   exchanges file into the emptied table, end to end (gunzip, parse, validate, fingerprint
   prompts, account keys, the bulk path's COPY and index builds, reports), and a bare
   ``COPY ... FROM STDIN`` of the same exchange rows (preformatted COPY text, prepared before
   the clock starts) into an unindexed, constraint-free table on the same server: the
   issue's yardstick. Alternating the two lets both meet the same moments of a shared
   machine; a ``CHECKPOINT`` before each timed step keeps one step from paying for the
   writes of the step before.
4. Times a second ingest of the same file (a no-op: every row a duplicate), and the same file
   again into the emptied table with ``--bulk off`` (the path of later files: indexes kept up
   to date row by row).
5. Times the same preformatted rows (account ids resolved to keys) COPYed into a copy of
   ``detection_exchange`` with all its indexes (``LIKE ... INCLUDING ALL``): the ceiling for
   any ingest that keeps the indexes live.
6. Prints rows/s for each and the ratios (the issue's target: ours >= 1/3 of the bare COPY):
   each round's, the medians', and ours against the fastest bare COPY.
7. Beside each wall time, the CPU seconds our process, its worker processes and the
   PostgreSQL backend used (the backend's from /proc, so only when the server runs on this
   machine): on a shared machine the wall times swing with the neighbours' load, the CPU
   split much less.

8. ``--phases``: where our ingest's wall time goes, from timers around the loader's steps
   in this process: the bulk path's start (locking, dropping the indexes), the batches'
   writes (COPY, and on the partitioned table the id lookups), removing repeated ids,
   building the indexes, and the rest (waiting for the next batch from the parse).

Nothing here asserts a time; the figures go in docs/benchmarks.md ("Ingest").
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://localhost/console_bench_ingest"
OUT = ROOT / "var" / "bench-ingest"

MODELS = ["atlas-large-2", "atlas-large-3", "atlas-mini", "atlas-code", "atlas-reason-1"]
AGENTS = [
    "python-httpx/0.27.0",
    "OpenAI/Python 1.42.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "curl/8.5.0",
]
TEMPLATES = [
    "Solve this step by step and show all of your reasoning before the final answer: {n} {w}",
    "Write a {w} function in Python that handles {n} edge cases, with tests and explanations.",
    "Summarise the following text in {n} bullet points for a busy reader: {w} " * 3,
    "I am planning a trip with {n} friends to see {w}. What should we pack and book first?",
    "Translate into French and explain the grammar of each sentence: the {w} costs {n} euros.",
    "You are an agent with tools. Call the search tool for '{w} {n}', then read the results.",
]
WORDS = ["graphs", "queues", "matrices", "poems", "recipes", "taxes", "gardens", "history",
         "travel", "music", "football", "weather", "movies", "cars", "birds", "coffee",
         "compilers", "kernels", "databases", "proofs", "lemmas"]  # fmt: skip


def setup_django(db_url: str, from_models: bool) -> None:
    import psycopg

    name = db_url.rsplit("/", 1)[1]
    admin_url = db_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ.setdefault("DATA_DIR", str(OUT))
    from django.conf import settings

    if from_models:
        apps = ("auth", "contenttypes", "sessions", "admin", "dashboard", "detection", "cases")
        settings.MIGRATION_MODULES = dict.fromkeys(apps)
    settings.LOGGING = {"version": 1, "disable_existing_loggers": False}
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", run_syncdb=from_models, verbosity=0)


def write_own_data(out: Path, exchanges: int, seed: int) -> None:
    """Accounts and exchanges in the ingest format: random ids, realistic text lengths."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    n_accounts = max(100, exchanges // 25)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    with gzip.open(out / "accounts.jsonl.gz", "wb", compresslevel=1) as fh:
        for i in range(n_accounts):
            row = {
                "account_id": f"acct-{i:07d}",
                "created_at": (start - timedelta(minutes=rng.randint(0, 500_000))).isoformat(),
                "email_domain": rng.choice(["gmail.com", "outlook.com", "corp.example", "uni.edu"]),
                "org_id": f"org-{rng.randint(0, n_accounts // 10)}" if rng.random() < 0.3 else "",
                "payment_fingerprint": f"pf-{rng.getrandbits(48):012x}",
                "country": rng.choice(["GB", "US", "DE", "SG", "BR", "IN", "JP", "CN"]),
                "plan": rng.choice(["free", "pro", "team", "api", "enterprise"]),
            }
            fh.write(orjson.dumps(row) + b"\n")
    # An account has 25 exchanges on average, a few have thousands (heavy users, fleets).
    weights = [rng.paretovariate(1.2) for _ in range(n_accounts)]
    owners = rng.choices(range(n_accounts), weights=weights, k=exchanges)
    with gzip.open(out / "exchanges.jsonl.gz", "wb", compresslevel=1) as fh:
        for i, owner in enumerate(owners):
            ts = start + timedelta(seconds=i * 2_000_000 / exchanges + rng.random())
            v6 = rng.random() < 0.1
            ip = (
                f"2001:db8:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
                if v6
                else f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
                f"{rng.randint(1, 254)}"
            )
            prompt = rng.choice(TEMPLATES).format(n=rng.randint(1, 999), w=rng.choice(WORDS))
            row = {
                "exchange_id": f"{rng.getrandbits(128):032x}",
                "account_id": f"acct-{owner:07d}",
                "ts": ts.isoformat().replace("+00:00", "Z"),
                "ip": ip,
                "asn": rng.choice([7922, 15169, 16509, 3320, 4134, 64512 + owner % 100]),
                "user_agent": rng.choice(AGENTS),
                "model": rng.choice(MODELS),
                "prompt": prompt,
                "input_tokens": rng.randint(5, 4000),
                "output_tokens": rng.randint(0, 8000),
                "tool_use": rng.random() < 0.2,
            }
            fh.write(orjson.dumps(row) + b"\n")


def copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def bare_fields():
    """The exchange fields a file carries (detection.contract), in its order."""
    from detection.contract import EXCHANGE_FIELDS

    return EXCHANGE_FIELDS


def bare_columns() -> str:
    """The bare table: each field as its stored type, ids (the account's too) as text."""
    from detection.contract import IDENTIFIER

    return ", ".join(
        f"{f.name} {'text' if f.check == IDENTIFIER else f.postgres}" for f in bare_fields()
    )


def prepare_bare(exchanges: Path, out: Path) -> int:
    """The exchange rows as COPY text, written before timing starts; returns the row count."""
    rows = 0
    fields = [f.name for f in bare_fields()]
    with gzip.open(exchanges, "rb") as src, out.open("w", encoding="utf-8") as dst:
        for line in src:
            record = orjson.loads(line)
            dst.write("\t".join(copy_text(record.get(f)) for f in fields) + "\n")
            rows += 1
    return rows


def bare_copy(db_url: str, copy_file: Path) -> float:
    import psycopg

    with psycopg.connect(db_url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare_copy")
        conn.execute(f"CREATE TABLE bench_bare_copy ({bare_columns()})")
        conn.commit()
        clock = CpuClock(conn.info.backend_pid)
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy("COPY bench_bare_copy FROM STDIN") as copy,
            copy_file.open("rb") as fh,
        ):
            while block := fh.read(1 << 20):
                copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - started
        cpu = clock.stop()
        conn.execute("DROP TABLE bench_bare_copy")
        conn.commit()
    return seconds, cpu


def indexed_copy(db_url: str, copy_file: Path) -> float:
    """The bare COPY rows with account ids swapped for keys, into an indexed copy of the table."""
    import psycopg

    keyed = copy_file.with_suffix(".keyed.txt")
    with psycopg.connect(db_url) as conn:
        pks = dict(conn.execute("SELECT account_id, id FROM detection_account").fetchall())
        with copy_file.open(encoding="utf-8") as src, keyed.open("w", encoding="utf-8") as dst:
            for line in src:
                exchange_id, account_id, rest = line.split("\t", 2)
                dst.write(f"{exchange_id}\t{pks[account_id]}\t{rest}")
        conn.execute("DROP TABLE IF EXISTS bench_indexed_copy")
        conn.execute("CREATE TABLE bench_indexed_copy (LIKE detection_exchange INCLUDING ALL)")
        indexes = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'bench_indexed_copy'"
        ).fetchone()[0]
        conn.commit()
        columns = ", ".join(f.name for f in bare_fields())
        clock = CpuClock(conn.info.backend_pid)
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY bench_indexed_copy ({columns}) FROM STDIN") as copy,
            keyed.open("rb") as fh,
        ):
            while block := fh.read(1 << 20):
                copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - started
        cpu = clock.stop()
        conn.execute("DROP TABLE bench_indexed_copy")
        conn.commit()
    keyed.unlink()
    print(f"  (a copy of detection_exchange with its {indexes} indexes)")
    return seconds, cpu


def backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a PostgreSQL backend on this machine has used, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuClock:
    """CPU seconds of this process (all threads, and its worker processes once they have
    ended) and of one backend, from start to stop."""

    def __init__(self, backend_pid: int):
        self.pid = backend_pid
        self.ours = os.times()
        self.backend = backend_cpu(backend_pid)

    def stop(self) -> str:
        now = os.times()
        ours = now.user - self.ours.user + now.system - self.ours.system
        workers = (
            now.children_user
            - self.ours.children_user
            + now.children_system
            - self.ours.children_system
        )
        ours = f"{ours:.2f} s + workers {workers:.2f}" if workers >= 0.01 else f"{ours:.2f}"
        backend = backend_cpu(self.pid)
        if backend is None or self.backend is None:
            return f"CPU: ours {ours} s, backend not on this machine"
        return f"CPU: ours {ours} s, backend {backend - self.backend:.2f} s"


def checkpoint(db_url: str) -> None:
    """Write out what earlier steps left dirty, so each timed step starts from the same state
    (a checkpoint falling inside one step's window would bill it for another's writes)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def timed_ingest(path: Path, kind: str, loader: str, db_url: str, **options):
    from django.db import connection

    from detection.ingest import Source, ingest_source, report_for

    source = Source(path, kind)
    report = report_for(source)
    checkpoint(db_url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        clock = CpuClock(cursor.fetchone()[0])
    started = time.perf_counter()
    ingest_source(source, report=report, method=loader, **options)
    seconds = time.perf_counter() - started
    return seconds, report, clock.stop()


class Phases:
    """Wall seconds spent inside some of the ingest's functions, by name (``--phases``)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def wrap(self, owner, attribute: str, name: str) -> None:
        inner = getattr(owner, attribute)
        seconds = self.seconds

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started

        setattr(owner, attribute, timed)

    def install(self) -> None:
        from detection.ingest import loaders, service

        self.wrap(loaders.CopyLoader, "begin_bulk", "bulk start (lock, drop indexes)")
        self.wrap(loaders.CopyLoader, "load_payload", "write batches (workers' COPY data)")
        self.wrap(loaders.CopyLoader, "load_exchanges", "write batches (rows)")
        self.wrap(loaders.CopyLoader, "_delete_repeated_ids", "find and remove repeated ids")
        self.wrap(loaders.CopyLoader, "finish_bulk", "finish bulk (ids, index builds)")
        self.wrap(service, "_commit", "commit batches (writes, reports)")

    # The steps that do not nest in one another; the rest of the time is spent waiting for
    # the next batch (the parse) and setting up.
    TOP = (
        "bulk start (lock, drop indexes)",
        "commit batches (writes, reports)",
        "finish bulk (ids, index builds)",
    )

    def report(self, total: float) -> str:
        parts = [f"{name} {value:.2f} s" for name, value in self.seconds.items()]
        rest = total - sum(self.seconds.get(name, 0.0) for name in self.TOP)
        parts.append(f"the rest (waiting for the parse, setup) {rest:.2f} s")
        self.seconds.clear()
        return f"  phases of {total:.2f} s: " + "; ".join(parts)


def truncate_exchanges() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE detection_exchange")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exchanges", type=int, default=500_000, help="rows when writing own data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="generate_traffic --scale")
    parser.add_argument("--loader", choices=("copy", "portable"), default="copy")
    parser.add_argument("--own-data", action="store_true", help="skip generate_traffic")
    parser.add_argument("--from-models", action="store_true", help="schema from the models")
    parser.add_argument("--workers", type=int, help="parse processes (default INGEST_WORKERS)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ours and bare COPY")
    parser.add_argument(
        "--reuse-data", action="store_true", help="keep the data set of the last run if present"
    )
    parser.add_argument("--data", type=Path, help="take accounts and exchanges files from DIR")
    parser.add_argument("--phases", action="store_true", help="time the ingest's steps")
    args = parser.parse_args()

    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    setup_django(db_url, args.from_models)
    from django.core.management import get_commands

    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / ("generated" if not args.own_data else "own")
    if args.data:
        data = args.data
        origin = f"the data set in {data}"
    elif args.reuse_data and (data / "exchanges.jsonl.gz").exists():
        origin = f"the data set of the last run, in {data}"
    elif not args.own_data and "generate_traffic" in get_commands():
        from django.core.management import call_command

        if data.exists():
            for old in data.glob("*"):
                old.unlink()
        call_command(
            "generate_traffic", str(data), "--seed", str(args.seed), "--scale", str(args.scale)
        )
        origin = f"generate_traffic --seed {args.seed} --scale {args.scale}"
    else:
        data = OUT / "own"
        write_own_data(data, args.exchanges, args.seed)
        origin = f"bench/ingest.py's own rows, seed {args.seed}"
    accounts, exchanges = data / "accounts.jsonl.gz", data / "exchanges.jsonl.gz"

    copy_file = OUT / "bare-copy.txt"
    rows = prepare_bare(exchanges, copy_file)
    print(f"data: {origin}: {rows:,} exchanges, {exchanges.stat().st_size / 1e6:.1f} MB gzipped")

    def line(label, seconds, report, cpu):
        print(
            f"{label}: {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s "
            f"({report.loaded:,} loaded, {report.duplicates:,} duplicates, "
            f"{report.placeholders:,} placeholders, {report.rejected:,} rejected"
            f"{', bulk path' if getattr(report, 'bulk', False) else ''}); {cpu}",
            flush=True,
        )

    options = {"workers": args.workers}
    phases = Phases() if args.phases else None
    account_seconds, account_report, _ = timed_ingest(accounts, "accounts", args.loader, db_url)
    print(f"accounts: {account_report.loaded:,} loaded in {account_seconds:.2f} s")
    if phases:
        phases.install()
    # Rounds of (our ingest into the empty table, the bare COPY) so that both meet the same
    # moments of a shared machine; the bare COPY alone has swung from 1.5 s to 2.6 s here.
    ours_runs, bare_runs = [], []
    for round_ in range(1, args.rounds + 1):
        truncate_exchanges()
        seconds, report, cpu = timed_ingest(exchanges, "exchanges", args.loader, db_url, **options)
        assert report.loaded + report.duplicates + report.rejected == rows, "rows unaccounted"
        line(
            f"round {round_}: our ingest ({args.loader}) into the empty table", seconds, report, cpu
        )
        if phases:
            print(phases.report(seconds), flush=True)
        checkpoint(db_url)
        bare_seconds, cpu = bare_copy(db_url, copy_file)
        print(
            f"round {round_}: bare COPY into an unindexed table: {bare_seconds:.2f} s = "
            f"{rows / bare_seconds:,.0f} rows/s; {cpu}",
            flush=True,
        )
        ours_runs.append(seconds)
        bare_runs.append(bare_seconds)
    again, second, cpu = timed_ingest(exchanges, "exchanges", args.loader, db_url, **options)
    line("re-ingest (no-op)", again, second, cpu)
    if phases:
        print(phases.report(again), flush=True)
    truncate_exchanges()
    daily, third, cpu = timed_ingest(
        exchanges, "exchanges", args.loader, db_url, bulk="off", **options
    )
    assert third.loaded == report.loaded, "the live-index path loaded something else"
    line("the same file with --bulk off (indexes kept up to date row by row)", daily, third, cpu)
    if phases:
        print(phases.report(daily), flush=True)
    checkpoint(db_url)
    indexed_seconds, cpu = indexed_copy(db_url, copy_file)
    print(
        f"bare COPY into the indexed table (ceiling): {indexed_seconds:.2f} s = "
        f"{rows / indexed_seconds:,.0f} rows/s; {cpu}"
    )
    ours, bare = statistics.median(ours_runs), statistics.median(bare_runs)
    rounds = ", ".join(f"{b / o:.2f}" for o, b in zip(ours_runs, bare_runs, strict=True))
    print(f"ratio ours / bare COPY, each round: {rounds} (target >= 0.33)")
    print(f"ratio of the medians: {bare / ours:.2f} (ours {ours:.2f} s, bare COPY {bare:.2f} s)")
    print(f"ratio ours (median) / the fastest bare COPY: {min(bare_runs) / ours:.2f}")
    print(f"ratio ours (--bulk off) / bare COPY (median): {bare / daily:.2f}")
    print(f"ratio ours (--bulk off) / COPY into the indexed table: {indexed_seconds / daily:.2f}")
    copy_file.unlink()


if __name__ == "__main__":
    main()
