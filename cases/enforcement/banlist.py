"""The ban list backend and the downloadable list.

Delivering an action to the ban list lists its accounts (one ``BanListEntry`` per account and
action); delivering its reversal lifts the accounts the reversal names (all, or those of an
upheld appeal). Both writes are idempotent, so a redelivered message changes nothing. The
download is every account with an entry neither lifted nor past its end (a suspension's
length), one row per account with its most severe action in force, with the policy and
violation category it was taken under; every text cell is formula-neutralised in the CSV so
the file opens safely in a spreadsheet.
"""

import csv
import io
from collections.abc import Iterator

import orjson
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cases.enforcement.backends import DeliveryResult
from cases.enforcement.models import BanListEntry, EnforcementAction
from common.spreadsheets import neutralise

BATCH = 1000
COLUMNS = [
    "account_id",
    "platform_status",
    "action",
    "action_id",
    "case_id",
    "policy",
    "category",
    "listed_at",
    "ends_at",
    "idempotency_key",
]


@transaction.atomic
def deliver(message) -> DeliveryResult:
    action = message.action
    if action.is_reversal:
        lifted = BanListEntry.objects.filter(
            action_id=action.reverses_id,
            account__in=action.accounts.values("pk"),
            lifted_at__isnull=True,
        )
        lifted.update(lifted_at=timezone.now(), lifted_by=action)
        return DeliveryResult(ok=True)
    account_ids = list(action.accounts.values_list("pk", flat=True))
    for start in range(0, len(account_ids), BATCH):
        BanListEntry.objects.bulk_create(
            [
                BanListEntry(action=action, account_id=pk, kind=action.kind, ends_at=action.ends_at)
                for pk in account_ids[start : start + BATCH]
            ],
            ignore_conflicts=True,
        )
    return DeliveryResult(ok=True)


def current_rows(now=None) -> Iterator[dict]:
    """One dict per listed account (most severe action in force), ordered by account id."""
    now = now or timezone.now()
    entries = (
        BanListEntry.objects.filter(lifted_at__isnull=True)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("account", "action", "action__policy", "action__category")
        .order_by("account__account_id", "id")
    )
    best: dict | None = None
    for entry in entries.iterator(chunk_size=2000):
        row = {
            "account_id": entry.account.account_id,
            "platform_status": EnforcementAction.PLATFORM_STATUS[entry.kind],
            "action": entry.kind,
            "action_id": entry.action_id,
            "case_id": entry.action.case_id,
            "policy": entry.action.policy.code if entry.action.policy_id else "",
            "category": entry.action.category.code if entry.action.category_id else "",
            "idempotency_key": str(entry.action.idempotency_key),
            "listed_at": entry.listed_at.isoformat(),
            "ends_at": entry.ends_at.isoformat() if entry.ends_at else "",
            "_severity": EnforcementAction.SEVERITY[entry.kind],
        }
        if best is not None and best["account_id"] != row["account_id"]:
            yield _public(best)
            best = None
        if best is None or row["_severity"] > best["_severity"]:
            best = row
    if best is not None:
        yield _public(best)


def _public(row: dict) -> dict:
    return {key: row[key] for key in COLUMNS}


def csv_chunks(rows: Iterator[dict]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n, row in enumerate(rows, 1):
        writer.writerow([neutralise(row[key]) for key in COLUMNS])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_chunks(rows: Iterator[dict], *, generated_at: str) -> Iterator[bytes]:
    """``{"generated_at": ..., "accounts": [...]}``, streamed."""
    yield b'{"generated_at":' + orjson.dumps(generated_at) + b',"accounts":['
    for n, row in enumerate(rows):
        yield (b"," if n else b"") + orjson.dumps(row)
    yield b"]}"
