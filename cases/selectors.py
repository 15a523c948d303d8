"""Reads that scope by user, join or aggregate.

Every page and fragment of the console starts from :func:`cases_visible_to`, so a URL
requested directly authorises exactly as the page that links to it.
"""

import logging
from contextlib import suppress
from uuid import uuid4

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import IsNull

from cases.labels.selectors import reason_choices
from cases.lookalikes import lookalike_flag, lookalike_q
from cases.models import AuditEvent, Case, CaseAccount, Note, Notification, SavedView, Tag
from detection.models import Account, AccountScore, DetectionRun

User = get_user_model()
logger = logging.getLogger(__name__)


def cases_visible_to(user) -> QuerySet[Case]:
    """Every case for a user who may view cases; none for anyone else."""
    if not user.is_authenticated or not user.has_perm("cases.view_case"):
        return Case.objects.none()
    return Case.objects.all()


def cases_for_queue(user) -> QuerySet[Case]:
    """The queue's cases as ``Case`` instances with their assignee and campaign joined (what
    the exports read; the queue's page reads :func:`queue_rows`)."""
    return cases_visible_to(user).select_related("assignee", "campaign")


# What a queue row shows (templates/cases/_partials/queue_table.html): the case's columns,
# its campaign's label and its assignee's name. Not the explanation, a JSON document per case
# that only the case page reads.
QUEUE_ROW_FIELDS = (
    "title",
    "status",
    "priority",
    "risk_score",
    "account_count",
    "exchange_count",
    "opened_at",
    "due_at",
    "decided_at",
    "campaign__label",
    "assignee__username",
)


def queue_rows(user) -> QuerySet[Case]:
    """The queue's cases with what a row shows, and how many of each case's live accounts
    look like customers (``lookalike_count``); the filters, the table's sort and the pager's
    cursor refine it."""
    return (
        cases_for_queue(user)
        .only(*QUEUE_ROW_FIELDS)
        .annotate(lookalike_count=_count(case_lookalikes(OuterRef("pk"))))
    )


def with_latest_traffic(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """Accounts with the exchange count of their latest score (``traffic``, 0 when never
    scored) and that score's run (``run_id``): one correlated subquery per account on the
    ``accountscore`` account index."""
    latest = AccountScore.objects.filter(account=OuterRef("pk")).order_by("-run_id")
    return accounts.annotate(
        traffic=Coalesce(Subquery(latest.values("exchange_count")[:1]), 0),
        run_id=Subquery(latest.values("run_id")[:1]),
    )


def run_total_exchanges(run_id: int | None) -> int | None:
    """All the exchanges detection run ``run_id`` saw (the denominator of a traffic share)."""
    if not run_id:
        return None
    run = DetectionRun.objects.filter(pk=run_id).only("counts").first()
    return int(((run.counts or {}) if run else {}).get("exchanges") or 0) or None


def case_traffic(case: Case) -> tuple[int, float]:
    """The exchanges of the case's live accounts and their share of all traffic, counted as a
    proposal's blast radius counts them, so the case and the proposal say the same."""
    live = Account.objects.filter(case_links__case=case, case_links__removed_at__isnull=True)
    rows = list(with_latest_traffic(live).values_list("traffic", "run_id"))
    exchanges = sum(traffic for traffic, _ in rows)
    total = run_total_exchanges(max((run for _, run in rows if run), default=None))
    return exchanges, round(exchanges / total, 6) if total else 0.0


def case_lookalikes(case) -> QuerySet[CaseAccount]:
    """The live accounts of ``case`` (a case, its pk or an ``OuterRef``) that look like
    legitimate customers (``cases.lookalikes``)."""
    return CaseAccount.objects.filter(case=case, removed_at__isnull=True).filter(
        lookalike_q("account__")
    )


def case_for_page(user, pk: int) -> Case:
    """One case with what its header shows: its assignee and campaign, the names of its tags
    (``tag_names``, a list, by name) and whether another case could be merged into it
    (``has_mergeable``, as ``cases_mergeable_into(case, user).exists()`` would say; who may
    see those cases is the outer query's business, since a user who may see one case may see
    them all). Raises ``Case.DoesNotExist`` if the user may not see it."""
    mergeable = Case.objects.filter(
        campaign=OuterRef("campaign"), merged_into__isnull=True
    ).exclude(pk=OuterRef("pk"))
    case = (
        cases_visible_to(user)
        .select_related("assignee", "campaign")
        .annotate(has_mergeable=Exists(mergeable))
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name").only("name"), to_attr="tag_list")
        )
        .get(pk=pk)
    )
    case.tag_names = [tag.name for tag in case.tag_list]
    return case


def case_for_accounts(user, pk: int) -> Case:
    """The case whose accounts section this is, with what the section shows of it and the
    number of accounts taken off it (``removed_account_count``) and of its look-alikes
    (``lookalike_count``, as the summary card counts them), in one query; raises
    ``Case.DoesNotExist`` if the user may not see it."""
    removed = CaseAccount.objects.filter(case=OuterRef("pk"), removed_at__isnull=False)
    return (
        cases_visible_to(user)
        .only("title", "account_count")
        .annotate(
            removed_account_count=_count(removed),
            lookalike_count=_count(case_lookalikes(OuterRef("pk"))),
        )
        .get(pk=pk)
    )


def _count(rows: QuerySet) -> Coalesce:
    """How many of ``rows`` (correlated to the outer query by ``OuterRef``) there are, as a
    scalar subquery: one count per outer row, not a join and ``GROUP BY`` of the outer query."""
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def case_accounts_table_rows(case: Case, *, removed: bool = False) -> QuerySet[CaseAccount]:
    """The accounts on ``case`` with their latest signals, volume and other open cases.

    Signals and volume come from the account's latest ``AccountScore`` (the run that last
    looked at it), read through correlated subqueries that the ``accountscore`` account index
    answers per row; the table pages, so it is never more than a page of them. Only the
    columns the table shows are read, and of the people who added or removed an account only
    their names (``added_by_name``, ``removed_by_name``).
    """
    username = User.USERNAME_FIELD
    latest = AccountScore.objects.filter(account=OuterRef("account")).order_by("-run_id")
    others = CaseAccount.objects.filter(
        account=OuterRef("account"), removed_at__isnull=True, case__merged_into__isnull=True
    ).exclude(case=OuterRef("case"))
    rows = CaseAccount.objects.filter(case=case, removed_at__isnull=not removed)
    return (
        rows.select_related("account")
        .only(
            "case_id",
            "risk_score",
            "added_reason",
            "removed_at",
            "removed_reason",
            "account__account_id",
            "account__country",
            "account__created_at",
            "account__plan",
            "account__email_domain",
            "account__org_id",
        )
        .annotate(
            added_by_name=F(f"added_by__{username}"),
            removed_by_name=F(f"removed_by__{username}"),
            signals=Subquery(latest.values("signals")[:1]),
            volume=Coalesce(Subquery(latest.values("exchange_count")[:1]), 0),
            other_cases=_count(others),
            lookalike=lookalike_flag("account__"),
        )
    )


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


# The queue's filter bar and bulk toolbar list every worker's username, every tag and the
# reason codes on each page view: three queries, the workers' a six-table join, for lists
# that change only when someone is given a role, a tag is first used or an admin edits the
# reasons. So they are kept in the cache under a version that ``queue_choices_changed``
# replaces whenever a user, group, permission, tag or reason code changes
# (``cases/receivers.py``). A new version is a new key, so a page that read the old lists
# while the change was being made can only store them under the version nobody reads any
# more. With CACHE_URL (Redis) every process sees a new version at once; without it each
# process has its own cache, and a change made in another process (a management command,
# another web worker) shows here when the lists expire (after QUEUE_CHOICES_TIMEOUT seconds,
# as it does if the cache could not be told). A cache that does not answer costs the page the
# three queries, and is reported by /healthz.
QUEUE_CHOICES_VERSION = "cases:queue-choices:version"
QUEUE_CHOICES_TIMEOUT = 300


def queue_choice_names() -> tuple[list[str], list[str]]:
    """The usernames of ``users_who_work_cases`` and the names of every tag, both sorted."""
    names = _queue_choices()
    return names["workers"], names["tags"]


def queue_reason_choices() -> list:
    """The active reason codes grouped by outcome, for the bulk toolbar's dismiss."""
    return _queue_choices()["reasons"]


def _queue_choices() -> dict:
    try:
        version = cache.get(QUEUE_CHOICES_VERSION)
        if version is None:
            cache.add(QUEUE_CHOICES_VERSION, uuid4().hex, timeout=None)
            version = cache.get(QUEUE_CHOICES_VERSION, "")
        key = f"cases:queue-choices:{version}"
        names = cache.get(key)
    except Exception as exc:  # a cache that does not answer costs a query, not the page
        logger.warning("queue choices: cache unavailable: %s", exc)
        key, names = None, None
    if names is None:
        names = {
            "workers": list(users_who_work_cases().values_list(User.USERNAME_FIELD, flat=True)),
            "tags": list(tags_in_use().values_list("name", flat=True)),
            "reasons": reason_choices()[1:],
        }
        if key is not None:
            with suppress(Exception):
                cache.set(key, names, QUEUE_CHOICES_TIMEOUT)
    return names


def queue_choices_changed() -> None:
    """Forget the cached names: now, so this process's next page (and the rest of this
    transaction) reads the change, and again once the transaction commits, so a page that
    read the lists before the commit cannot have cached them under the current version."""

    def forget() -> None:
        try:
            cache.set(QUEUE_CHOICES_VERSION, uuid4().hex, timeout=None)
        except Exception as exc:  # the change itself must not fail for the cache's sake
            logger.error("queue choices: could not forget the cached names: %s", exc)

    forget()
    transaction.on_commit(forget)


def notifications_for(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("case").order_by("-created_at")


def _mergeable_into(user, pk, campaign_id) -> QuerySet[Case]:
    return (
        cases_visible_to(user)
        .filter(campaign_id=campaign_id, merged_into__isnull=True)
        .exclude(pk=pk)
    )


def cases_mergeable_into(case: Case, user) -> QuerySet[Case]:
    """Other live cases of the same campaign that ``case`` could absorb."""
    if case.campaign_id is None:
        return Case.objects.none()
    return _mergeable_into(user, case.pk, case.campaign_id).order_by("-risk_score", "-id")


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


def saved_views_for(user) -> tuple[list[SavedView], list[SavedView]]:
    """The user's own views, and the views colleagues shared, each by name: one query."""
    views = list(SavedView.objects.visible_to(user).order_by("name", "id"))
    return [v for v in views if v.owner_id == user.pk], [v for v in views if v.owner_id != user.pk]
