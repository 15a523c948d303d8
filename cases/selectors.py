"""Reads that scope by user, join or aggregate.

Every page and fragment of the console starts from :func:`cases_visible_to`, so a URL
requested directly authorises exactly as the page that links to it.
"""

import logging
from contextlib import contextmanager, suppress
from datetime import UTC
from typing import NamedTuple
from uuid import uuid4

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.db.models.lookups import IsNull
from django.db.models.query import BaseIterable, ValuesListIterable

from cases.models import AuditEvent, Case, CaseAccount, Note, Notification, Tag
from detection.models import AccountScore

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


@contextmanager
def timestamps_parsed_in_c(connection):
    """Queries run inside read ``timestamptz`` values with psycopg's C parser.

    Django reads them with a Python subclass of psycopg's loader that puts its own time zone
    on each value; the subclass makes psycopg parse the text in Python too, about 2.5
    microseconds a value: 0.4 ms of a queue page's 150 timestamps (docs/benchmarks.md,
    "Pages"). When Django's zone is UTC, and so is the session's (Django sets it so), the C
    parser's values are the same, down to the ``tzinfo`` object. Anything else, or another
    database, reads as before.
    """
    if connection.vendor != "postgresql" or connection.timezone is not UTC:
        yield
        return
    with connection.execute_wrapper(_timestamps_in_c):
        yield


def _timestamps_in_c(execute, sql, params, many, context):
    from psycopg.types.datetime import TimestamptzLoader  # C when psycopg[binary] is installed

    cursor = context["cursor"].cursor
    cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
    return execute(sql, params, many, context)


class QueueCampaign(NamedTuple):
    id: int
    label: str

    @property
    def pk(self) -> int:
        return self.id


class QueueAssignee(NamedTuple):
    id: int
    username: str

    @property
    def pk(self) -> int:
        return self.id


class QueueRow:
    """One case of the queue, read as values rather than as a ``Case``: building the model
    instances for a page of 50 (each case with its campaign and assignee) cost 1.2 ms, three
    times what reading their values does (docs/benchmarks.md, "Pages"). It answers to the
    names the table and the paging's sort keys read (``risk_score``, ``campaign.label``,
    ``assignee.username``: the paths of ``CaseTable``'s orderings), and nothing else."""

    # Read in this order, one argument each.
    columns = (
        "id",
        "title",
        "status",
        "priority",
        "risk_score",
        "account_count",
        "exchange_count",
        "opened_at",
        "due_at",
        "decided_at",
        "campaign_id",
        "campaign__label",
        "assignee_id",
        "assignee__username",
    )
    __slots__ = (*columns[:-3], "campaign", "assignee_id", "assignee")

    def __init__(self, *values) -> None:
        (
            self.id,
            self.title,
            self.status,
            self.priority,
            self.risk_score,
            self.account_count,
            self.exchange_count,
            self.opened_at,
            self.due_at,
            self.decided_at,
            self.campaign_id,
            label,
            self.assignee_id,
            username,
        ) = values
        self.campaign = None if self.campaign_id is None else QueueCampaign(self.campaign_id, label)
        self.assignee = (
            None if self.assignee_id is None else QueueAssignee(self.assignee_id, username)
        )

    @property
    def pk(self) -> int:
        return self.id

    @property
    def is_open(self) -> bool:
        return self.status not in Case.CLOSED_STATUSES


class _QueueRowIterable(BaseIterable):
    """A queryset of cases read as :class:`QueueRow`: its own filters, ordering and slice,
    with the select list (and its joins) of ``QueueRow.columns``, added only now. Anything
    else asked of the queryset, such as the pager's ``values_list`` of a sort key, reads the
    cases table alone (a key read through the joins could not be an index-only scan)."""

    def __iter__(self):
        rows = self.queryset.values_list(*QueueRow.columns)
        with timestamps_parsed_in_c(connections[rows.db]):
            values = list(
                ValuesListIterable(
                    rows, chunked_fetch=self.chunked_fetch, chunk_size=self.chunk_size
                )
            )
        for row in values:
            yield QueueRow(*row)


def queue_rows(user) -> QuerySet[Case]:
    """The queue's cases, as :class:`QueueRow` when read: still a queryset of cases, which the
    filters, the table's sort and the pager's cursor refine."""
    rows = cases_visible_to(user)
    rows._iterable_class = _QueueRowIterable
    return rows


def case_for_page(user, pk: int) -> Case:
    """One case with what its header shows, in one query: its assignee and campaign, the
    names of its tags (``tag_names``, a list, by name) and whether another case could be
    merged into it (``has_mergeable``, as ``cases_mergeable_into(case, user).exists()``
    would say). Raises ``Case.DoesNotExist`` if the user may not see it.

    The tags were a second query (prefetched: 0.8 ms) and the merge check a third (0.45 ms),
    of a page that took 8 ms; as ORM subqueries in this one, Django spent 1.3 ms compiling
    them; written as SQL, with the tables' and columns' names taken from the models, they
    cost what the database takes (docs/benchmarks.md, "Pages").
    """
    tag_names, mergeable = _case_header_sql(connection)
    case = (
        cases_visible_to(user)
        .select_related("assignee", "campaign")
        .annotate(
            # Both are the models' names only, no value (see _case_header_sql).
            tag_text=RawSQL(tag_names, (), output_field=CharField()),  # noqa: S611
            has_mergeable=RawSQL(mergeable, (), output_field=BooleanField()),  # noqa: S611
        )
        .get(pk=pk)
    )
    names = case.tag_text.split(",") if case.tag_text else []
    # PostgreSQL sorts them in the query (by the column's collation, as ``Tag`` orders);
    # SQLite's GROUP_CONCAT cannot, and compares text byte by byte, as ``sorted`` does.
    case.tag_names = names if connection.vendor == "postgresql" else sorted(names)
    return case


def _case_header_sql(connection) -> tuple[str, str]:
    """SQL for the tag names of the case (comma-separated: a tag name is a slug) and for
    whether a live case of the same campaign could be merged into it (what
    :func:`_mergeable_into` selects; who may see them is the outer query's business, since a
    user who may see one case may see them all)."""
    q = connection.ops.quote_name
    case, tag = Case._meta, Tag._meta
    tags = case.get_field("tags")
    outer = f"{q(case.db_table)}.{q(case.pk.column)}"
    name = f"t.{q(tag.get_field('name').column)}"
    names = (
        f"STRING_AGG({name}, ',' ORDER BY {name})"
        if connection.vendor == "postgresql"
        else f"GROUP_CONCAT({name}, ',')"
    )
    campaign = q(case.get_field("campaign").column)
    tag_names = (
        f"SELECT {names} FROM {q(tags.m2m_db_table())} ct"  # noqa: S608 (the models' names)
        f" JOIN {q(tag.db_table)} t ON t.{q(tag.pk.column)} = ct.{q(tags.m2m_reverse_name())}"
        f" WHERE ct.{q(tags.m2m_column_name())} = {outer}"
    )
    mergeable = (
        f"EXISTS (SELECT 1 FROM {q(case.db_table)} m"  # noqa: S608 (the models' names)
        f" WHERE m.{campaign} = {q(case.db_table)}.{campaign}"
        f" AND m.{q(case.get_field('merged_into').column)} IS NULL"
        f" AND m.{q(case.pk.column)} <> {outer})"
    )
    return tag_names, mergeable


def case_for_accounts(user, pk: int) -> Case:
    """The case whose accounts section this is, with what the section shows of it and the
    number of accounts taken off it (``removed_account_count``), in one query; raises
    ``Case.DoesNotExist`` if the user may not see it."""
    q = connection.ops.quote_name
    link, case = CaseAccount._meta, Case._meta
    removed = (
        f"SELECT COUNT(*) FROM {q(link.db_table)} r"  # noqa: S608 (the models' names)
        f" WHERE r.{q(link.get_field('case').column)} = {q(case.db_table)}.{q(case.pk.column)}"
        f" AND r.{q(link.get_field('removed_at').column)} IS NOT NULL"
    )
    return (
        cases_visible_to(user)
        .only("title", "account_count")
        .annotate(removed_account_count=RawSQL(removed, (), output_field=IntegerField()))  # noqa: S611
        .get(pk=pk)
    )


def case_accounts_table_rows(case: Case, *, removed: bool = False) -> QuerySet[CaseAccount]:
    """The accounts on ``case`` with their latest signals, volume and other open cases.

    Signals and volume come from the account's latest ``AccountScore`` (the run that last
    looked at it), read through two correlated subqueries that the ``accountscore`` account
    index answers per row; the table pages, so it is never more than a page of them. Only
    the columns the table shows are read, and of the people who added or removed an account
    only their names (``added_by_name``, ``removed_by_name``): whole rows of three models
    were half of what this query cost Django to compile and read. The three subqueries are
    SQL (``_account_columns_sql``): as ORM subqueries Django took 1.5 ms building and
    compiling them, for a page whose whole query takes PostgreSQL under a millisecond
    (docs/benchmarks.md, "Pages"). The queryset may be filtered, sorted and sliced, not used
    inside another query (the SQL names this table, not an alias).
    """
    signals, volume, other_cases = _account_columns_sql(connection)
    username = User.USERNAME_FIELD
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
            # The models' names only, no value (see _account_columns_sql).
            signals=RawSQL(signals, (), output_field=JSONField()),  # noqa: S611
            volume=RawSQL(volume, (), output_field=BigIntegerField()),  # noqa: S611
            other_cases=RawSQL(other_cases, (), output_field=IntegerField()),  # noqa: S611
        )
    )


def _account_columns_sql(connection) -> tuple[str, str, str]:
    """Per row of ``cases_caseaccount``: the signals and the exchange count of the account's
    latest score (0 without one), and how many other live cases hold the account."""
    q = connection.ops.quote_name
    link, score, case = CaseAccount._meta, AccountScore._meta, Case._meta

    def col(opts, name: str) -> str:
        return q(opts.get_field(name).column)

    row = q(link.db_table)
    latest = (
        f"FROM {q(score.db_table)} s WHERE s.{col(score, 'account')} = {row}.{col(link, 'account')}"
        f" ORDER BY s.{col(score, 'run')} DESC LIMIT 1"
    )
    signals = f"SELECT s.{col(score, 'signals')} {latest}"
    volume = f"COALESCE((SELECT s.{col(score, 'exchange_count')} {latest}), 0)"
    other_cases = (
        f"SELECT COUNT(*) FROM {row} o"  # noqa: S608 (the models' names)
        f" JOIN {q(case.db_table)} c ON c.{q(case.pk.column)} = o.{col(link, 'case')}"
        f" WHERE o.{col(link, 'account')} = {row}.{col(link, 'account')}"
        f" AND o.{col(link, 'removed_at')} IS NULL"
        f" AND o.{col(link, 'case')} <> {row}.{col(link, 'case')}"
        f" AND c.{col(case, 'merged_into')} IS NULL"
    )
    return signals, volume, other_cases


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


# The queue's filter bar and bulk toolbar list every worker's username and every tag on each
# page view: two queries, 1.7 ms of a 15 ms page (planning the workers' six-table join is
# most of it; docs/benchmarks.md, "Pages"), for lists that change when someone is given a
# role or a tag is first used. So they are kept in the cache under a version that
# ``queue_choices_changed`` replaces whenever a user, group, permission or tag changes
# (``cases/receivers.py``). A new version is a new key, so a page that read the old lists
# while the change was being made can only store them under the version nobody reads any
# more. With CACHE_URL (Redis) every process sees a new version at once; without it each
# process has its own cache, and a change made in another process (a management command,
# another web worker) shows here when the lists expire (after QUEUE_CHOICES_TIMEOUT seconds,
# as it does if the cache could not be told). A cache that does not answer costs the page the
# two queries, and is reported by /healthz.
QUEUE_CHOICES_VERSION = "cases:queue-choices:version"
QUEUE_CHOICES_TIMEOUT = 300


def queue_choice_names() -> tuple[list[str], list[str]]:
    """The usernames of ``users_who_work_cases`` and the names of every tag, both sorted."""
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
        }
        if key is not None:
            with suppress(Exception):
                cache.set(key, names, QUEUE_CHOICES_TIMEOUT)
    return names["workers"], names["tags"]


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
