"""Evidence snapshot and chart cost, and the largest case's page in a browser.

Builds a scratch PostgreSQL database (default ``console_bench_evidence``, dropped and
recreated), loads background traffic plus three synthetic campaigns (``--sizes``, 50, 500
and 3,000 accounts) with COPY, then for each campaign runs the real snapshot service (every
section, every chart) and prints the time spent collecting (and in each section), the time
spent drawing, and the size of the cached figure JSON.

    .venv/bin/python bench/evidence.py [--db console_bench_evidence] [--per-account 200]

``--existing DB`` measures a database left by another bench instead (``bench/seed_scale.py``
on the reported preset) without changing its data: a fresh snapshot of each of its
``--cases`` largest cases, then, with ``--browser``, the largest case's page opened in
headless Chromium (``/usr/bin/chromium``) through a local server: the time from navigation
until every chart on the page is drawn (each chart container holds Plotly's ``.main-svg``),
best and median of ``--runs`` loads, and the server time of each section the page loads
(through Django's test client, as ``bench/pages.py`` does), with its query count.

    .venv/bin/python bench/evidence.py --existing console_bench_scale --cases 2 --browser

``--no-snapshot`` leaves the snapshots as they are (the page shows each case's latest
finished one) and measures only the pages: with ``--browser``, the sections of each of the
``--cases`` largest cases, and the largest one in Chromium.
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
CHROMIUM = "/usr/bin/chromium"
# The telemetry source's steps, timed one by one (cases.evidence.telemetry).
SECTIONS = (
    "latest_scores",
    "templates",
    "traffic",
    "heatmap",
    "infrastructure",
    "registrations",
    "account_details",
    "signals_section",
    "network",
)
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


def load(per_account: int, background_accounts: int, sizes=SIZES) -> dict[int, int]:
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
    for size in sizes:
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


def measure(cases: dict) -> None:
    """A fresh snapshot of each case through the real service; its time by step."""
    from unittest import mock

    import cases.evidence.services as service
    import cases.evidence.telemetry as telemetry
    from cases.models import Case, Evidence, EvidenceSnapshot

    try:
        import cases.evidence.aggregate as aggregate
    except ImportError:
        aggregate = None
    print(
        f"{'case':>7} {'accounts':>8} {'exchanges':>10} {'collect s':>10} {'charts s':>9} "
        f"{'total s':>8} {'figures':>10}  CPU s"
    )
    for label, case_pk in cases.items():
        case = Case.objects.get(pk=case_pk)
        snapshot = EvidenceSnapshot.objects.create(case=case, reason="bench")
        timing: dict[str, float] = {}

        def timed(name, real, _t=timing):
            def run(*args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return real(*args, **kwargs)
                finally:
                    _t[name] = _t.get(name, 0.0) + time.perf_counter() - t0

            return run

        patches = [
            mock.patch.object(service, "build_figures", timed("charts", service.build_figures))
        ]
        # Steps this tree has (the bench also times the code before the one read).
        patches += [
            mock.patch.object(telemetry, name, timed(name, getattr(telemetry, name)))
            for name in SECTIONS
            if hasattr(telemetry, name)
        ]
        grouped: dict[str, int] = {}
        if aggregate is not None:
            read = timed("one read", aggregate.CaseTraffic._fill)

            def fill(agg, _read=read, _grouped=grouped):
                _read(agg)
                _grouped.update(agg.rows("SELECT kind, count(*) FROM {t} GROUP BY kind"))

            patches.append(mock.patch.object(aggregate.CaseTraffic, "_fill", fill))
        cpu0, t0 = time.process_time(), time.perf_counter()
        for p in patches:
            p.start()
        try:
            status = service.evidence_snapshot_collect(snapshot.pk)
        finally:
            for p in patches:
                p.stop()
        total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        snapshot.refresh_from_db()
        assert status == "done", snapshot.error
        kb = snapshot.figures_bytes / 1024
        traffic = Evidence.objects.get(snapshot=snapshot, source="telemetry", kind="traffic")
        exchanges = traffic.data["totals"]["exchanges"]
        collect = total - timing["charts"]
        print(
            f"{label:>7} {case.account_count:>8,} {exchanges:>10,} {collect:>10.2f} "
            f"{timing['charts']:>9.2f} {total:>8.2f} {kb:>8.0f} kB  {cpu:5.2f}"
        )
        steps = ["one read", *SECTIONS]
        print("        " + ", ".join(f"{k} {timing.get(k, 0):.2f}" for k in steps), flush=True)
        if grouped:
            rows = ", ".join(f"{k} {n:,}" for k, n in sorted(grouped.items()))
            print(f"        grouped rows: {sum(grouped.values()):,} ({rows})", flush=True)


def largest_cases(n: int) -> dict[str, int]:
    from cases.models import Case

    rows = Case.objects.order_by("-account_count", "-exchange_count", "pk").values_list(
        "account_count", "pk"
    )[:n]
    return {f"#{pk}": pk for _, pk in rows}


def serve():
    """The app on a local port in threads (static files included), for the browser."""
    import threading

    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://localhost:{server.server_port}", server


def bench_user():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from dashboard.roles import ANALYST, ensure_roles

    ensure_roles()
    user, _ = get_user_model().objects.get_or_create(username="bench-evidence-analyst")
    user.groups.add(Group.objects.get(name=ANALYST))
    return user


def browser_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's descendants still running:
    the browser's processes (Linux /proc), which the machine's load does not inflate."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    me, total = os.getpid(), 0.0
    for pid in cpu:
        up = parent.get(pid)
        while up and up != me:
            up = parent.get(up)
        if up == me and pid != me:
            total += cpu[pid]
    return total


# True once every chart container on the page holds a drawn Plotly figure.
ALL_DRAWN = """() => {
  const boxes = document.querySelectorAll('#charts-body [data-chart]');
  return boxes.length > 0 && Array.from(boxes).every(b => b.querySelector('.main-svg'));
}"""


def browser(case_pk: int, runs: int) -> None:
    """Open the case page in headless Chromium ``runs`` times; time until every chart is
    drawn, from the start of navigation."""
    import statistics

    from django.conf import settings
    from django.test import Client
    from playwright.sync_api import sync_playwright

    user = bench_user()
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    url, server = serve()
    drawn, loaded, busy, script, used, charts = [], [], [], [], [], 0
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            context = chromium.new_context(viewport={"width": 1400, "height": 1000})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}]
            )
            for _ in range(runs):
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Performance.enable")
                cpu0 = browser_cpu()
                page.goto(f"{url}/cases/{case_pk}/", wait_until="commit")
                page.wait_for_function(ALL_DRAWN, timeout=120_000, polling=20)
                drawn.append(page.evaluate("() => performance.now()"))
                used.append((browser_cpu() - cpu0) * 1000)
                # The renderer's main thread busy (tasks) and running script, in seconds:
                # what a page costs the browser, which the machine's load inflates less.
                metrics = {
                    m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]
                }
                busy.append(metrics["TaskDuration"] * 1000)
                script.append(metrics["ScriptDuration"] * 1000)
                loaded.append(
                    page.evaluate(
                        "() => performance.getEntriesByType('navigation')[0]"
                        ".domContentLoadedEventEnd"
                    )
                )
                charts = page.evaluate(
                    "() => document.querySelectorAll('#charts-body [data-chart]').length"
                )
                page.close()
            chromium.close()
    finally:
        server.shutdown()
    print(
        f"browser: case {case_pk}, {charts} charts drawn after {min(drawn):.0f} ms best, "
        f"{statistics.median(drawn):.0f} ms median of {runs} loads (the page's own HTML "
        f"ready after {statistics.median(loaded):.0f} ms median); every load, the first with "
        f"an empty cache: {', '.join(f'{t:.0f}' for t in drawn)} ms; the renderer's main "
        f"thread busy {statistics.median(busy):.0f} ms median (running script "
        f"{statistics.median(script):.0f} ms); the browser's CPU (user + system, all its "
        f"processes) {statistics.median(used):.0f} ms median",
        flush=True,
    )


def sections(case_pk: int, runs: int) -> None:
    """Server time and queries of the case page and each section it loads."""
    import statistics

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cases.models import Case

    client = Client()
    client.force_login(bench_user())
    htmx = {"HX-Request": "true"}
    base = f"/cases/{case_pk}"
    case = Case.objects.get(pk=case_pk)
    print(
        f"sections: case {case_pk}, {case.account_count:,} accounts, "
        f"{case.exchange_count:,} exchanges; CPU is this process's",
        flush=True,
    )
    urls = [
        ("case page", f"{base}/", {}),
        ("summary", f"{base}/summary/", htmx),
        ("why flagged", f"{base}/why/", htmx),
        ("accounts", f"{base}/accounts/", htmx),
        ("evidence", f"{base}/evidence/", htmx),
        ("charts", f"{base}/evidence/charts/", htmx),
        ("watch list", f"{base}/watch-list/", htmx),
        ("enforcement", f"{base}/enforcement/", htmx),
        ("notes", f"{base}/notes/", htmx),
        ("timeline", f"{base}/timeline/", htmx),
    ]
    for label, url, headers in urls:
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            print(f"  {label:<12} {url}: HTTP {response.status_code} (skipped)")
            continue
        times, cpu = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            client.get(url, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, headers=headers)
        print(
            f"  {label:<12} median {statistics.median(times):7.1f} ms  max {max(times):7.1f} ms"
            f"  CPU {statistics.median(cpu):7.1f} ms"
            f"  {len(ctx.captured_queries):3d} queries  {len(response.content) / 1024:7.0f} kB",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="console_bench_evidence")
    parser.add_argument("--per-account", type=int, default=200, help="exchanges per fleet account")
    parser.add_argument("--background", type=int, default=5000, help="background accounts")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="campaign sizes (accounts)"
    )
    parser.add_argument("--existing", metavar="DB", help="measure this database as it is")
    parser.add_argument("--cases", type=int, default=1, help="with --existing: largest N cases")
    parser.add_argument("--browser", action="store_true", help="open the largest case's page")
    parser.add_argument("--runs", type=int, default=5, help="page loads and section requests")
    parser.add_argument(
        "--no-snapshot", action="store_true", help="with --existing: measure the pages only"
    )
    parser.add_argument(
        "--browser-case", type=int, help="with --browser: open this case (default the largest)"
    )
    args = parser.parse_args()
    if args.existing:
        # Production settings (DEBUG off, cached templates) for the page, as bench/pages.py.
        os.environ["SECURE_COOKIES"] = "false"
        from pages import setup_django

        setup_django(f"postgres://localhost/{args.existing}")
        cases = largest_cases(args.cases)
    else:
        setup_database(args.db)
        t0 = time.perf_counter()
        cases = load(args.per_account, args.background, args.sizes)
        print(f"load took {time.perf_counter() - t0:.1f} s")
    if not (args.existing and args.no_snapshot):
        measure(cases)
    if args.browser:
        for case_pk in cases.values():
            sections(case_pk, args.runs)
        browser(args.browser_case or next(iter(cases.values())), args.runs)


if __name__ == "__main__":
    main()
