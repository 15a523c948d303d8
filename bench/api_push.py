"""Pushing telemetry through the API: what a batch costs in the request, and in its ingest.

    .venv/bin/python bench/api_push.py [--batches 10] [--records 10000]

On a scratch PostgreSQL database, ``console_bench_api`` by default (``BENCH_DATABASE_URL``),
migrated afresh, this pushes ``--batches`` batches of ``--records`` exchanges each through
Django's test client (middleware, authentication, parsing, validation, the file written, the
report queued: everything but the network), then runs each batch's ingest task as a worker
would. It prints the request's time per batch (p50 and worst) and rows/s through the request
and through the ingest, and the request body's size. Nothing here asserts a time; the figures
go in docs/benchmarks.md.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import ensure_database, setup_django  # noqa: E402

DEFAULT_DB = "postgres://localhost/console_bench_api"


def records(batch: int, count: int) -> list[dict]:
    return [
        {
            "exchange_id": f"b{batch}-{n}",
            "account_id": f"acct-{n % 500}",
            "ts": f"2026-03-01T{n % 24:02d}:{n % 60:02d}:00Z",
            "ip": f"203.0.{n % 250}.{batch % 250 + 1}",
            "asn": 64500 + n % 40,
            "user_agent": "gateway-bench/1.0",
            "model": "atlas-large-2",
            "prompt": f"Explain, step by step, how to solve problem {n} of set {batch}.",
            "input_tokens": 40 + n % 100,
            "output_tokens": 600 + n % 900,
            "tool_use": n % 3 == 0,
        }
        for n in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    ensure_database(db_url)
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-api-")
    setup_django(db_url)

    import orjson
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from api import services
    from api.models import PushedBatch
    from detection.tasks import ingest_file_task

    settings.API_BATCH_MAX_RECORDS = max(settings.API_BATCH_MAX_RECORDS, args.records)
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    admin = get_user_model().objects.create(username="bench-admin", is_superuser=True)
    _, plain = services.token_create(name="bench", scopes=["ingest"], expires_at=None, by=admin)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")

    bodies = [
        orjson.dumps({"kind": "exchanges", "records": records(b, args.records)})
        for b in range(args.batches)
    ]
    request_times = []
    # The enqueue waits for a commit that the test client's request makes; the worker's part
    # is timed apart below, so nothing is sent to a broker here.
    from common import tasks as common_tasks

    common_tasks.enqueue_on_commit = lambda name, *a, **k: None
    import api.services as api_services

    api_services.enqueue_on_commit = common_tasks.enqueue_on_commit
    for body in bodies:
        start = time.perf_counter()
        response = client.post("/api/v1/batches/", body, content_type="application/json")
        request_times.append(time.perf_counter() - start)
        assert response.status_code == 202, response.content[:300]
    start = time.perf_counter()
    for batch in PushedBatch.objects.order_by("id"):
        ingest_file_task(batch.report_id)
    ingest_time = time.perf_counter() - start
    loaded = sum(b.report.loaded for b in PushedBatch.objects.select_related("report"))

    rows = args.batches * args.records
    print(f"{args.batches} batches of {args.records} exchanges, {len(bodies[0]) / 1e6:.1f} MB each")
    print(
        f"  request  p50 {statistics.median(request_times) * 1000:7.0f} ms  "
        f"worst {max(request_times) * 1000:7.0f} ms  "
        f"{rows / sum(request_times):9.0f} rows/s"
    )
    print(f"  ingest   {ingest_time:7.1f} s total          {rows / ingest_time:9.0f} rows/s")
    print(f"  loaded   {loaded} of {rows}")


if __name__ == "__main__":
    main()
