"""Writes of the watch list: importing indicator files, recording external flags.

Validation of each row happens in ``parse``/``stix``; these functions load what passed,
record what did not on the ``IndicatorImport`` row, and mark the accounts that match.
The person behind a change is audited by the caller that knows them (the admin announces
its changes, ``cases`` records case exports), since detection names no app above it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import PurePath

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from detection.indicators import parse, stix
from detection.indicators.matching import indicator_matches_refresh
from detection.models import Account, ExternalFlag, Indicator, IndicatorImport, Tlp

F = IndicatorImport.Format
# How many rejects an import keeps to show (the count is always complete).
REJECTS_KEPT = 1000
# Files larger than this are refused before they are read.
MAX_FILE_BYTES = 50 * 1024 * 1024


def format_of(file_name: str, data: bytes) -> str:
    """``csv`` or ``stix``: by the extension, else by whether the text opens a JSON object."""
    suffix = PurePath(file_name).suffix.lower()
    if suffix in (".json", ".stix"):
        return F.STIX
    if suffix == ".csv":
        return F.CSV
    return F.STIX if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else F.CSV


@transaction.atomic
def indicators_import(
    *,
    data: bytes,
    file_name: str,
    source: str = "",
    tlp: str = Tlp.AMBER,
    fmt: str = "",
    expires_at: datetime | None = None,
    user=None,
) -> IndicatorImport:
    """Load an indicator file; returns its ``IndicatorImport`` (``failed`` with the reason
    when the file cannot be read at all, in which case nothing else changed).

    An indicator is identified by kind, value and source: importing the same file again
    updates comments, TLP and expiry and adds nothing. ``source`` defaults to the STIX
    object's creator, then to the file name; ``tlp`` applies where the file marks none.
    """
    fmt = fmt or format_of(file_name, data)
    name = PurePath(file_name).name[:255] or "upload"
    source = parse.clean_text(source)[:255]
    record = IndicatorImport(
        file_name=name,
        format=fmt,
        source=source or name,
        tlp=tlp,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    rows: list[parse.Candidate] = []
    rejects: list[parse.Reject] = []
    try:
        if len(data) > MAX_FILE_BYTES:
            raise parse.IndicatorFileError(
                f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it"
            )
        reader = stix.parse_bundle if fmt == F.STIX else parse.parse_csv
        for item in reader(data):
            (rows if isinstance(item, parse.Candidate) else rejects).append(item)
    except parse.IndicatorFileError as exc:
        record.status = IndicatorImport.Status.FAILED
        record.error = str(exc)
        record.save()
        return record
    record.rows_read = len({r.row for r in rows} | {r.row for r in rejects})
    record.save()
    added, updated, pks = _load(rows, record, source=source, expires_at=expires_at)
    record.added, record.updated = added, updated
    record.rejected = len(rejects)
    record.rejects = [r.as_dict() for r in rejects[:REJECTS_KEPT]]
    indicator_matches_refresh(Indicator.objects.filter(pk__in=pks))
    record.matched_accounts = (
        Account.objects.filter(indicator_matches__indicator__in=pks).distinct().count()
    )
    record.save()
    return record


def _load(
    rows: list[parse.Candidate],
    record: IndicatorImport,
    *,
    source: str,
    expires_at: datetime | None,
) -> tuple[int, int, list[int]]:
    """Create or update one indicator per (kind, value, source); returns the counts and pks."""
    wanted: dict[tuple[str, str, str], parse.Candidate] = {}
    for row in rows:
        wanted[(row.kind, row.value, source or row.source or record.file_name)] = row
    added = updated = 0
    pks: list[int] = []
    keys = list(wanted)
    for i in range(0, len(keys), 1000):
        part = keys[i : i + 1000]
        existing = {
            (x.kind, x.value, x.source): x
            for x in Indicator.objects.filter(
                source__in={k[2] for k in part}, value__in={k[1] for k in part}
            )
        }
        new, changed = [], []
        for key in part:
            row = wanted[key]
            fields = {
                "comment": row.comment,
                "tlp": row.tlp or record.tlp,
                "stix_id": row.stix_id,
                "expires_at": row.expires_at or expires_at,
                "prompt_hash": row.prompt_hash,
            }
            found = existing.get(key)
            if found is None:
                new.append(
                    Indicator(
                        kind=key[0],
                        value=key[1],
                        source=key[2],
                        added_by=record.created_by,
                        imported_from=record,
                        **fields,
                    )
                )
                continue
            for field, value in fields.items():
                setattr(found, field, value)
            found.imported_from = record
            changed.append(found)
        created = Indicator.objects.bulk_create(new)
        Indicator.objects.bulk_update(changed, [*fields, "imported_from"])
        added += len(created)
        updated += len(changed)
        pks += [x.pk for x in created] + [x.pk for x in changed]
    return added, updated, pks


class ExternalFlagError(ValueError):
    """The flag names nothing this console can record; nothing was written."""


@transaction.atomic
def external_flag_record(
    *,
    source: str,
    reason: str,
    account_id: str = "",
    indicator_kind: str = "",
    indicator_value: str = "",
    external_id: str = "",
    tlp: str = Tlp.AMBER,
    user=None,
) -> tuple[ExternalFlag, bool]:
    """Record that another system flagged an account (by its ``account_id``) or an indicator
    (kind and value); returns the flag and whether it is new.

    The same ``(source, external_id)`` again returns the flag already recorded. An indicator
    flag adds the indicator to the watch list under ``source`` and marks the accounts that
    match it; an account flag counts toward the ``external_flag`` signal at the next run.
    """
    source = parse.clean_text(source)[:255]
    reason = parse.clean_text(reason)[: parse.MAX_COMMENT]
    external_id = parse.clean_text(external_id)[:255]
    if not source:
        raise ExternalFlagError("a flag needs its source (the system that raised it)")
    if not reason:
        raise ExternalFlagError("a flag needs a reason")
    if bool(account_id) == bool(indicator_kind or indicator_value):
        raise ExternalFlagError("a flag names either an account or an indicator, not both")
    if external_id:
        found = ExternalFlag.objects.filter(source=source, external_id=external_id).first()
        if found is not None:
            return found, False
    by = user if user is not None and user.is_authenticated else None
    flag = ExternalFlag(source=source, reason=reason, external_id=external_id, created_by=by)
    if account_id:
        flag.account = Account.objects.filter(account_id=account_id).first()
        if flag.account is None:
            raise ExternalFlagError(f"no account {account_id[:80]!r} is known here")
        flag.save()
        return flag, True
    try:
        kind = parse.kind_of(indicator_kind)
        kind, value, digest = parse.normalise(kind, indicator_value)
    except parse.RowError as exc:
        raise ExternalFlagError(str(exc)) from None
    indicator, _ = Indicator.objects.update_or_create(
        kind=kind,
        value=value,
        source=source,
        defaults={"comment": reason, "prompt_hash": digest, "tlp": tlp, "added_by": by},
    )
    flag.indicator = indicator
    flag.save()
    indicator_matches_refresh(Indicator.objects.filter(pk=indicator.pk))
    return flag, True


def indicators_expire(*, indicators: Iterable[Indicator], at: datetime | None = None) -> int:
    """End the watch on ``indicators`` now (or at ``at``); their marks stop counting."""
    pks = [i.pk for i in indicators]
    when = at or timezone.now()
    return (
        Indicator.objects.filter(pk__in=pks)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=when))
        .update(expires_at=when)
    )
