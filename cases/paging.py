"""Paging the console's tables: no ``COUNT(*)``, and no ``OFFSET`` behind a Next link.

django-tables2's default paginator counts the whole filtered table on every page view; its
``LazyPaginator`` instead fetches one row past the page to know whether there is a next one.
An ``OFFSET`` still reads and throws away every row before the page, though: page 1,000 of
the queue would read 50,000 cases first (docs/benchmarks.md, "Pages"). So the Next
and Previous links carry a cursor, the sort key of the last (or first) row on the page, and
the next page is read from where that row sits in the index ("keyset" paging, DESIGN.md
"Measured"): page 1,000 costs what page 2 does. A bare ``?page=N`` (typed, or an old link)
first reads the sort key of the row just before the page, ``OFFSET`` but of the key alone,
which an index can answer without visiting the table (``case_risk_id_status_idx`` for the
default queue), then reads the page from there by key, rather than a plain ``OFFSET`` that
joins and reads every row before the page. A listing sorted on
something no cursor can express (an annotation) still pages by ``OFFSET``, and its links
carry page numbers only.

A cursor is ``<value>~<pk>`` for an ordering ``(field, pk)``, or ``<pk>`` alone when the
field is NULL (or the ordering is the primary key alone). It is a position, not a secret:
a tampered cursor shows another page of the same visible rows, or the first page.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import EmptyPage, Page
from django.db import connections
from django.db.models import Field, Model, Q, QuerySet
from django.utils import timezone
from django_tables2.paginators import LazyPaginator
from django_tables2.rows import BoundRows

AFTER = "after"
BEFORE = "before"
CURSOR_PARAMS = (AFTER, BEFORE)


@dataclass(frozen=True)
class SortKey:
    """One term of a listing's ``ORDER BY``: a field path, its direction, its model field."""

    path: str
    descending: bool
    field: Field
    nullable: bool

    def value_of(self, record: Model):
        value = record
        for part in self.path.split("__"):
            if value is None:
                return None
            value = getattr(value, part)
        return value


def _field_at(model: type[Model], path: str) -> tuple[Field | None, bool]:
    """The concrete field at the end of ``path`` (forward relations only), and whether the
    path can be NULL; ``(None, False)`` for anything else (an annotation, a reverse join)."""
    nullable = False
    parts = path.split("__")
    for index, part in enumerate(parts):
        try:
            field = model._meta.pk if part == "pk" else model._meta.get_field(part)
        except FieldDoesNotExist:
            return None, False
        nullable = nullable or field.null
        last = index == len(parts) - 1
        if field.is_relation:
            # Ordering by a relation itself follows the related model's ordering: not a key.
            if last or not (field.many_to_one or field.one_to_one) or not field.concrete:
                return None, False
            model = field.related_model
    return field, nullable


def sort_keys(queryset: QuerySet) -> list[SortKey] | None:
    """The ordering of ``queryset`` as keys a cursor can seek on, or None if it has none.

    Supported: ``(pk,)`` and ``(field, pk)`` in any directions, ``field`` a model field
    (through forward relations) that may be NULL. That is every sortable column of the
    queue: each ends its ordering with the primary key (``cases/tables.py``).
    """
    query = queryset.query
    terms = query.order_by or (query.get_meta().ordering if query.default_ordering else ())
    if not terms or len(terms) > 2 or not all(isinstance(t, str) for t in terms):
        return None
    keys = []
    for term in terms:
        path = term.removeprefix("-")
        field, nullable = _field_at(queryset.model, path)
        if field is None or path.startswith("?"):
            return None
        keys.append(SortKey(path, term.startswith("-"), field, nullable))
    if keys[-1].field != queryset.model._meta.pk:
        return None
    return keys


def _as_text(value) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    return str(value)


def encode_cursor(keys: list[SortKey], record: Model) -> str:
    pk = keys[-1].value_of(record)
    if len(keys) == 1:
        return str(pk)
    value = keys[0].value_of(record)
    return str(pk) if value is None else f"{_as_text(value)}~{pk}"


def decode_cursor(keys: list[SortKey], text: str) -> list | None:
    """The key values in ``text``, or None if it is not a cursor for these keys."""
    head, sep, pk_text = text.rpartition("~")
    try:
        pk = keys[-1].field.to_python(pk_text)
        if len(keys) == 1:
            return None if sep else [pk]
        if not sep:
            return [None, pk] if keys[0].nullable else None
        value = keys[0].field.to_python(head)
    except (ValidationError, ValueError, TypeError, OverflowError):
        return None
    if pk is None or value is None:
        return None
    if isinstance(value, datetime) and settings.USE_TZ:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)  # only a hand-made cursor has no offset
        try:
            # In UTC, as the database stores it: Python takes offsets of up to a day, but
            # PostgreSQL refuses any past 15:59, and a hand-made cursor may carry one.
            value = value.astimezone(UTC)
        except OverflowError:  # before year 1 or after 9999 once in UTC: no instant
            return None
    return [value, pk]


def seek_conditions(
    keys: list[SortKey], values: list, *, forward: bool, nulls_largest: bool
) -> list[Q]:
    """The rows after the cursor (before it, when not ``forward``), as conditions to read in
    turn, in the listing's order.

    Each condition is one contiguous run of the ordering that an index on the sort key can
    start at, as ``f <= v AND (f < v OR pk < p)`` rather than the bare ``OR`` form (which
    PostgreSQL cannot start an index scan from). A nullable key has two runs, its values and
    its NULLs, in the order the database sorts them (PostgreSQL: NULL above every value,
    SQLite: below), so reading past the cursor may take a second query.
    """

    def descending(key: SortKey) -> bool:
        return key.descending if forward else not key.descending

    pk_key, pk = keys[-1], values[-1]
    past_pk = Q(**{f"{pk_key.path}__{'lt' if descending(pk_key) else 'gt'}": pk})
    if len(keys) == 1:
        return [past_pk]
    key, value = keys[0], values[0]
    down = descending(key)
    nulls_last = down != nulls_largest
    is_null = Q(**{f"{key.path}__isnull": True})
    if value is None:
        rest_of_nulls = is_null & past_pk
        not_null = Q(**{f"{key.path}__isnull": False})
        return [rest_of_nulls] if nulls_last else [rest_of_nulls, not_null]
    within = Q(**{f"{key.path}__{'lte' if down else 'gte'}": value})
    beyond = Q(**{f"{key.path}__{'lt' if down else 'gt'}": value})
    rest_of_values = within & (beyond | past_pk)
    return [rest_of_values, is_null] if key.nullable and nulls_last else [rest_of_values]


class KeysetPaginator(LazyPaginator):
    """``LazyPaginator`` (no count) that reads from a cursor when the request has one, with a
    cap on ``per_page`` (``?per_page=`` is honoured up to ``MAX_PER_PAGE``).

    ``object_list`` is a queryset, or a table's rows (what ``Table.paginate`` passes), whose
    queryset, already in the table's order, is what the cursor seeks in. ``cursor`` is
    ``(AFTER or BEFORE, text)`` or None.
    """

    MAX_PER_PAGE = 200
    # Rows before a page past which no listing reaches: a typed ``?page=`` beyond it is
    # treated as past the end, rather than sent to the database as an offset no integer
    # column can hold.
    MAX_OFFSET = 2**31

    def __init__(self, object_list, per_page, *, cursor=None, **kwargs):
        super().__init__(object_list, max(1, min(int(per_page), self.MAX_PER_PAGE)), **kwargs)
        queryset = object_list
        if isinstance(object_list, BoundRows):  # a table's rows: BoundRows -> TableData -> qs
            queryset = getattr(object_list.data, "data", None)
        self.queryset = queryset if isinstance(queryset, QuerySet) else None
        self.keys = sort_keys(self.queryset) if self.queryset is not None else None
        self.cursor = cursor

    def page(self, number):
        # A cursor is used once: if its page is empty (the rows it pointed past are gone),
        # the page number decides, as it does without a cursor.
        cursor, self.cursor = self.cursor, None
        if cursor and self.keys:
            values = decode_cursor(self.keys, cursor[1])
            page = self._page_from(values, cursor[0] == AFTER, number) if values else None
            if page is not None:
                return page
        number = self.validate_number(number or 1)
        if (number - 1) * self.per_page > self.MAX_OFFSET:
            raise EmptyPage("That page is past the end of any listing")
        if number > 1 and self.keys:
            # A page by number: seek from the row before it (see the module's docstring).
            values = self._key_before_page(number)
            page = self._page_from(values, True, number) if values else None
            if page is not None:
                return page
        return super().page(number)

    def _key_before_page(self, number: int) -> list | None:
        """The sort key of the last row of page ``number - 1``, or None past the end."""
        offset = (number - 1) * self.per_page - 1
        paths = [key.path for key in self.keys]
        found = list(self.queryset.values_list(*paths)[offset : offset + 1])
        return list(found[0]) if found else None

    def _page_from(self, values: list, forward: bool, number) -> Page | None:
        """The page after (``forward``) or before the row whose sort key is ``values``."""
        rows = self.queryset if forward else self.queryset.reverse()
        nulls_largest = connections[self.queryset.db].features.nulls_order_largest
        wanted = self.per_page + 1
        records = []
        for condition in seek_conditions(
            self.keys, values, forward=forward, nulls_largest=nulls_largest
        ):
            records += rows.filter(condition)[: wanted - len(records)]
            if len(records) >= wanted:
                break
        if not records:
            return None
        more = len(records) > self.per_page
        records = records[: self.per_page]
        number = max(2, int(number or 2))
        if forward:
            has_next = more
        else:
            records.reverse()
            has_next = True
            number = number if more else 1
        self._num_pages = number + 1 if has_next else number
        self._final_num_pages = None if has_next else number
        if isinstance(self.object_list, BoundRows):
            records = BoundRows(records, table=self.object_list.table)
        return Page(records, number, self)

    def cursor_of(self, row) -> str | None:
        """The cursor of a record, or of a table row's record; None if the ordering has none."""
        record = getattr(row, "record", row)
        return encode_cursor(self.keys, record) if self.keys else None
