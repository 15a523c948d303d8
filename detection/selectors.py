"""Reads that join detection's tables for a run (no writes)."""

from __future__ import annotations

from collections import Counter

from detection.models import AccountChange, AccountScore, DetectionRun

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
    moves: Counter[int] = Counter()
    changes = AccountChange.objects.filter(account_id__in=accounts, field__in=FLEET_KEYS)
    for pk, field, value in changes.exclude(new_value="").values_list(
        "account_id", "field", "new_value"
    ):
        if users.get((field, value), set()) - {pk}:
            moves[pk] += 1
    return dict(moves)
