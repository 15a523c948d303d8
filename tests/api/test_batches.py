"""Pushing telemetry: stored, ingested by the upload task (never in the request), every bad
record reported by its index, retries idempotent, limits enforced before anything is kept."""

import json
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from api.models import PushedBatch
from cases.models import AuditEvent
from detection.models import Account, Exchange, IngestReport
from detection.tasks import ingest_file_task
from tests.api.conftest import client_with
from tests.detection.test_ingest_support import account_row, exchange_row

BATCHES = "/api/v1/batches/"


def push(client, kind, records, **headers):
    return client.post(BATCHES, {"kind": kind, "records": records}, format="json", **headers)


def test_a_batch_with_good_and_bad_rows_reports_each_reject_by_index(
    ingest_client, django_capture_on_commit_callbacks
):
    records = [
        exchange_row(0, account=1),
        exchange_row(1, account=1, ip="not-an-address"),
        exchange_row(2, account=1),
        {"exchange_id": "ex-9"},
        "not a record",
        exchange_row(3, account=1, ts="2026-03-01T12:00:00"),
    ]

    with django_capture_on_commit_callbacks() as callbacks:
        response = push(ingest_client, "exchanges", records)

    assert response.status_code == 202
    batch = response.json()
    assert (batch["status"], batch["records"], batch["kind"]) == ("queued", 6, "exchanges")
    assert response["Location"].endswith(f"{BATCHES}{batch['id']}/")
    assert len(callbacks) == 1 and not Exchange.objects.exists()  # queued, not ingested
    event = AuditEvent.objects.get(verb="api.batch_pushed")
    assert event.actor is None and event.data["name"] == "gateway"
    assert event.data["records"] == 6

    ingest_file_task(PushedBatch.objects.get().report_id)  # what the worker does

    report = ingest_client.get(f"{BATCHES}{batch['id']}/").json()
    assert report["status"] == "done"
    assert report["counts"]["loaded"] == 2 and report["counts"]["rejected"] == 4
    rejected = {r["index"]: r["reason"] for r in report["rejects"]}
    assert sorted(rejected) == [1, 3, 4, 5]
    assert "ip" in rejected[1] and "ts" in rejected[5]
    assert [n["index"] for n in report["notices"] if n["type"] == "placeholder"] == [0]
    assert Exchange.objects.count() == 2
    assert Account.objects.get(account_id="acct-1").is_placeholder


def test_pushing_the_same_rows_again_loads_nothing_new(ingest_client):
    records = [account_row(n) for n in range(3)]
    for _ in range(2):
        batch = push(ingest_client, "accounts", records).json()
        ingest_file_task(PushedBatch.objects.get(pk=batch["id"]).report_id)
    report = ingest_client.get(f"{BATCHES}{batch['id']}/").json()
    assert (report["counts"]["loaded"], report["counts"]["duplicates"]) == (0, 3)
    assert Account.objects.count() == 3


def test_an_idempotency_key_returns_the_first_batch(ingest_client):
    records = [account_row(1)]
    first = push(ingest_client, "accounts", records, HTTP_IDEMPOTENCY_KEY="k-1")
    again = push(ingest_client, "accounts", records, HTTP_IDEMPOTENCY_KEY="k-1")
    other = push(ingest_client, "accounts", [account_row(2)], HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert PushedBatch.objects.count() == IngestReport.objects.count() == 1


def test_a_batch_whose_ingest_stopped_reports_interrupted(ingest_client, settings):
    batch = push(ingest_client, "accounts", [account_row(1)]).json()
    report = PushedBatch.objects.get(pk=batch["id"]).report
    report.status = IngestReport.Status.RUNNING
    report.progress_at = timezone.now() - timedelta(minutes=settings.INGEST_STALE_MINUTES - 1)
    report.save()
    assert ingest_client.get(f"{BATCHES}{batch['id']}/").json()["status"] == "running"

    report.progress_at = timezone.now() - timedelta(minutes=settings.INGEST_STALE_MINUTES + 1)
    report.save()
    listed = ingest_client.get(BATCHES).json()["results"]
    assert ingest_client.get(f"{BATCHES}{batch['id']}/").json()["status"] == "interrupted"
    assert [b["status"] for b in listed] == ["interrupted"]


def test_limits_refuse_the_whole_batch_and_keep_nothing(ingest_client, settings):
    settings.API_BATCH_MAX_RECORDS = 2
    too_many = push(ingest_client, "accounts", [account_row(n) for n in range(3)])
    assert too_many.status_code == 400 and "at most 2" in json.dumps(too_many.json())

    settings.API_BATCH_MAX_BYTES = 100
    too_big = push(ingest_client, "accounts", [account_row(1, org_id="x" * 200)])
    assert too_big.status_code == 413
    settings.API_BATCH_MAX_BYTES = 10_000

    assert push(ingest_client, "accounts", []).status_code == 400
    assert push(ingest_client, "calls", [account_row(1)]).status_code == 400
    not_json = ingest_client.post(BATCHES, "{", content_type="application/json")
    assert not_json.status_code == 400
    assert not PushedBatch.objects.exists() and not IngestReport.objects.exists()
    uploads = Path(settings.DATA_DIR) / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_hostile_text_reaches_ingest_as_sent(ingest_client):
    records = [account_row(1, org_id="\ud800<script>", email_domain="=cmd|' /C calc'!A0")]
    body = json.dumps({"kind": "accounts", "records": records})  # the surrogate as \ud800
    batch = ingest_client.post(BATCHES, body, content_type="application/json").json()
    ingest_file_task(PushedBatch.objects.get(pk=batch["id"]).report_id)
    report = ingest_client.get(f"{BATCHES}{batch['id']}/").json()
    assert report["counts"]["loaded"] == 1 and report["counts"]["cleaned"] == 1
    account = Account.objects.get(account_id="acct-1")
    assert account.email_domain == "=cmd|' /C calc'!A0"
    assert "<script>" in account.org_id


def test_a_token_sees_only_its_own_batches(ingest_client, make_token):
    batch = push(ingest_client, "accounts", [account_row(1)]).json()
    _, other = make_token("ingest", name="billing")
    other_client = client_with(other)
    assert other_client.get(f"{BATCHES}{batch['id']}/").status_code == 404
    assert other_client.get(BATCHES).json()["results"] == []
    listed = ingest_client.get(BATCHES).json()["results"]
    assert [b["id"] for b in listed] == [batch["id"]]


def test_pushing_needs_the_ingest_scope(read_client):
    assert push(read_client, "accounts", [account_row(1)]).status_code == 403
    assert not PushedBatch.objects.exists()


def test_a_batch_bigger_than_a_forms_limit_is_accepted_up_to_the_batch_limit(
    ingest_client, settings
):
    records = [exchange_row(n, prompt="p" * 1000) for n in range(3000)]
    body = json.dumps({"kind": "exchanges", "records": records})
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < len(body) < settings.API_BATCH_MAX_BYTES

    response = ingest_client.post(BATCHES, body, content_type="application/json")

    assert response.status_code == 202 and response.json()["records"] == 3000
    not_json = ingest_client.post(BATCHES, body, content_type="text/plain")
    assert not_json.status_code == 415
    nan = ingest_client.post(
        BATCHES, '{"kind": "accounts", "records": [NaN]}', content_type="application/json"
    )
    assert nan.status_code == 400
    deep = '{"kind": "accounts", "records": [' + "[" * 100_000 + "]" * 100_000 + "]}"
    assert ingest_client.post(BATCHES, deep, content_type="application/json").status_code == 400


def test_a_pushed_batch_file_is_pruned_with_the_uploads(ingest_client, settings):
    import os
    import time

    from detection.retention import telemetry_files_prune

    batch = push(ingest_client, "accounts", [account_row(1)]).json()
    report = PushedBatch.objects.get(pk=batch["id"]).report
    path = Path(report.path)
    assert path.parent == Path(settings.DATA_DIR) / "uploads"
    old = time.time() - (settings.TELEMETRY_RETENTION_DAYS + 1) * 86400
    os.utime(path, (old, old))
    assert telemetry_files_prune().uploads == 0 and path.exists()  # still queued: kept
    ingest_file_task(report.pk)
    os.utime(path, (old, old))
    assert telemetry_files_prune().uploads == 1 and not path.exists()
