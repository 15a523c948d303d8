"""Look-alikes in the database: the blast radius's rules (``cases.enforcement.blast_radius``)
as query expressions, so the queue, the case's accounts, the account page and the proposal
form mark the same accounts the approver is warned about.

An account looks like a legitimate customer when it declares an organisation at least
``SHARED_ORG_MIN_ACCOUNTS`` accounts share, or registered more than ``OLD_ACCOUNT_DAYS`` ago
and is on a paid plan. The words for each rule are ``lookalike_warnings``'s; this module only
says *which* accounts, in SQL, one subquery per row shown.
"""

from datetime import datetime, timedelta

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone

from cases.enforcement.blast_radius import FREE_PLANS, OLD_ACCOUNT_DAYS, SHARED_ORG_MIN_ACCOUNTS
from detection.models import Account


def _shared_org(prefix: str) -> Q:
    """The account's organisation has at least ``SHARED_ORG_MIN_ACCOUNTS`` accounts (on the
    ``org_id`` index, counting one organisation).

    The account's own empty organisation is ruled out before the subquery: most accounts
    declare none, and counting the accounts with none for each of them would read every
    such account once per row."""
    big = (
        Account.objects.filter(org_id=OuterRef(f"{prefix}org_id"))
        .order_by()
        .values("org_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=SHARED_ORG_MIN_ACCOUNTS)
    )
    return ~Q(**{f"{prefix}org_id": ""}) & Q(Exists(big))


def lookalike_q(prefix: str = "", *, now: datetime | None = None) -> Q:
    """Accounts (``prefix=""``) or rows pointing at one (``prefix="account__"``) that look
    like a legitimate customer."""
    cutoff = (now or timezone.now()) - timedelta(days=OLD_ACCOUNT_DAYS)
    paying = ~Q(**{f"{prefix}plan__in": [""]})
    for plan in sorted(FREE_PLANS - {""}):
        paying &= ~Q(**{f"{prefix}plan__iexact": plan})
    old_paying = paying & Q(**{f"{prefix}created_at__lt": cutoff})
    return _shared_org(prefix) | old_paying


def lookalike_flag(prefix: str = "", *, now: datetime | None = None) -> ExpressionWrapper:
    """Whether the row's account is a look-alike, as an annotation."""
    return ExpressionWrapper(lookalike_q(prefix, now=now), output_field=BooleanField())
