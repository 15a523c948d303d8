"""Shared by the detection benches: a scratch database, data sets, labels."""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_database(name: str, *, migrate: bool = False, sqlite: bool = False) -> str:
    """A fresh database built straight from the models (quicker), or by the migrations, as
    an installation's is (on PostgreSQL: exchanges partitioned by month, ``exchange_id``
    compared byte by byte); returns its URL. With ``sqlite``, the embedded default instead:
    a SQLite file ``var/bench/<name>.sqlite3``, migrated as a new user's would be."""
    if sqlite:
        path = ROOT / "var" / "bench" / f"{name}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            old.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
        os.environ.setdefault("DEBUG", "true")
        os.environ["CELERY_BROKER_URL"] = ""
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return url
    import psycopg

    with psycopg.connect("postgres://localhost/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://localhost/{name}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ["CELERY_BROKER_URL"] = ""  # the embedded default: tasks in-process
    import django

    django.setup()
    from django.apps import apps
    from django.core.management import call_command
    from django.db import connection

    if migrate:
        call_command("migrate", verbosity=0)
        return url
    with connection.schema_editor() as editor:
        for model in apps.get_models():
            if model._meta.managed and not model._meta.proxy:
                editor.create_model(model)
    return url


def truncate_all() -> None:
    from django.apps import apps
    from django.db import connection

    tables = [m._meta.db_table for m in apps.get_models() if m._meta.managed]
    if connection.vendor == "sqlite":
        # The audit log refuses deletes (a trigger), as it should: start from a new file.
        from django.core.management import call_command

        path = Path(connection.settings_dict["NAME"])
        connection.close()
        for old in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            old.unlink(missing_ok=True)
        call_command("migrate", verbosity=0)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )


def have_generator() -> bool:
    return (ROOT / "detection/management/commands/generate_traffic.py").exists() and (
        ROOT / "detection/management/commands/ingest.py"
    ).exists()


def load_generated(
    out_dir: Path, seed: int, scale: float, *, vary: bool = False
) -> dict[str, dict]:
    """generate_traffic (``--vary`` with ``vary``) -> ingest; returns labels by account_id."""
    from django.core.management import call_command

    extra = ["--vary"] if vary else []
    call_command(
        "generate_traffic", str(out_dir), "--seed", str(seed), "--scale", str(scale), *extra
    )
    call_command("ingest", str(out_dir))
    labels = {}
    with (out_dir / "labels.jsonl").open() as fh:
        for line in fh:
            row = json.loads(line)
            labels[row["account_id"]] = row
    return labels


def load_heldout(out_dir: Path, seed: int, accounts: int, end: str) -> None:
    """bench/heldout's generator -> ingest. Its labels are not read: timing only."""
    import subprocess

    from django.core.management import call_command

    subprocess.run(
        [sys.executable, "-m", "bench.heldout.generate", str(out_dir), "--seed", str(seed),
         "--accounts", str(accounts), "--end", end],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    (out_dir / "truth.jsonl").unlink()
    call_command("ingest", str(out_dir))


def load_cohorts(seed: int, fleets: int = 4, scale: int = 1) -> dict[str, dict]:
    """The hand-made cohorts of tests/detection/cohorts.py, several fleets, written directly."""
    import random

    from tests.detection.cohorts import Cohort

    rng = random.Random(seed)
    cohort = Cohort(seed=seed)
    for k in range(fleets * scale):
        cohort.fleet(n=rng.randint(8, 40), per_account=rng.randint(60, 150), name=f"fleet{k}")
    for _ in range(scale):
        cohort.organisation(rng.randint(5, 20))
        cohort.campus(rng.randint(30, 120))
        cohort.benchmark_runner()
        cohort.coding_agent()
        cohort.vpn_users(rng.randint(5, 20))
        cohort.small_team()
        cohort.ordinary(rng.randint(200, 400))
    cohort.save()
    return {
        a: {
            "account_id": a,
            "cohort": label,
            "campaign": label if label.startswith("fleet") else None,
            "malicious": label.startswith("fleet"),
        }
        for a, label in cohort.labels.items()
    }


def read_export(path: Path) -> dict[str, dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return {row["account_id"]: row for row in map(json.loads, fh)}


def coaction_timing(baseline: str | None = None, baseline_cap: int = 60, repeat: int = 3) -> str:
    """The co-action stage alone on the latest run's stored chunks: its inputs, the pairs it
    compares and keeps, and its best time of ``repeat`` (CPU of all threads, and wall); with
    ``baseline`` (a git revision), that revision's ``detection/coaction.py`` on the same
    inputs with ``baseline_cap`` too, as "before"."""
    import importlib.util
    import subprocess
    import tempfile
    import time

    import polars as pl

    from detection import coaction
    from detection.clustering import relatedness_groups
    from detection.config import DetectionParams
    from detection.models import Account, DetectionRun
    from detection.services import _unpack

    run = DetectionRun.objects.latest()
    params = DetectionParams.from_stored(run.config.params)
    payloads = run.chunks.exclude(payload=None).values_list("payload", flat=True)
    chunks = [_unpack(bytes(p)) for p in payloads]
    features = pl.concat([c.features for c in chunks])
    cells = pl.concat([c.links for c in chunks]).filter(pl.col("kind") == "coaction")
    accounts = pl.DataFrame(
        list(Account.objects.values_list("pk", "org_id", "email_domain")),
        schema={"account": pl.Int64, "org_id": pl.Utf8, "email_domain": pl.Utf8},
        orient="row",
    ).join(features.select("account"), on="account")
    groups = relatedness_groups(accounts, params.free_mail_domains)
    exits = features.select("account", "exit_sig")
    span = (run.window_end - run.window_start).total_seconds()
    kwargs = {
        "window_buckets": int(span // (60 * params.coaction_minutes)),
        "bucket_minutes": params.coaction_minutes,
        "cell_cap": params.coaction_cell_cap,
        "min_days": params.coaction_min_days,
        "min_lift": params.coaction_min_lift,
        "min_exit_overlap": params.coaction_min_exit_overlap,
    }

    def best(module) -> tuple[float, float, int]:
        times = []
        for _ in range(repeat):
            cpu, wall = time.process_time(), time.perf_counter()
            pairs = module.coaction_pairs(cells, groups, exits, **kwargs)
            times.append((time.process_time() - cpu, time.perf_counter() - wall))
        return min(t[0] for t in times), min(t[1] for t in times), pairs.height

    sizes = cells.group_by("key", "item").len()["len"]
    cpu, wall, kept = best(coaction)
    compared = coaction.compared_pairs(cells, groups, cell_cap=params.coaction_cell_cap)
    out = (
        f"co-action: {cells.height:,} cell rows in {len(sizes):,} cells (largest {sizes.max()} "
        f"accounts); cap {params.coaction_cell_cap}: {compared.height:,} pairs compared "
        f"({int(compared['rows'].sum()):,} cell rows read to count them), {kept:,} kept, "
        f"{cpu:.2f} s CPU, {wall:.2f} s wall (best of {repeat})"
    )
    if baseline:
        source = subprocess.run(
            ["git", "show", f"{baseline}:detection/coaction.py"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        with tempfile.NamedTemporaryFile("w", suffix=".py") as fh:
            fh.write(source)
            fh.flush()
            spec = importlib.util.spec_from_file_location("coaction_baseline", fh.name)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        kwargs["cell_cap"] = baseline_cap
        cpu, wall, kept = best(module)
        out += (
            f"; at {baseline} (cap {baseline_cap}): {kept:,} kept, {cpu:.2f} s CPU, "
            f"{wall:.2f} s wall"
        )
    return out
