"""Ingest throughput beside a bare COPY of the same rows on the same server.

    .venv/bin/python bench/ingest.py [--exchanges 500000] [--seed 7] [--scale 1.0]
                                     [--loader copy|portable] [--from-models]

1. Drops and recreates a scratch PostgreSQL database, ``console_bench_ingest`` (override
   with ``BENCH_DATABASE_URL``), and migrates it (``--from-models`` builds the schema straight
   from the models instead, for a tree whose migrations are not written yet).
2. Data: ``generate_traffic OUT --seed N --scale X`` when that command exists, else rows
   written here in the ingest format (``--own-data`` forces this): accounts.jsonl.gz and
   exchanges.jsonl.gz under var/bench-ingest/.
3. Times our ingest of the accounts and then the exchanges file, end to end: gunzip, parse,
   validate, fingerprint prompts, COPY into staging, placeholders, insert into the indexed
   ``detection_exchange``, reports.
4. Times a bare ``COPY ... FROM STDIN`` of the same exchange rows (preformatted COPY text,
   prepared before the clock starts) into an unindexed, constraint-free table on the same
   server: the ceiling for getting these rows into PostgreSQL at all.
5. Times the same preformatted rows (account ids resolved to keys) COPYed into a copy of
   ``detection_exchange`` with all its indexes (``LIKE ... INCLUDING ALL``): the ceiling for
   any ingest into this schema, which says how much of the gap is the indexes and how much
   is our code.
6. Prints rows/s for each and the ratios (the issue's target: ours >= 1/3 of the bare COPY),
   and times a second ingest of the same file (a no-op: every row a duplicate).
7. Beside each wall time, the CPU seconds our process and the PostgreSQL backend used (the
   backend's from /proc, so only when the server runs on this machine): on a shared machine
   the wall times swing with the neighbours' load, the CPU split much less.

Nothing here asserts a time; the figures go in docs/benchmarks.md ("Ingest").
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
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


BARE_COLUMNS = (
    "exchange_id text, account_id text, ts timestamptz, ip inet, asn bigint, user_agent text, "
    "model text, prompt text, input_tokens bigint, output_tokens bigint, tool_use boolean"
)
FIELDS = (
    "exchange_id",
    "account_id",
    "ts",
    "ip",
    "asn",
    "user_agent",
    "model",
    "prompt",
    "input_tokens",
    "output_tokens",
    "tool_use",
)


def prepare_bare(exchanges: Path, out: Path) -> int:
    """The exchange rows as COPY text, written before timing starts; returns the row count."""
    rows = 0
    with gzip.open(exchanges, "rb") as src, out.open("w", encoding="utf-8") as dst:
        for line in src:
            record = orjson.loads(line)
            dst.write("\t".join(copy_text(record.get(f)) for f in FIELDS) + "\n")
            rows += 1
    return rows


def bare_copy(db_url: str, copy_file: Path) -> float:
    import psycopg

    with psycopg.connect(db_url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare_copy")
        conn.execute(f"CREATE TABLE bench_bare_copy ({BARE_COLUMNS})")
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
        columns = ", ".join(FIELDS)
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
    """CPU seconds of this process (all threads) and of one backend, from start to stop."""

    def __init__(self, backend_pid: int):
        self.pid = backend_pid
        self.ours = os.times()
        self.backend = backend_cpu(backend_pid)

    def stop(self) -> str:
        now = os.times()
        ours = now.user - self.ours.user + now.system - self.ours.system
        backend = backend_cpu(self.pid)
        if backend is None or self.backend is None:
            return f"CPU: ours {ours:.2f} s, backend not on this machine"
        return f"CPU: ours {ours:.2f} s, backend {backend - self.backend:.2f} s"


def timed_ingest(path: Path, kind: str, loader: str):
    from django.db import connection

    from detection.ingest import Source, ingest_source, report_for

    source = Source(path, kind)
    report = report_for(source)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        clock = CpuClock(cursor.fetchone()[0])
    started = time.perf_counter()
    ingest_source(source, report=report, method=loader)
    seconds = time.perf_counter() - started
    return seconds, report, clock.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exchanges", type=int, default=500_000, help="rows when writing own data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="generate_traffic --scale")
    parser.add_argument("--loader", choices=("copy", "portable"), default="copy")
    parser.add_argument("--own-data", action="store_true", help="skip generate_traffic")
    parser.add_argument("--from-models", action="store_true", help="schema from the models")
    args = parser.parse_args()

    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    setup_django(db_url, args.from_models)
    from django.core.management import get_commands

    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / ("generated" if not args.own_data else "own")
    if not args.own_data and "generate_traffic" in get_commands():
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

    account_seconds, account_report, _ = timed_ingest(accounts, "accounts", args.loader)
    print(f"accounts: {account_report.loaded:,} loaded in {account_seconds:.2f} s")
    seconds, report, cpu = timed_ingest(exchanges, "exchanges", args.loader)
    assert report.loaded + report.duplicates + report.rejected == rows, "rows unaccounted for"
    ours = rows / seconds
    print(
        f"our ingest ({args.loader}): {rows:,} rows in {seconds:.2f} s = {ours:,.0f} rows/s "
        f"({report.loaded:,} loaded, {report.duplicates:,} duplicates, "
        f"{report.placeholders:,} placeholders, {report.rejected:,} rejected); {cpu}"
    )
    again, second, cpu = timed_ingest(exchanges, "exchanges", args.loader)
    print(
        f"re-ingest (no-op): {again:.2f} s = {rows / again:,.0f} rows/s "
        f"({second.loaded:,} loaded, {second.duplicates:,} duplicates); {cpu}"
    )
    bare_seconds, cpu = bare_copy(db_url, copy_file)
    bare = rows / bare_seconds
    print(f"bare COPY into an unindexed table: {bare_seconds:.2f} s = {bare:,.0f} rows/s; {cpu}")
    indexed_seconds, cpu = indexed_copy(db_url, copy_file)
    indexed = rows / indexed_seconds
    print(
        f"bare COPY into the indexed table (ceiling): {indexed_seconds:.2f} s = "
        f"{indexed:,.0f} rows/s; {cpu}"
    )
    print(f"ratio ours / bare COPY: {ours / bare:.2f} (target >= 0.33)")
    print(f"ratio ours / COPY into the indexed table: {ours / indexed:.2f}")
    copy_file.unlink()


if __name__ == "__main__":
    main()
