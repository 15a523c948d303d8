"""Outbox delivery against a real HTTP receiver on localhost: signature, stable idempotency
key, retries with backoff, receiver down then up, dead letters and manual retry, lost
workers' leases recovered by the sweeper, and never marking a message delivered twice."""

import hashlib
import hmac
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from cases.enforcement import webhook
from cases.enforcement.models import DeliveryAttempt, EnforcementAction, OutboxMessage
from cases.enforcement.services import (
    action_decide,
    action_propose,
    outbox_deliver,
    outbox_retry,
    outbox_sweep,
)
from cases.enforcement.services import delivery as delivery_service
from cases.models import AuditEvent, Case
from tests.factories import enforcement_terms

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-tests"
A = EnforcementAction.Status
M = OutboxMessage.Status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def platform_verify(raw_body: bytes, header: str, secret: str, now: float) -> bool:
    """The receiver's check, written as docs/enforcement.md tells the platform to write it
    (not the console's own ``webhook.verify``): a fresh ``t``, and ``v1`` over "t.body"."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        t = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - t) > 300:
        return False
    signed = f"{t}.".encode() + raw_body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").encode())


class Receiver:
    """The account platform's side: verifies the signature with its own HMAC and its own
    clock (``clock_offset`` moves that clock), applies each idempotency key once, and can be
    told to fail, to be slow, or not to be running."""

    def __init__(self, secret: str = SECRET, port: int | None = None):
        self.secret = secret
        self.port = port or free_port()
        self.requests: list[dict] = []
        self.applied: Counter = Counter()
        self.fail_with: list[int] = []
        self.delay = 0.0
        self.clock_offset = 0.0
        self.lock = threading.Lock()
        self.server = None
        self.entered = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/enforcement"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed = platform_verify(
                    body,
                    self.headers.get("X-Console-Signature", ""),
                    receiver.secret,
                    now=time.time() + receiver.clock_offset,
                )
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.requests.append(
                        {"body": body, "key": key, "signed": signed, "headers": dict(self.headers)}
                    )
                    code = receiver.fail_with.pop(0) if receiver.fail_with else None
                    # Read before announcing the request: a test that changes ``delay`` once
                    # it sees ``entered`` must not change how slow this request is.
                    delay = receiver.delay
                receiver.entered.set()
                if not signed:
                    return self._answer(401, {"error": "bad signature"})
                if code:
                    return self._answer(code, {"error": "try later"})
                if delay:
                    time.sleep(delay)
                with receiver.lock:
                    duplicate = receiver.applied[key] > 0
                    if not duplicate and json.loads(body)["idempotency_key"] == key:
                        receiver.applied[key] += 1
                self._answer(200, {"ok": True, "duplicate": duplicate})

            def _answer(self, code, data):
                try:
                    payload = json.dumps(data).encode()
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker died while we were slow

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver(settings):
    r = Receiver()
    settings.ENFORCEMENT_WEBHOOK_URL = r.url
    settings.ENFORCEMENT_WEBHOOK_SECRET = SECRET
    settings.ENFORCEMENT_WEBHOOK_TIMEOUT = 2
    yield r
    r.stop()


@pytest.fixture
def enqueued(monkeypatch):
    sent = []
    monkeypatch.setattr(delivery_service, "_enqueue", lambda pk, countdown=None: sent.append(pk))
    return sent


@pytest.fixture
def approved(make_case, analyst, approver, receiver):
    """An approved ban with its ban list message already delivered; the webhook one waits."""
    case = make_case(accounts=3)
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="fleet"
    )
    action_decide(action=action, by=approver, approve=True, comment="ok")
    outbox_deliver(message_id=action.outbox.get(backend="banlist").pk)
    return action


def webhook_of(action) -> OutboxMessage:
    return OutboxMessage.objects.get(action=action, backend="webhook")


def test_delivery_is_signed_keyed_and_executes_the_action(approved, receiver):
    receiver.start()
    message = webhook_of(approved)
    assert outbox_deliver(message_id=message.pk) == "delivered"
    assert len(receiver.requests) == 1
    sent = receiver.requests[0]
    assert sent["signed"]
    body = json.loads(sent["body"])
    assert sent["key"] == body["idempotency_key"] == str(approved.idempotency_key)
    assert body["action"] == "ban" and body["account_count"] == 3
    assert sent["headers"]["Content-Type"] == "application/json"
    approved.refresh_from_db()
    assert approved.status == A.EXECUTED
    assert approved.case.status == Case.Status.ACTIONED
    assert set(approved.accounts.values_list("platform_status", flat=True)) == {"banned"}
    attempt = DeliveryAttempt.objects.get(message=message)
    assert attempt.ok and attempt.status_code == 200 and attempt.number == 1


def _replay(receiver, captured, *, header=None) -> int:
    """Send a captured request again, byte for byte (or with another signature header)."""
    request = urllib.request.Request(  # noqa: S310 (a test receiver on localhost)
        receiver.url,
        data=captured["body"],
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": captured["key"],
            "X-Console-Signature": header or captured["headers"]["X-Console-Signature"],
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_signature_covers_the_time_so_a_captured_request_goes_stale(approved, receiver):
    receiver.start()
    assert outbox_deliver(message_id=webhook_of(approved).pk) == "delivered"
    captured = receiver.requests[0]
    header = captured["headers"]["X-Console-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    # Replayed at once it is within the window: the idempotency key makes it harmless.
    assert _replay(receiver, captured) == 200
    # Replayed six minutes later, the platform refuses it.
    receiver.clock_offset = 360
    assert _replay(receiver, captured) == 401
    # A fresher time cannot be pasted onto the old signature.
    receiver.clock_offset = 0
    stamp, _, mac = header.partition(",")
    fresh = f"t={int(stamp.removeprefix('t=')) + 1},{mac}"
    assert fresh != header and _replay(receiver, captured, header=fresh) == 401
    assert receiver.applied[str(approved.idempotency_key)] == 1


def test_the_consoles_own_verify_refuses_stale_tampered_and_malformed_headers():
    body, now = b'{"a":1}', 1_800_000_000
    header = webhook.sign(body, SECRET, now)
    assert webhook.verify(body, SECRET, header, now=now + 299)
    assert not webhook.verify(body, SECRET, header, now=now + 301)
    assert not webhook.verify(body, SECRET, header, now=now - 301)
    assert not webhook.verify(body + b" ", SECRET, header, now=now)
    assert not webhook.verify(body, "other", header, now=now)
    assert not webhook.verify(body, SECRET, header.replace(f"t={now}", f"t={now + 1}"), now=now)
    for bad in ("", "v1=abc", f"t={now}", "t=x,v1=y", "sha256=" + "0" * 64, "t=9" * 400):
        assert not webhook.verify(body, SECRET, bad, now=now)
    # Refused, not raised: a non-ASCII digit as the time, a non-ASCII signature.
    assert not webhook.verify(body, SECRET, header.replace(f"t={now}", "t=\u00b2"), now=now)
    assert not webhook.verify(body, SECRET, f"t={now},v1=\u00e9", now=now)


def test_a_wrong_secret_is_refused_by_the_receiver_and_never_confirms(approved, receiver, settings):
    receiver.start()
    settings.ENFORCEMENT_WEBHOOK_SECRET = "not-the-receivers-secret"
    message = webhook_of(approved)
    assert outbox_deliver(message_id=message.pk) == "dead-lettered"  # 401 cannot be retried
    assert receiver.requests[0]["signed"] is False and not receiver.applied
    approved.refresh_from_db()
    assert approved.status == A.FAILED
    assert set(approved.accounts.values_list("platform_status", flat=True)) == {"active"}


def test_retries_with_backoff_send_the_same_bytes_and_key(approved, receiver, enqueued):
    receiver.start()
    receiver.fail_with = [503, 503]
    message = webhook_of(approved)
    before = timezone.now()
    assert outbox_deliver(message_id=message.pk).startswith("failed; retry in 30s")
    message.refresh_from_db()
    assert message.status == M.PENDING and message.attempts == 1
    assert message.next_attempt_at >= before + timedelta(seconds=30)
    # Not due yet: a task arriving early does nothing.
    assert outbox_deliver(message_id=message.pk) == "not due or already taken"
    assert outbox_deliver(message_id=message.pk, now=message.next_attempt_at).startswith(
        "failed; retry in 60s"
    )
    message.refresh_from_db()
    assert outbox_deliver(message_id=message.pk, now=message.next_attempt_at) == "delivered"
    bodies = {r["body"] for r in receiver.requests}
    keys = {r["key"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and len(bodies) == len(keys) == 1
    # Each attempt is signed when it is sent, so each carries its own time.
    assert all(r["signed"] for r in receiver.requests)
    assert [r["headers"]["X-Console-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert receiver.applied[str(approved.idempotency_key)] == 1
    log = list(DeliveryAttempt.objects.filter(message=message).order_by("number"))
    assert [(a.number, a.ok, a.status_code) for a in log] == [
        (1, False, 503),
        (2, False, 503),
        (3, True, 200),
    ]
    failures = AuditEvent.objects.filter(verb="action.delivery_failed", case=approved.case)
    assert failures.count() == 2


def test_receiver_down_then_up_is_delivered_exactly_once(approved, receiver, enqueued):
    message = webhook_of(approved)
    result = outbox_deliver(message_id=message.pk)  # nothing listens on the port yet
    assert result.startswith("failed")
    attempt = DeliveryAttempt.objects.get(message=message)
    assert not attempt.ok and "refused" in attempt.error.lower()
    approved.refresh_from_db()
    assert approved.status == A.APPROVED
    receiver.start()
    message.refresh_from_db()
    later = message.next_attempt_at
    assert outbox_deliver(message_id=message.pk, now=later) == "delivered"
    assert outbox_deliver(message_id=message.pk, now=later) == "not due or already taken"
    assert outbox_sweep(now=later + timedelta(hours=1)) == {"recovered": 0, "enqueued": 0}
    assert len(receiver.requests) == 1
    assert receiver.applied[str(approved.idempotency_key)] == 1
    assert AuditEvent.objects.filter(verb="action.executed", case=approved.case).count() == 1


def test_a_timeout_is_retried(approved, receiver, settings, enqueued):
    receiver.start()
    receiver.delay = 1.5
    settings.ENFORCEMENT_WEBHOOK_TIMEOUT = 0.3
    message = webhook_of(approved)
    assert outbox_deliver(message_id=message.pk).startswith("failed")
    assert "timed out" in DeliveryAttempt.objects.get(message=message).error.lower()


def test_after_max_attempts_it_is_dead_lettered_and_an_approver_retries(
    approved, receiver, settings, enqueued, analyst, approver2
):
    settings.ENFORCEMENT_MAX_ATTEMPTS = 2
    receiver.start()
    receiver.fail_with = [500, 500]
    message = webhook_of(approved)
    outbox_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert outbox_deliver(message_id=message.pk, now=message.next_attempt_at) == "dead-lettered"
    message.refresh_from_db()
    approved.refresh_from_db()
    assert message.status == M.DEAD and approved.status == A.FAILED
    dead = AuditEvent.objects.get(verb="action.delivery_dead_lettered")
    assert dead.data["backend"] == "webhook" and "HTTP 500" in dead.data["reason"]
    with pytest.raises(PermissionDenied):
        outbox_retry(message=message, by=analyst)
    outbox_retry(message=message, by=approver2)
    message.refresh_from_db()
    approved.refresh_from_db()
    assert message.status == M.PENDING and message.attempts == 0
    assert approved.status == A.APPROVED
    assert enqueued == []  # enqueued on commit; run it by hand
    assert outbox_deliver(message_id=message.pk) == "delivered"
    approved.refresh_from_db()
    assert approved.status == A.EXECUTED
    assert receiver.applied[str(approved.idempotency_key)] == 1
    retried = AuditEvent.objects.get(verb="action.delivery_retried")
    assert retried.actor == approver2
    # The retry started a fresh round, but the log keeps counting: no attempt number repeats.
    log = DeliveryAttempt.objects.filter(message=message).order_by("id")
    assert [(a.number, a.ok) for a in log] == [(1, False), (2, False), (3, True)]


def test_missing_secret_dead_letters_without_sending(approved, receiver, settings):
    receiver.start()
    settings.ENFORCEMENT_WEBHOOK_SECRET = ""
    message = webhook_of(approved)
    assert outbox_deliver(message_id=message.pk) == "dead-lettered"
    assert receiver.requests == []
    message.refresh_from_db()
    assert "ENFORCEMENT_WEBHOOK_SECRET" in message.last_error


def test_sweeper_recovers_a_lost_worker_and_a_stale_worker_cannot_mark_delivered(
    approved, receiver, enqueued
):
    receiver.start()
    message = webhook_of(approved)
    now = timezone.now()
    claimed = delivery_service._claim(message.pk, now)  # a worker claims, then hangs or dies
    assert claimed is not None
    stale_message, stale_token = claimed
    # Before the lease runs out the sweeper leaves it alone.
    assert outbox_sweep(now=now + timedelta(seconds=5))["recovered"] == 0
    later = now + delivery_service.lease() + timedelta(seconds=1)
    assert outbox_sweep(now=later) == {"recovered": 1, "enqueued": 1}
    assert enqueued == [message.pk]
    message.refresh_from_db()
    assert message.status == M.PENDING
    lost = DeliveryAttempt.objects.get(message=message)
    assert not lost.ok and "lost mid-delivery" in lost.error
    assert outbox_deliver(message_id=message.pk, now=later) == "delivered"
    # The first worker wakes up and reports success: its token no longer matches.
    from cases.enforcement.backends import DeliveryResult

    result = delivery_service._record(stale_message, stale_token, DeliveryResult(ok=True), 5)
    assert "lease was lost" in result
    assert AuditEvent.objects.filter(verb="action.delivered", data__backend="webhook").count() == 1
    assert AuditEvent.objects.filter(verb="action.executed").count() == 1
    assert receiver.applied[str(approved.idempotency_key)] == 1


def test_the_lease_never_runs_out_before_the_request_can(settings):
    settings.ENFORCEMENT_WEBHOOK_TIMEOUT = 10
    settings.ENFORCEMENT_LEASE_SECONDS = 1
    assert delivery_service.lease() == timedelta(seconds=11)
    settings.ENFORCEMENT_LEASE_SECONDS = 120
    assert delivery_service.lease() == timedelta(seconds=120)
