"""Server time of the analyst's pages at scale: the queue and the case page.

    .venv/bin/python bench/pages.py [--cases 100000] [--exchanges 3000000] [--runs 300] [--rebuild]

Builds (once) a scratch PostgreSQL database, ``console_bench_pages`` by default (override with
``BENCH_DATABASE_URL``), with the schema made by the project's migrations (so it has the
indexes production has, the PostgreSQL-only ones included) and the rows made by
``INSERT ... SELECT generate_series`` on the server: 100,000 cases, 200,000 accounts, three
million exchanges, scores, notes and audit history. Then it requests the pages through
Django's test client (middleware, views, templates: everything but the network) with
production settings (``DEBUG`` off, the cached template loader), in rounds of one request
per page so that every page meets the same load as the others, and prints p50 and p95 server
time and the number of SQL queries per page, and whether the p95 is inside the pages' budget
(``BUDGET_MS``). Nothing here asserts a time; the figures go in docs/benchmarks.md.
"""

import argparse
import html
import os
import re
import statistics
import subprocess
import sys
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://localhost/console_bench_pages"
# The analyst's pages' budget: p95 server time at 100,000 cases and 10 million exchanges.
BUDGET_MS = 100


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    # Production settings whatever the shell or a development .env says: DEBUG on records
    # every query and renders error pages differently, so it would measure another app.
    os.environ["DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    from django.conf import settings

    settings.LOGGING = {"version": 1, "disable_existing_loggers": False}
    # WhiteNoise warns once per client that STATIC_ROOT (collectstatic's output) is missing.
    warnings.filterwarnings("ignore", message="No directory at")
    # No collectstatic for a scratch run: plain static storage (URL lookup costs the same).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    import django

    django.setup()


def ensure_database(db_url: str) -> None:
    name = db_url.rsplit("/", 1)[1]
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "localhost",
            "-Atc",
            f"select 1 from pg_database where datname='{name}'",
            "postgres",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run(["createdb", "-h", "localhost", name], check=True)


def timed(label: str, sql: str, cursor, params=None) -> None:
    start = time.perf_counter()
    cursor.execute(sql, params)
    print(f"  {label:<28} {time.perf_counter() - start:6.1f} s", flush=True)


def build(cases: int, exchanges: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from dashboard.roles import ANALYST, ensure_roles
    from detection.models import DetectionConfig, DetectionRun

    print("building the scratch database", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    ensure_roles()
    # The rows below are written in SQL naming only the columns the pages read; give every
    # other NOT NULL column its model default in the database, so a field someone adds to a
    # model does not break the build.
    from django.apps import apps

    with connection.cursor() as cursor:
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if field.null or field.primary_key or not field.has_default():
                    continue
                value = field.get_db_prep_save(field.get_default(), connection)
                cursor.execute(
                    f'ALTER TABLE "{model._meta.db_table}" ALTER COLUMN "{field.column}" '
                    "SET DEFAULT %s",
                    [value],
                )
    User = get_user_model()
    from django.contrib.auth.models import Group

    analysts = []
    for i in range(10):
        user = User.objects.create_user(f"analyst{i}", password=None)  # force_login only
        user.groups.add(Group.objects.get(name=ANALYST))
        analysts.append(user.pk)
    run = DetectionRun.objects.create(
        config=DetectionConfig.objects.create(version=1), status="succeeded"
    )
    accounts = cases * 2
    lo, hi = min(analysts), max(analysts)
    signals = (
        '[{"name": "reasoning_elicitation", "value": 0.62, "threshold": 0.25, "norm": 0.03,'
        ' "contribution": 0.4, "reason": "62% of prompts ask for step-by-step reasoning"},'
        ' {"name": "sync_shifts", "value": 0.81, "threshold": 0.5, "norm": 0.1,'
        ' "contribution": 0.3, "reason": "activity starts and stops with the fleet"}]'
    )
    with connection.cursor() as cursor:
        n_campaigns = max(1, cases // 50)
        timed(
            "campaigns",
            f"""
            INSERT INTO detection_campaign (label, member_count, exchange_count, risk_score,
                is_active, created_at)
            SELECT 'campaign ' || g, 50, 10000, random(), true, now()
            FROM generate_series(1, {n_campaigns}) g""",
            cursor,
        )
        timed(
            "accounts",
            f"""
            INSERT INTO detection_account (account_id, created_at, email_domain, org_id,
                payment_fingerprint, country, plan, is_placeholder, platform_status,
                first_ingested_at)
            SELECT 'acct-' || lpad(g::text, 8, '0'), now() - (g % 400) * interval '1 day',
                'd' || (g % 5000) || '.example', 'org-' || (g % 20000), 'card-' || (g % 50000),
                'GB', (ARRAY['free','pro','team','api'])[1 + g % 4], false, 'active', now()
            FROM generate_series(1, {accounts}) g""",
            cursor,
        )
        timed(
            "cases",
            f"""
            INSERT INTO cases_case (title, kind, subject_key, status, priority, assignee_id,
                campaign_id, risk_score, account_count, exchange_count, traffic_share,
                explanation, last_run_id, resolution, resolution_reason, opened_at, due_at,
                decided_at, updated_at)
            SELECT 'Campaign case ' || g, 'campaign', 'campaign:' || g,
                (ARRAY['new','triage','investigating','pending_approval','actioned',
                       'dismissed'])[1 + g % 6],
                1 + g % 4,
                CASE WHEN g % 3 = 0 THEN NULL ELSE {lo} + g % ({hi - lo + 1}) END,
                1 + g % {n_campaigns}, random(), 2 + g % 3, 1000 + g % 100000, random() / 1000,
                '{{"summary": "fleet", "signals": {signals}}}'::jsonb, {run.pk},
                '', '', now() - (g % 90) * interval '1 day',
                now() - (g % 90) * interval '1 day' + interval '7 days',
                CASE WHEN g % 6 >= 4 THEN now() - (g % 60) * interval '1 day' END, now()
            FROM generate_series(1, {cases}) g""",
            cursor,
        )
        timed(
            "case accounts",
            f"""
            INSERT INTO cases_caseaccount (case_id, account_id, risk_score, added_at,
                added_reason, removed_reason)
            SELECT c.id, a.id, random(), now(), '', ''
            FROM cases_case c
            CROSS JOIN LATERAL generate_series(0, c.account_count - 1) k
            JOIN detection_account a ON a.id = 1 + ((c.id * 2 + k) % {accounts})
            ON CONFLICT DO NOTHING""",
            cursor,
        )
        timed(
            "account scores",
            f"""
            INSERT INTO detection_accountscore (run_id, account_id, risk_score, flagged, signals,
                exchange_count, output_tokens)
            SELECT {run.pk}, id, random(), true, '{signals}'::jsonb, 10 + id % 500, 4000
            FROM detection_account""",
            cursor,
        )
        timed(
            "notes",
            f"""
            INSERT INTO cases_note (case_id, author_id, body, created_at)
            SELECT 1 + g % {cases}, {lo}, 'Same card on many keys, residential proxy ' || g,
                now()
            FROM generate_series(1, {cases // 2}) g""",
            cursor,
        )
        timed(
            "audit events",
            f"""
            INSERT INTO cases_auditevent (at, actor_id, verb, case_id, target_type, target_id,
                data)
            SELECT now() - g * interval '1 second', {lo}, 'case.status_changed', 1 + g % {cases},
                'cases.case', (1 + g % {cases})::text, '{{"from": "new", "to": "triage"}}'::jsonb
            FROM generate_series(1, {cases * 3}) g""",
            cursor,
        )
        timed(
            "exchanges",
            f"""
            INSERT INTO detection_exchange (exchange_id, account_id, ts, ip, asn, user_agent,
                model, prompt, prompt_hash, input_tokens, output_tokens, tool_use)
            SELECT 'ex-' || g, 1 + g % {accounts}, now() - (g % 2592000) * interval '1 second',
                ('10.' || (g % 250) || '.' || (g / 250 % 250) || '.1')::inet, 64500,
                'python-requests/2.32', 'model-large-2', 'Think step by step about ' || g,
                g % 100000, 100, 400, false
            FROM generate_series(1, {exchanges}) g""",
            cursor,
        )
        # What autovacuum does soon after a bulk load in production (it may be off on a
        # development server): planner statistics, the visibility map, and the GIN indexes'
        # pending lists (rows inserted after the index was made) merged into the index.
        timed("vacuum analyze", "VACUUM ANALYZE", cursor)
    # Each case's first activity, as detection's case sync writes it when it opens a case;
    # here by the migration that backfills it (cases 0013), so its time at this size shows.
    import importlib

    backfill = importlib.import_module("cases.migrations.0013_case_first_activity_backfill")
    start = time.perf_counter()
    backfill.backfill(apps, None)
    print(f"  {'first activity (0013)':<28} {time.perf_counter() - start:6.1f} s", flush=True)
    with connection.cursor() as cursor:
        timed("vacuum analyze cases", "VACUUM ANALYZE cases_case", cursor)


def measure(runs: int) -> list[tuple[str, float, float, int]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cases.models import Case

    # The assignee of the first case, not of whichever case sorts first by a random risk:
    # the data give half the analysts no open P2 case, and "my open, P2" then scans every
    # case of theirs (a different page; see docs/benchmarks.md, "Pages").
    analyst = (
        Case.objects.exclude(assignee=None).order_by("pk").values_list("assignee", flat=True)[0]
    )
    big = Case.objects.filter(status="investigating").order_by("-risk_score").first()
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(pk=analyst))
    htmx = {"HX-Request": "true"}
    # A deep page, page 1,000 (or the last but one of a smaller queue), as the pager reaches
    # it: the previous page's Next link, which carries a cursor; and the same page typed.
    depth = max(2, min(1000, Case.objects.open().count() // 50 - 1))
    before = client.get(f"/cases/?page={depth - 1}").content.decode()
    deep = html.unescape(re.search(r'<a rel="next" href="([^"]+)"', before).group(1))
    today = date.today()
    weeks = f"start={today - timedelta(weeks=12)}&end={today}"
    pages = [
        ("queue: default", client, "/cases/", {}),
        ("queue: filter (my open, P2)", client, "/cases/?assignee=me&status=open&priority=2", {}),
        # The same analyst has no P1 case: the page reads all of theirs to find none.
        ("queue: no match (my open, P1)", client, "/cases/?assignee=me&status=open&priority=1", {}),
        ("queue: search account id", client, "/cases/?q=acct-00012345&status=any", {}),
        ("queue: sort by exchanges", client, "/cases/?sort=-exchanges", {}),
        (f"queue: page {depth} (Next link)", client, deep, {}),
        (f"queue: page {depth} (typed ?page=)", client, f"/cases/?page={depth}", {}),
        ("queue: fragment (htmx)", client, "/cases/?status=triage&sort=due", htmx),
        ("case page", client, f"/cases/{big.pk}/", {}),
        ("case: accounts section", client, f"/cases/{big.pk}/accounts/", htmx),
        ("case: why-flagged section", client, f"/cases/{big.pk}/why/", htmx),
        ("case: notes section", client, f"/cases/{big.pk}/notes/", htmx),
        ("case: timeline section", client, f"/cases/{big.pk}/timeline/", htmx),
        ("overview (last 12 weeks)", client, "/", {}),
        ("period report (last full month)", client, "/reports/", {}),
        ("period report (last 12 weeks)", client, f"/reports/?range=custom&{weeks}", {}),
    ]
    for _label, who, url, headers in pages:
        for _ in range(3):
            assert who.get(url, headers=headers).status_code == 200, url
    # Round robin: each round requests every page once, so on a shared machine every page
    # meets the same slow and quiet moments as the others.
    times = {label: [] for label, *_ in pages}
    for _ in range(runs):
        for label, who, url, headers in pages:
            start = time.perf_counter()
            who.get(url, headers=headers)
            times[label].append((time.perf_counter() - start) * 1000)
    results = []
    for label, who, url, headers in pages:
        with CaptureQueriesContext(connection) as ctx:
            who.get(url, headers=headers)
        page_times = sorted(times[label])
        p95 = page_times[min(len(page_times) - 1, round(0.95 * (len(page_times) - 1)))]
        results.append((label, statistics.median(page_times), p95, len(ctx.captured_queries)))
        print(
            f"  {label:<38} p50 {results[-1][1]:7.1f} ms  p95 {p95:7.1f} ms  "
            f"{results[-1][3]:3d} queries",
            flush=True,
        )
    return results


def print_settings() -> None:
    from django.conf import settings
    from django.template import engines

    loaders = repr(engines["django"].engine.loaders)
    print(
        f"settings: DEBUG={settings.DEBUG}, cached template loader: "
        f"{'django.template.loaders.cached.Loader' in loaders}, "
        f"cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[1]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--exchanges", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    ensure_database(db_url)
    setup_django(db_url)
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.db.utils import ProgrammingError

    from cases.models import Case
    from detection.models import Exchange

    # A migration added since the build (a model changed, an index added) means rebuild.
    executor = MigrationExecutor(connection)
    stale = bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    try:
        have = Case.objects.count()
        have_exchanges = Exchange.objects.count()
    except ProgrammingError:
        have, have_exchanges = 0, 0
    if args.rebuild or stale or have != args.cases or have_exchanges != args.exchanges:
        build(args.cases, args.exchanges)
    print_settings()

    print(
        f"\n{Case.objects.count():,} cases, {Exchange.objects.count():,} exchanges; "
        f"{args.runs} rounds of one request per page, after 3 warm-ups\n",
        flush=True,
    )
    results = measure(args.runs)
    print(f"\n| page | p50 ms | p95 ms | p95 within {BUDGET_MS} ms | queries |")
    print("| --- | ---: | ---: | :---: | ---: |")
    for label, p50, p95, queries in results:
        inside = "yes" if p95 <= BUDGET_MS else "no"
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {inside} | {queries} |")


if __name__ == "__main__":
    main()
