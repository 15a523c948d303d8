"""Writes of the API: tokens made and revoked, batches stored and queued. Each is atomic and
writes its audit event in the same transaction."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import PushedBatch, Scope, ServiceToken, token_digest, token_new
from cases import audit
from common.tasks import enqueue_on_commit
from detection.indicators.models import ExternalFlag
from detection.indicators.services import external_flag_record
from detection.ingest.uploads import uploads_dir
from detection.models import IngestReport

# The staff upload's task: it ingests the file a queued report names, exactly as the
# ``ingest`` command would, and resumes after a crash.
INGEST_TASK = "detection.tasks.ingest_file_task"
# How often a token's ``last_used_at`` is written: not on every request.
TOUCH_EVERY = timedelta(minutes=1)


def _token_data(token: ServiceToken) -> dict:
    return {
        "token": token.pk,
        "name": token.name,
        "hint": token.hint,
        "scopes": list(token.scopes),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


@transaction.atomic
def token_create(
    *, name: str, scopes: Iterable[str], expires_at: datetime | None, by
) -> tuple[ServiceToken, str]:
    """Make a token; returns it with its secret, which is stored nowhere and shown once."""
    chosen = sorted(set(scopes))
    unknown = set(chosen) - set(Scope.values)
    if unknown or not chosen:
        raise ValidationError("choose one or more scopes: " + ", ".join(Scope.values))
    if not name.strip():
        raise ValidationError("name the system that uses the token")
    plain = token_new()
    token = ServiceToken.objects.create(
        name=name.strip(),
        digest=token_digest(plain),
        hint=plain[:12],
        scopes=chosen,
        expires_at=expires_at,
        created_by=by,
    )
    audit.record("api_token.created", actor=by, target=token, data=_token_data(token))
    return token, plain


@transaction.atomic
def token_revoke(*, token: ServiceToken, by) -> bool:
    """Revoke a token; False (and nothing written) if it already was."""
    now = timezone.now()
    revoked = ServiceToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=by
    )
    if not revoked:
        return False
    token.refresh_from_db()
    audit.record("api_token.revoked", actor=by, target=token, data=_token_data(token))
    return True


def token_touch(token: ServiceToken) -> None:
    """Note that the token was used, at most once a TOUCH_EVERY (a read is not audited; this
    is what the admin shows to tell a live token from a forgotten one)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY:
        return
    ServiceToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different body."""


@dataclass(frozen=True)
class Pushed:
    batch: PushedBatch
    created: bool


def _write_lines(path: Path, records: list) -> int:
    # One record per line, so a reject's line is the record's index plus one. ASCII
    # escapes keep whatever the client sent (a lone surrogate included) for ingest to judge.
    with path.open("w", encoding="ascii") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=True, separators=(",", ":")))
            fh.write("\n")
    return path.stat().st_size


def batch_push(
    *, token: ServiceToken, kind: str, records: list, idempotency_key: str, body_digest: str
) -> Pushed:
    """Store a batch as a JSON Lines file and queue its ingest; the same key with the same
    body returns the batch already pushed (``created`` False)."""
    if idempotency_key:
        earlier = _earlier(token, idempotency_key, body_digest)
        if earlier is not None:
            return Pushed(earlier, False)
    # Beside the staff uploads, named as they are, so the retention of telemetry files
    # (detection.retention) deletes pushed batches on the same schedule.
    directory = uploads_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}-{secrets.token_hex(4)}-api-{token.pk}-{kind}.jsonl"
    size = _write_lines(path, records)
    try:
        with transaction.atomic():
            report = IngestReport.objects.create(path=str(path), kind=kind, size=size)
            batch = PushedBatch.objects.create(
                token=token,
                report=report,
                kind=kind,
                records=len(records),
                idempotency_key=idempotency_key,
                body_digest=body_digest,
            )
            audit.record(
                "api.batch_pushed",
                target=batch,
                data={
                    **_token_data(token),
                    "batch": batch.pk,
                    "kind": kind,
                    "records": len(records),
                },
            )
            enqueue_on_commit(INGEST_TASK, report.pk)
    except IntegrityError:
        # Two requests with one key at once: the other one won; answer with its batch.
        path.unlink(missing_ok=True)
        earlier = _earlier(token, idempotency_key, body_digest)
        if earlier is None:
            raise
        return Pushed(earlier, False)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Pushed(batch, True)


def _earlier(token: ServiceToken, key: str, body_digest: str) -> PushedBatch | None:
    earlier = (
        PushedBatch.objects.select_related("report")
        .filter(token=token, idempotency_key=key)
        .first()
    )
    if earlier is not None and earlier.body_digest != body_digest:
        raise IdempotencyConflict(key)
    return earlier


def flag_record(*, token: ServiceToken, data: dict) -> tuple[ExternalFlag, bool]:
    """Record a flag another system raised, under the token's name as its source (a client
    cannot speak for another system), audited; the same ``external_id`` again returns the
    flag already recorded (``False``)."""
    with transaction.atomic():
        flag, created = external_flag_record(
            source=f"api:{token.name}",
            reason=data["reason"],
            account_id=data.get("account_id", ""),
            indicator_kind=data.get("indicator_kind", ""),
            indicator_value=data.get("indicator_value", ""),
            external_id=data.get("external_id", ""),
            tlp=data["tlp"],
        )
        if created:
            audit.record(
                "api.flag_recorded",
                target=flag,
                data={
                    **_token_data(token),
                    "flag": flag.pk,
                    "account": flag.account.account_id if flag.account else None,
                    "indicator": flag.indicator_id,
                    "external_id": flag.external_id,
                },
            )
    return flag, created
