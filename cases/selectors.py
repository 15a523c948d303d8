"""Reads that scope by user, join or aggregate.

Every page and fragment of the console starts from :func:`cases_visible_to`, so a URL
requested directly authorises exactly as the page that links to it.
"""

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.db.models.lookups import IsNull

from cases.models import AuditEvent, Case, CaseAccount, Note, Notification, Tag
from detection.models import AccountScore

User = get_user_model()


def cases_visible_to(user) -> QuerySet[Case]:
    """Every case for a user who may view cases; none for anyone else."""
    if not user.is_authenticated or not user.has_perm("cases.view_case"):
        return Case.objects.none()
    return Case.objects.all()


def cases_for_queue(user) -> QuerySet[Case]:
    """The queue's rows: what the table shows, joined in one query."""
    return cases_visible_to(user).select_related("assignee", "campaign")


def case_for_page(user, pk: int) -> Case:
    """One case with what its header shows; raises ``Case.DoesNotExist`` if not visible."""
    return (
        cases_visible_to(user)
        .select_related("assignee", "campaign", "merged_into")
        .prefetch_related("tags")
        .get(pk=pk)
    )


def case_accounts_table_rows(case: Case, *, removed: bool = False) -> QuerySet[CaseAccount]:
    """The accounts on ``case`` with their latest signals, volume and other open cases.

    Signals and volume come from the account's latest ``AccountScore`` (the run that last
    looked at it), read through two correlated subqueries that the ``accountscore`` account
    index answers per row; the table pages, so it is never more than a page of them.
    """
    latest = AccountScore.objects.filter(account=OuterRef("account")).order_by("-run_id")
    other_cases = (
        CaseAccount.objects.filter(account=OuterRef("account"), removed_at__isnull=True)
        .exclude(case=OuterRef("case"))
        .filter(case__merged_into__isnull=True)
        .order_by()
        .values("account")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = CaseAccount.objects.filter(case=case, removed_at__isnull=not removed)
    return rows.select_related("account", "removed_by", "added_by").annotate(
        signals=Subquery(latest.values("signals")[:1]),
        volume=Coalesce(Subquery(latest.values("exchange_count")[:1]), 0),
        other_cases=Coalesce(Subquery(other_cases), 0),
    )


def case_removed_account_count(case: Case) -> int:
    return CaseAccount.objects.filter(case=case, removed_at__isnull=False).count()


def notes_of_case(case: Case) -> QuerySet[Note]:
    return (
        Note.objects.filter(case=case)
        .select_related("author")
        .annotate(revision_count=Count("revisions"))
        .order_by("-created_at", "-id")
    )


def case_timeline(case: Case) -> QuerySet[AuditEvent]:
    """Audit events of ``case`` and of every case merged into it, newest first."""
    # The ids first, so the events come off the (case, -at) index rather than an OR scan.
    ids = [case.pk, *Case.objects.filter(merged_into=case).values_list("pk", flat=True)]
    return AuditEvent.objects.filter(case_id__in=ids).select_related("actor").order_by("-at", "-id")


def users_who_work_cases() -> QuerySet:
    """People a case can be assigned to: members of a group holding ``cases.work_case``."""
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(groups__permissions__codename="work_case")
            & Q(groups__permissions__content_type__app_label="cases")
            | Q(is_superuser=True)
        )
        .distinct()
        .order_by("username")
    )


def users_who_view_cases() -> QuerySet:
    """People who can read a case, so may be @mentioned on it."""
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(groups__permissions__codename="view_case")
            & Q(groups__permissions__content_type__app_label="cases")
            | Q(is_superuser=True)
        )
        .distinct()
    )


def tags_in_use() -> QuerySet[Tag]:
    return Tag.objects.order_by("name")


def notifications_for(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("case").order_by("-created_at")


def cases_mergeable_into(case: Case, user) -> QuerySet[Case]:
    """Other live cases of the same campaign that ``case`` could absorb."""
    if case.campaign_id is None:
        return Case.objects.none()
    return (
        cases_visible_to(user)
        .filter(campaign_id=case.campaign_id, merged_into__isnull=True)
        .exclude(pk=case.pk)
        .order_by("-risk_score", "-id")
    )


def account_has_cases(account_id: str) -> Exists:
    """Cases holding the account with this exact id (the queue's "other cases" jump)."""
    return Exists(
        CaseAccount.objects.filter(
            case=OuterRef("pk"), account__account_id=account_id, removed_at__isnull=True
        )
    )


# A search term found in at most this many places is looked up through the indexes (the
# trigram indexes of migration 0003 on PostgreSQL) and its cases sorted; a term found in more
# is matched while walking the queue in its own order, where matches are dense enough (1% of
# 100,000 cases or more) that a page fills after a short walk. Either way a search reads
# neither every case nor every note.
TEXT_SEARCH_FEW = 1000


def case_text_match(value: str) -> Q:
    """Cases whose title or note text contains ``value``, that hold the account with exactly
    that id, or whose number it is (``#12`` or ``12``). Costs one query, bounded."""
    titles = Case.objects.filter(title__icontains=value).order_by().values_list("pk")
    accounts = CaseAccount.objects.filter(account__account_id=value).values_list("case_id")
    notes = Note.objects.filter(body__icontains=value).order_by().values_list("case_id")
    few = min(TEXT_SEARCH_FEW, (connection.features.max_query_params or 10**6) // 2)
    found = list(titles.union(accounts, notes, all=True)[: few + 1])
    if len(found) <= few:
        match = Q(pk__in={pk for (pk,) in found})
    else:
        # Per row walked: the title, the cases of that one account (a small hashed set), and
        # a note of this case. The note test is a scalar subquery, not EXISTS: PostgreSQL
        # would turn EXISTS into a hash of every matching note in the table first.
        a_note = Note.objects.filter(case=OuterRef("pk"), body__icontains=value).values("pk")
        match = (
            Q(title__icontains=value)
            | Exists(CaseAccount.objects.filter(case=OuterRef("pk"), account__account_id=value))
            | Q(IsNull(Subquery(a_note[:1]), False))
        )
    number = value.removeprefix("#")
    if number.isdigit() and len(number) < 18:
        match |= Q(pk=int(number))
    return match
