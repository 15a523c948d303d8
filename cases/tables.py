"""The console's tables. Every orderable column ends its ordering with the primary key, so
paging through a sorted listing is stable (and can page by cursor, ``cases/paging.py``);
``tests/cases/test_tables.py`` sorts each one.

A table is drawn by ``{% render_table %}`` with the project's table template,
``templates/django_tables2/console_table.html``: sort and pager links keep a real href and,
with htmx, swap only the listing. A table whose cells need more than the value (links,
badges, clipped hostile text) writes its row in its own template, which extends the project's
and fills the ``row`` block from ``row.record``.
"""

from functools import cached_property

import django_tables2 as tables
from django.utils.http import urlencode
from django_tables2 import RequestConfig

from cases.models import Case, CaseAccount
from cases.paging import AFTER, BEFORE, CURSOR_PARAMS, KeysetPaginator


class LinkedTable(tables.Table):
    """A table whose sort and pager links keep a real href (no JS needed) and, with htmx,
    swap only the listing (``hx_target``), pushing the URL when the listing is a page of its
    own (``push_url``). ``base_url`` prefixes the query string, so a table loaded as a section
    of another page still links to its own URL. The view sets the three."""

    hx_target = ""
    push_url = False
    base_url = ""

    @cached_property
    def _query(self) -> dict[str, list[str]]:
        """The request's query string without any page position."""
        drop = {self.prefixed_page_field, *CURSOR_PARAMS}
        return {k: v for k, v in self.request.GET.lists() if k not in drop}

    def _link(self, **params) -> str:
        """This listing's URL with ``params`` set (in place, or at the end) and any page
        position dropped."""
        query = {**self._query, **{k: [v] for k, v in params.items()}}
        return f"{self.base_url}?{urlencode(query, doseq=True)}"

    @cached_property
    def header_cells(self) -> list[dict]:
        """Per column: the bound column and, if it sorts, the link that sorts by it and
        ``"asc"`` or ``"desc"`` if the listing is sorted by it now."""
        cells = []
        for column in self.columns:
            cell = {"column": column, "href": "", "sorted": ""}
            if column.orderable:
                cell["href"] = self._link(
                    **{self.prefixed_order_by_field: column.order_by_alias.next}
                )
                if column.is_ordered:
                    cell["sorted"] = "desc" if column.order_by_alias.is_descending else "asc"
            cells.append(cell)
        return cells

    @cached_property
    def pager(self) -> dict | None:
        """First, Previous and Next links (by cursor when the ordering allows), or None."""
        page = getattr(self, "page", None)
        if page is None or not (page.has_previous() or page.has_next()):
            return None
        field = self.prefixed_page_field
        cursor_of = getattr(self.paginator, "cursor_of", lambda row: None)
        rows = list(page.object_list)
        links = {"number": page.number}
        if page.has_previous():
            links["first"] = self._link(**{field: 1})
            cursor = cursor_of(rows[0]) if rows and page.number > 2 else None
            previous = {field: page.number - 1, **({BEFORE: cursor} if cursor else {})}
            links["previous"] = self._link(**previous)
        if page.has_next():
            cursor = cursor_of(rows[-1]) if rows else None
            following = {field: page.number + 1, **({AFTER: cursor} if cursor else {})}
            links["next"] = self._link(**following)
        return links


class CaseTable(LinkedTable):
    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {"data-select-all": "cases", "aria-label": "Select all on this page"},
        },
    )
    title = tables.Column(verbose_name="Case", order_by=("title", "id"))
    risk = tables.Column(accessor="risk_score", verbose_name="Risk", order_by=("risk_score", "id"))
    campaign = tables.Column(
        accessor="campaign__label", verbose_name="Campaign", order_by=("campaign__label", "id")
    )
    accounts = tables.Column(
        accessor="account_count", verbose_name="Accounts", order_by=("account_count", "id")
    )
    # Counted per row shown (a subquery), so it does not sort: sorting would count every case.
    lookalikes = tables.Column(
        accessor="lookalike_count", verbose_name="Look-alikes", orderable=False
    )
    exchanges = tables.Column(
        accessor="exchange_count", verbose_name="Exchanges", order_by=("exchange_count", "id")
    )
    status = tables.Column(order_by=("status", "id"))
    priority = tables.Column(order_by=("priority", "id"))
    assignee = tables.Column(
        accessor="assignee__username",
        verbose_name="Assignee",
        order_by=("assignee__username", "id"),
    )
    age = tables.Column(accessor="opened_at", verbose_name="Age", order_by=("-opened_at", "-id"))
    due = tables.Column(accessor="due_at", verbose_name="Due", order_by=("due_at", "id"))
    closed = tables.Column(
        accessor="decided_at", verbose_name="Closed", order_by=("decided_at", "id")
    )

    class Meta:
        model = Case
        fields = ()
        sequence = (
            "select",
            "title",
            "risk",
            "campaign",
            "accounts",
            "lookalikes",
            "exchanges",
            "status",
            "priority",
            "assignee",
            "age",
            "due",
            "closed",
        )
        template_name = "cases/_partials/queue_table.html"
        order_by = "-risk"
        empty_text = "No cases match these filters."
        attrs = {"class": "table queue-table", "id": "queue-table"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.show_select = "select" in self.columns.names()
        self.show_closed = "closed" in self.columns.names()


class CaseAccountTable(LinkedTable):
    """The accounts on one case, with their latest signals and their other open cases."""

    account_id = tables.Column(
        accessor="account__account_id",
        verbose_name="Account",
        order_by=("account__account_id", "id"),
    )
    risk = tables.Column(accessor="risk_score", verbose_name="Risk", order_by=("risk_score", "id"))
    signals = tables.Column(orderable=False)
    created = tables.Column(
        accessor="account__created_at",
        verbose_name="Created",
        order_by=("account__created_at", "id"),
    )
    plan = tables.Column(
        accessor="account__plan", verbose_name="Plan", order_by=("account__plan", "id")
    )
    domain = tables.Column(
        accessor="account__email_domain",
        verbose_name="Email domain / org",
        order_by=("account__email_domain", "id"),
    )
    volume = tables.Column(verbose_name="Exchanges", order_by=("volume", "id"))
    other_cases = tables.Column(verbose_name="Other cases", order_by=("other_cases", "id"))
    actions = tables.Column(verbose_name="", orderable=False)

    class Meta:
        model = CaseAccount
        fields = ()
        sequence = (
            "account_id",
            "risk",
            "signals",
            "created",
            "plan",
            "domain",
            "volume",
            "other_cases",
            "actions",
        )
        template_name = "cases/_partials/accounts_table.html"
        order_by = "-risk"
        empty_text = "No accounts on this case."
        attrs = {"class": "table accounts-table", "id": "accounts-table"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.show_actions = "actions" in self.columns.names()


def paginate(request, table, *, per_page: int = 50) -> None:
    """Sort ``table`` by ``?sort=`` and page it by ``?page=`` and a cursor, never counting."""
    cursor = next(
        ((param, request.GET[param]) for param in CURSOR_PARAMS if request.GET.get(param)), None
    )
    RequestConfig(
        request,
        paginate={"paginator_class": KeysetPaginator, "per_page": per_page, "cursor": cursor},
    ).configure(table)
