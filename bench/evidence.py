"""Evidence snapshot and chart cost for campaigns of 50, 500 and 3,000 accounts.

Builds a scratch PostgreSQL database (default ``console_bench_evidence``, dropped and
recreated), loads background traffic plus three synthetic campaigns with COPY, then for each
campaign runs the real snapshot service (every section, every chart) and prints the time
spent collecting, the time spent drawing, and the size of the cached figure JSON.

    .venv/bin/python bench/evidence.py [--db console_bench_evidence] [--per-account 200]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SIZES = (50, 500, 3000)
START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 14


def setup_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgres://localhost/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"postgres://localhost/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ["CELERY_BROKER_URL"] = ""  # nothing is enqueued; the service is called directly
    import django

    django.setup()
    from django.apps import apps
    from django.db import connection

    # The schema straight from the models (no migrations: the bench measures queries).
    with connection.schema_editor() as editor:
        for model in apps.get_models():
            if model._meta.managed and not model._meta.proxy:
                editor.create_model(model)


def load(per_account: int, background_accounts: int) -> dict[int, list[int]]:
    """Background customers plus one campaign per size; returns case pk → account pks."""
    from django.db import connection

    from cases.models import Case, CaseAccount
    from detection.models import Account, AccountScore, Campaign, DetectionConfig, DetectionRun
    from detection.text import prompt_fingerprint

    rng = random.Random(5)
    config = DetectionConfig.objects.create(version=1, params={"hosting_asns": [14061, 16509]})
    run = DetectionRun.objects.create(
        config=config,
        status="succeeded",
        window_start=START,
        window_end=START + timedelta(days=DAYS),
    )
    accounts = []
    for i in range(background_accounts):
        accounts.append(
            Account(
                account_id=f"cust-{i}",
                created_at=START - timedelta(days=rng.randint(30, 700)),
                payment_fingerprint=f"card-{i // 3}",
                org_id=f"org-{i // 20}" if i % 4 == 0 else "",
                email_domain=f"company{i % 900}.example",
                plan=rng.choice(["free", "pro", "team", "api"]),
            )
        )
    fleets = {}
    for size in SIZES:
        fleet = []
        for i in range(size):
            fleet.append(
                Account(
                    account_id=f"fleet{size}-{i:05d}",
                    created_at=START - timedelta(days=5, minutes=i // 4),
                    payment_fingerprint=f"fleetcard-{size}-{i % 7}",
                    email_domain="mailbox.example",
                    plan="free" if i % 5 else "pro",
                )
            )
        fleets[size] = fleet
        accounts += fleet
    Account.objects.bulk_create(accounts, batch_size=5000)
    pks = dict(Account.objects.values_list("account_id", "pk"))

    templates = [
        f"Solve step by step, show every step of reasoning. Problem {{n}} ({t})" for t in range(40)
    ]
    rows_total = 0
    with connection.cursor() as cursor:
        copy_sql = (
            "COPY detection_exchange (exchange_id, account_id, ts, ip, asn, user_agent, model,"
            " prompt, prompt_hash, input_tokens, output_tokens, tool_use) FROM STDIN"
        )
        with cursor.copy(copy_sql) as copy:
            n = 0
            for i in range(background_accounts):
                pk = pks[f"cust-{i}"]
                for _ in range(per_account // 2):
                    ts = START + timedelta(seconds=rng.randint(0, DAYS * 86400 - 1))
                    prompt = f"help me with my {rng.choice(['email', 'essay', 'code'])} {n}"
                    copy.write_row(
                        (f"b{n}", pk, ts, f"198.51.{i % 200}.{i % 250}", 7922, "Mozilla/5.0",
                         "model-large-2", prompt, prompt_fingerprint(prompt), 80, 300, False)
                    )  # fmt: skip
                    n += 1
            for fleet in fleets.values():
                for j, account in enumerate(fleet):
                    pk = pks[account.account_id]
                    shift = 2 + (j % 3) * 8  # three synchronised shifts
                    for k in range(per_account):
                        day = k * DAYS // per_account
                        ts = START + timedelta(days=day, hours=shift + rng.random() * 7)
                        model = "model-large-2" if day < DAYS // 2 else "model-large-3"
                        prompt = templates[(j + k) % 40].replace("{n}", str(n))
                        copy.write_row(
                            (f"f{n}", pk, ts, f"203.0.{(j * 7 + k) % 250}.{k % 250}",
                             14061 if k % 2 else 16509, f"bot/1.{j % 4}", model, prompt,
                             prompt_fingerprint(prompt), 40, 1200, k % 5 == 0)
                        )  # fmt: skip
                        n += 1
            rows_total = n
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    cases = {}
    for size, fleet in fleets.items():
        campaign = Campaign.objects.create(
            label=f"Fleet of {size}", member_count=size, last_run=run
        )
        case = Case.objects.create(
            title=f"Fleet of {size}", subject_key=f"campaign:{campaign.pk}", campaign=campaign,
            last_run=run, account_count=size,
        )  # fmt: skip
        CaseAccount.objects.bulk_create(
            CaseAccount(case=case, account_id=pks[a.account_id]) for a in fleet
        )
        AccountScore.objects.bulk_create(
            AccountScore(
                run=run,
                account_id=pks[a.account_id],
                campaign=campaign,
                risk_score=0.7 + rng.random() * 0.3,
                flagged=True,
                signals=[
                    {
                        "name": "reasoning_elicitation",
                        "value": 0.9,
                        "threshold": 0.25,
                        "norm": 0.03,
                        "contribution": 0.4,
                        "reason": "90% ask for reasoning",
                    },
                    {
                        "name": "coding_share",
                        "value": 0.4,
                        "threshold": 0.3,
                        "norm": 0.12,
                        "contribution": 0.1,
                        "reason": "40% coding",
                    },
                ],
            )
            for a in fleet
        )
        cases[size] = case.pk
    print(f"loaded {len(accounts):,} accounts and {rows_total:,} exchanges")
    return cases


def measure(cases: dict[int, int]) -> None:
    from unittest import mock

    import cases.evidence.services as service
    from cases.models import Case, EvidenceSnapshot

    print(f"{'accounts':>8} {'collect s':>10} {'charts s':>9} {'total s':>8} {'figures':>10}")
    for size, case_pk in cases.items():
        case = Case.objects.get(pk=case_pk)
        snapshot = EvidenceSnapshot.objects.create(case=case, reason="bench")
        timing = {"charts": 0.0}
        real_build = service.build_figures

        def timed_build(sections, _real=real_build, _t=timing):
            t0 = time.perf_counter()
            out = _real(sections)
            _t["charts"] = time.perf_counter() - t0
            return out

        t0 = time.perf_counter()
        with mock.patch.object(service, "build_figures", timed_build):
            status = service.evidence_snapshot_collect(snapshot.pk)
        total = time.perf_counter() - t0
        snapshot.refresh_from_db()
        assert status == "done", snapshot.error
        kb = snapshot.figures_bytes / 1024
        print(
            f"{size:>8} {total - timing['charts']:>10.2f} {timing['charts']:>9.2f} "
            f"{total:>8.2f} {kb:>8.0f} kB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="console_bench_evidence")
    parser.add_argument("--per-account", type=int, default=200, help="exchanges per fleet account")
    parser.add_argument("--background", type=int, default=5000, help="background accounts")
    args = parser.parse_args()
    setup_database(args.db)
    t0 = time.perf_counter()
    cases = load(args.per_account, args.background)
    print(f"load took {time.perf_counter() - t0:.1f} s")
    measure(cases)


if __name__ == "__main__":
    main()
