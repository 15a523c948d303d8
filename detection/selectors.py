"""Reads that join detection's tables for a run (no writes)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db.models import Q

from detection.models import AccountChange, AccountScore, DetectionRun, ValueReach
from detection.reach import reach_key

# The account fields a fleet shares that a move onto is evidence: its card, its organisation.
FLEET_KEYS = (AccountChange.Field.PAYMENT_FINGERPRINT, AccountChange.Field.ORG_ID)


def fleet_moves(accounts: list[int], *, before: DetectionRun | None) -> dict[int, int]:
    """Account pk -> how many of its recorded changes (``AccountChange``) moved it onto a
    payment card or organisation that another account uses which the last successful run
    before ``before`` flagged as a campaign member: a fleet adding an account by moving it
    onto the fleet's card. Accounts without such a move are left out.

    The previous run, not this one: this run's flags come from the scores this feeds. An
    account that moves onto a fleet's card also shares that card from then on
    (``shared_payment``); the move says more, that it came to the fleet after being known
    apart from it. With ``before`` None, the last successful run of all (what the next run
    will read: a backtest asks as the next run would).
    """
    runs = DetectionRun.objects.filter(status=DetectionRun.Status.SUCCEEDED)
    if before is not None:
        runs = runs.filter(pk__lt=before.pk)
    last = runs.order_by("-pk").first()
    if last is None or not accounts:
        return {}
    members = AccountScore.objects.filter(run=last, flagged=True, campaign__isnull=False)
    users: dict[tuple[str, str], set[int]] = {}
    for pk, card, org in members.values_list(
        "account_id", "account__payment_fingerprint", "account__org_id"
    ):
        for field, value in zip(FLEET_KEYS, (card, org), strict=True):
            if value:
                users.setdefault((field, value), set()).add(pk)
    if not users:
        return {}
    # The changes onto a value the fleet uses are few, whatever the number of accounts in
    # the run: select those, not the changes of every account the run scores.
    wanted = set(accounts)
    onto_fleet = Q()
    for field in FLEET_KEYS:
        onto_fleet |= Q(field=field, new_value__in=members.values(f"account__{field}"))
    moves: Counter[int] = Counter()
    for pk, field, value in (
        AccountChange.objects.filter(onto_fleet)
        .exclude(new_value="")
        .values_list("account_id", "field", "new_value")
    ):
        if pk in wanted and users.get((field, value), set()) - {pk}:
            moves[pk] += 1
    return dict(moves)


def value_reach(
    run_id: int | None, window: tuple[datetime, datetime], kind: str, values: list
) -> dict[str, tuple[int, datetime | None]] | None:
    """Accounts (and first use) behind each of ``values`` of ``kind`` in run ``run_id``'s
    window, by ``reach.reach_key``; a value absent from the answer had one account at most.
    None when that run's reach is not stored or ``window`` is not its window: scan instead."""
    if run_id is None:
        return None
    run = DetectionRun.objects.filter(pk=run_id).values("window_start", "window_end").first()
    if run is None or (run["window_start"], run["window_end"]) != tuple(window):
        return None
    rows = ValueReach.objects.filter(run_id=run_id)
    if not rows.filter(kind=ValueReach.Kind.MODEL).exists():
        return None
    keys = [reach_key(v) for v in values]
    return {
        value: (accounts, first)
        for value, accounts, first in rows.filter(kind=kind, value__in=keys).values_list(
            "value", "accounts", "first_ts"
        )
    }
