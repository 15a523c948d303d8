"""The known-good allow-list: accounts, or whole organisations, detection scores but does not
flag until their entry expires.

Analysts add entries when they dismiss an account as legitimate (``cases`` calls
``known_good_add``); admins add, extend and revoke them in the admin. Every change writes a
``KnownGoodEvent`` in the same transaction: the list's own audit trail.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from detection.models import KnownGood, KnownGoodEvent

# The longest an entry may hold: a customer known good today is reviewed within a year.
MAX_DAYS = 366


def _user(by):
    return by if by is not None and by.is_authenticated else None


def known_good_check(
    scope: str, value: str, reason: str, expires_at: datetime, now: datetime
) -> None:
    """Raise ``ValidationError`` unless the entry's fields make a valid entry."""
    if scope not in KnownGood.Scope.values:
        raise ValidationError(f"unknown allow-list scope {scope!r}")
    if not value.strip():
        raise ValidationError("an allow-list entry needs an account or organisation id")
    if not reason.strip():
        raise ValidationError("an allow-list entry needs a reason")
    if expires_at <= now:
        raise ValidationError("an allow-list entry must expire in the future")
    if (expires_at - now).days > MAX_DAYS:
        raise ValidationError(f"an allow-list entry holds at most {MAX_DAYS} days")


@transaction.atomic
def known_good_add(
    *, scope: str, value: str, reason: str, expires_at: datetime, by=None, source: str = "admin"
) -> KnownGood:
    """A new entry, in force from now until ``expires_at``."""
    now = timezone.now()
    known_good_check(scope, value, reason, expires_at, now)
    entry = KnownGood.objects.create(
        scope=scope,
        value=value.strip(),
        reason=reason.strip(),
        expires_at=expires_at,
        created_by=_user(by),
        created_at=now,
    )
    KnownGoodEvent.objects.create(
        entry=entry,
        verb="added",
        actor=_user(by),
        data={"reason": entry.reason, "expires_at": expires_at.isoformat(), "source": source},
    )
    return entry


@transaction.atomic
def known_good_change(*, entry: KnownGood, reason: str, expires_at: datetime, by=None) -> KnownGood:
    """Change an entry's expiry or reason (extend it, or end it sooner)."""
    entry = KnownGood.objects.select_for_update().get(pk=entry.pk)
    if entry.revoked_at is not None:
        raise ValidationError("a revoked entry cannot change; add a new one")
    known_good_check(entry.scope, entry.value, reason, expires_at, timezone.now())
    changes = {}
    if entry.expires_at != expires_at:
        changes["expires_at"] = [entry.expires_at.isoformat(), expires_at.isoformat()]
    if entry.reason != reason.strip():
        changes["reason"] = [entry.reason, reason.strip()]
    if not changes:
        return entry
    entry.expires_at, entry.reason = expires_at, reason.strip()
    entry.save(update_fields=["expires_at", "reason"])
    KnownGoodEvent.objects.create(entry=entry, verb="changed", actor=_user(by), data=changes)
    return entry


@transaction.atomic
def known_good_revoke(*, entry: KnownGood, reason: str, by=None) -> KnownGood:
    """End an entry now; detection flags the account again from its next run."""
    if not reason.strip():
        raise ValidationError("revoking an allow-list entry needs a reason")
    entry = KnownGood.objects.select_for_update().get(pk=entry.pk)
    if entry.revoked_at is not None:
        return entry
    entry.revoked_at, entry.revoked_by = timezone.now(), _user(by)
    entry.save(update_fields=["revoked_at", "revoked_by"])
    KnownGoodEvent.objects.create(
        entry=entry, verb="revoked", actor=_user(by), data={"reason": reason.strip()}
    )
    return entry


def known_good_entries(account_ids: list[str], org_ids: list[str], now=None) -> list[KnownGood]:
    """The entries in force at ``now`` naming any of these accounts or organisations."""
    accounts = [a for a in account_ids if a]
    orgs = [o for o in org_ids if o]
    named = Q(scope=KnownGood.Scope.ACCOUNT, value__in=accounts) | Q(
        scope=KnownGood.Scope.ORGANISATION, value__in=orgs
    )
    return list(KnownGood.objects.in_force(now).filter(named))


def known_good_mask(frame: pl.DataFrame, now=None) -> np.ndarray:
    """Which rows of an analysis frame (``account_id``, ``org_id``) an entry holds at ``now``."""
    held = KnownGood.objects.in_force(now)
    if not held.exists():
        return np.zeros(frame.height, dtype=bool)
    accounts = set(held.filter(scope=KnownGood.Scope.ACCOUNT).values_list("value", flat=True))
    orgs = set(held.filter(scope=KnownGood.Scope.ORGANISATION).values_list("value", flat=True))
    mask = frame.select(
        pl.col("account_id").is_in(list(accounts))
        | (pl.col("org_id").fill_null("").is_in(list(orgs)) & (pl.col("org_id") != ""))
    ).to_series()
    return mask.fill_null(False).to_numpy()
