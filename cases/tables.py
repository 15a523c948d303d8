"""The console's tables. Every orderable column ends its ordering with the primary key, so
paging through a sorted listing is stable (and can page by cursor, ``cases/paging.py``);
``tests/cases/test_tables.py`` sorts each one.

The tables own their columns, their order, sorting and paging, but not the drawing of their
cells: django-tables2's per-cell renderers cost about 50 ms for 50 rows (a signature
inspection per cell, and a ``Template`` compiled from source per ``TemplateColumn`` cell).
The queue's rows are written by ``CaseTable.rows_html``, the accounts' by their template
from ``CaseAccountTable.display_rows``; the header row and the pager of both are written by
``LinkedTable`` (``header_html``, ``pager_html``), every value escaped. The templates are
included in the page's own context, not through ``{% render_table %}``, which renders with a
fresh request context and so runs every context processor (and its queries) a second time.
See docs/benchmarks.md, "Pages".
"""

from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from html import escape

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import conditional_escape
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django_tables2 import RequestConfig

from cases.models import Case, CaseAccount
from cases.paging import AFTER, BEFORE, CURSOR_PARAMS, KeysetPaginator
from common.templatetags.display import age_text

STATUS_LABELS = dict(Case.Status.choices)
PRIORITY_LABELS = dict(Case.Priority.choices)

# The queue's row is written by ``CaseTable.rows_html``, an f-string a row from values escaped
# once each, rather than in a template: a template spends several microseconds a variable, 30
# variables a row, 50 rows a page, which was half the queue page's time. ``format_html`` cost
# 10-14 ms a page too (a ``conditional_escape`` and a lazy-string check per value, a SafeString
# per piece), and ``str.format`` with twenty named fields a row a quarter of what is left
# (docs/benchmarks.md, "Pages"). Every value goes through ``escape`` (the standard library's,
# which is what Django's ``escape`` calls) or is a number or ISO date formatted there. Keep the
# cells in the order of CaseTable.Meta.sequence; static/app.js reads data-href and
# data-assign-url, and .row-link takes the focus.
QUEUE_SELECT = (
    '<td><input type="checkbox" name="cases" value="{pk}" form="bulk-form"'
    ' aria-label="Select case #{pk}"></td>'
)
EMPTY = '<span class="muted">—</span>'
QUEUE_CAMPAIGN = '<a href="{url}?campaign={pk}&amp;status=any"{title}>{label}</a>'
OVERDUE = ' class="overdue"'
OVERDUE_ROW = ' class="overdue-row"'


class _ColumnsSharedByTables(OrderedDict):
    """A table class's columns, which django-tables2 deep-copies for every table it makes in
    case one table changes a column (0.5 ms a queue page). Ours never do: no
    ``columns.hide()`` or ``show()``, no attribute set on a column after the class is made;
    what varies per table (ordering, excluded columns, the page) is kept on the table and its
    bound columns, which are made anew for each table. So each table shares the class's."""

    def __deepcopy__(self, memo):
        return OrderedDict(self)


class LinkedTable(tables.Table):
    """A table whose sort and pager links keep a real href (no JS needed) and, with htmx,
    swap only the listing (``hx_target``), pushing the URL when the listing is a page of its
    own (``push_url``). ``base_url`` prefixes the query string, so a table loaded as a section
    of another page still links to its own URL. The view sets the three."""

    hx_target = ""
    push_url = False
    base_url = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.base_columns = _ColumnsSharedByTables(cls.base_columns)

    def paginate(self, paginator_class, per_page=None, page=1, *args, **kwargs):
        """django-tables2's, but the page holds the records themselves rather than a
        ``BoundRow`` for each: nothing here reads a cell through a bound row (the rows are
        written from the records, see ``QUEUE_SELECT``), and each ``BoundRow`` is a
        reference cycle (its ``cells`` refer back to it), which only Python's cycle
        collector frees: a fifth of the objects a queue page left it, whose collections
        are much of the page's p95 (docs/benchmarks.md, "Pages")."""
        per_page = per_page or self._meta.per_page
        self.paginator = paginator_class(self.data, per_page, *args, **kwargs)
        self.page = self.paginator.page(page)
        return self

    @cached_property
    def _query(self) -> dict[str, list[str]]:
        """The request's query string without any page position."""
        drop = {self.prefixed_page_field, *CURSOR_PARAMS}
        return {k: v for k, v in self.request.GET.lists() if k not in drop}

    def _link(self, **params) -> str:
        """This listing's URL with ``params`` set and any page position dropped."""
        query = {**self._query, **params}
        return f"{self.base_url}?{urlencode(query, doseq=True)}"

    def _sort_link(self) -> Callable[[str], str]:
        """``_link`` with the sort parameter set to a value, for many values: what comes
        before and after it in the query string is encoded once, not once a column."""
        name = self.prefixed_order_by_field
        items = list(self._query.items())
        at = next((i for i, (key, _) in enumerate(items) if key == name), len(items))
        head = urlencode(items[:at], doseq=True)
        tail = urlencode(items[at + 1 :], doseq=True)

        def link(value: str) -> str:
            parts = (head, urlencode({name: value}), tail)
            return f"{self.base_url}?{'&'.join(part for part in parts if part)}"

        return link

    @cached_property
    def header_cells(self) -> list[dict]:
        """Per column: its header and, if it sorts, the link that sorts by it."""
        cells = []
        sort_link = self._sort_link()
        for column in self.columns:
            cell = {"name": column.name, "header": column.header, "href": ""}
            if column.orderable:
                cell["href"] = sort_link(column.order_by_alias.next)
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
        rows = page.object_list
        links = {"number": page.number}
        if page.has_previous():
            links["first"] = self._link(**{field: 1})
            cursor = cursor_of(rows[0]) if rows and page.number > 2 else None
            links["previous"] = (
                self._link(**{field: page.number - 1, BEFORE: cursor})
                if cursor
                else self._link(**{field: page.number - 1})
            )
        if page.has_next():
            cursor = cursor_of(rows[-1]) if rows else None
            links["next"] = (
                self._link(**{field: page.number + 1, AFTER: cursor})
                if cursor
                else self._link(**{field: page.number + 1})
            )
        return links

    def _htmx(self, href: str) -> str:
        """The attributes that make a link swap the listing (``href`` already escaped)."""
        push = ' hx-push-url="true"' if self.push_url else ""
        return f'hx-get="{href}" hx-target="{escape(self.hx_target)}" hx-swap="outerHTML"{push}'

    @cached_property
    def header_html(self) -> SafeString:
        """The header row's cells, from ``header_cells``: a sortable column's header is a
        link, with ``aria-sort``. Written here, not in the template: a loop of nested
        ``{% if %}`` over twelve columns cost more than the queue's whole row query."""
        cells = []
        for cell in self.header_cells:
            header = conditional_escape(cell["header"])  # the select column's is markup
            if not cell["href"]:
                cells.append(f"<th>{header}</th>")
                continue
            href = escape(cell["href"])
            sorted_ = cell.get("sorted", "")
            aria = {"desc": "descending", "asc": "ascending"}.get(sorted_, "none")
            cells.append(
                f'<th class="{sorted_ + " " if sorted_ else ""}orderable" aria-sort="{aria}">'
                f'<a class="sort{" sorted " + sorted_ if sorted_ else ""}" href="{href}" '
                f"{self._htmx(href)}>{header}</a></th>"
            )
        return mark_safe("\n    ".join(cells))  # noqa: S308 (every value above is escaped)

    @cached_property
    def pager_html(self) -> SafeString:
        """``pager`` as links (First, Previous, the page number, Next), or nothing."""
        pager = self.pager
        if not pager:
            return mark_safe("")
        parts = []
        if pager.get("first"):
            first, previous = escape(pager["first"]), escape(pager["previous"])
            parts.append(f'<a href="{first}" {self._htmx(first)}>« First</a>')
            parts.append(f'<a rel="prev" href="{previous}" {self._htmx(previous)}>‹ Previous</a>')  # noqa: RUF001
        parts.append(f'<span class="muted">Page {int(pager["number"])}</span>')
        if pager.get("next"):
            next_ = escape(pager["next"])
            parts.append(f'<a rel="next" href="{next_}" {self._htmx(next_)}>Next ›</a>')  # noqa: RUF001
        links = "\n  ".join(parts)
        return mark_safe(f'<nav class="pager" aria-label="Pages">\n  {links}\n</nav>')  # noqa: S308


def _clock():
    """The current time and a converter to the current time zone (what ``|date`` shows)."""
    zone = timezone.get_current_timezone()
    return timezone.now(), lambda value: value.astimezone(zone)


def _clipped(text: str, length: int) -> tuple[str, str]:
    """``text`` escaped and cut to ``length`` characters (the last an ellipsis) as
    ``|truncatechars`` cuts, and, if it was cut, a `` title`` attribute with all of it
    (escaped), which the browser shows on hover: the cells that clip are links, and an
    expand control (``{% clip %}``) cannot sit inside a link."""
    if len(text) <= length:
        return escape(text), ""
    return escape(text[: length - 1] + "…"), f' title="{escape(text)}"'


class CaseTable(LinkedTable):
    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {"data-select-all": "cases", "aria-label": "Select all on this page"},
            "td__input": {"name": "cases", "form": "bulk-form", "aria-label": "Select case"},
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

    @cached_property
    def rows_html(self) -> SafeString:
        """The page's rows (``cases.selectors.QueueRow``, or anything with the same names),
        written here: see the comment above ``QUEUE_SELECT``. Every text value goes through
        ``escape``, so a title or label can never become HTML; the rest are numbers and dates
        formatted here."""
        now, local = _clock()
        language = get_language()
        months = {n: str(name).title() for n, name in MONTHS_3.items()}
        statuses = {value: escape(str(label)) for value, label in STATUS_LABELS.items()}
        priorities = {value: escape(str(label)) for value, label in PRIORITY_LABELS.items()}
        base = escape(self.base_url)
        show_select, show_closed = self.show_select, self.show_closed
        # A page names few campaigns and assignees, each on many rows: written once each.
        campaigns, assignees = {}, {}

        def ago(value) -> str:
            return escape(age_text(value, now, language))

        rows = []
        for case in self.paginated_rows:
            pk = int(case.pk)
            url = f"{base}{pk}/"
            opened = local(case.opened_at).isoformat()
            due_at = case.due_at
            overdue = False
            if due_at is None:
                due = EMPTY
            else:
                overdue = due_at < now and case.is_open
                local_due = local(due_at)
                iso = local_due.isoformat()
                text = (
                    f"overdue {ago(due_at)}"
                    if overdue
                    else f"{local_due.day} {months[local_due.month]}"
                )
                due = (
                    f'<time{OVERDUE if overdue else ""} datetime="{iso}"'
                    f' title="{iso[:10]} {iso[11:16]}">{text}</time>'
                )
            closed = ""
            if show_closed:
                closed = "<td></td>"
                if case.decided_at is not None:
                    decided = local(case.decided_at)
                    closed = (
                        f'<td><time datetime="{decided.isoformat()}">'
                        f"{decided.day} {months[decided.month]} {decided.year}</time></td>"
                    )
            campaign = EMPTY
            if case.campaign_id:
                campaign = campaigns.get(case.campaign_id)
                if campaign is None:
                    label, full = _clipped(case.campaign.label, 40)
                    campaign = campaigns[case.campaign_id] = QUEUE_CAMPAIGN.format(
                        url=base, pk=int(case.campaign_id), title=full, label=label
                    )
            assignee = EMPTY
            if case.assignee_id:
                assignee = assignees.get(case.assignee_id)
                if assignee is None:
                    assignee = assignees[case.assignee_id] = escape(case.assignee.username)
            status = case.status
            priority = int(case.priority)
            title, full_title = _clipped(case.title, 120)
            rows.append(
                f'<tr data-row="case" data-href="{url}" data-assign-url="{url}assign/"'
                f"{OVERDUE_ROW if overdue else ''}>"
                + (QUEUE_SELECT.format(pk=pk) if show_select else "")
                + f'<td><a class="row-link" href="{url}"{full_title}>#{pk} {title}</a></td>'
                f'<td><span class="risk">{case.risk_score:.2f}</span></td>'
                f"<td>{campaign}</td><td>{int(case.account_count):,}</td>"
                f"<td>{int(case.exchange_count):,}</td>"
                f'<td><span class="badge status-{escape(status)}">'
                f"{statuses.get(status) or escape(status)}</span></td>"
                f'<td><span class="badge prio-{priority}">{priorities.get(priority, "")}</span>'
                f'</td><td>{assignee}</td><td><time datetime="{opened}"'
                f' title="{opened[:10]} {opened[11:16]}">{ago(case.opened_at)}</time></td>'
                f"<td>{due}</td>{closed}</tr>\n"
            )
        return mark_safe("".join(rows))  # noqa: S308 (every value above is escaped or ours)


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

    @cached_property
    def display_rows(self) -> list[dict]:
        """The page's accounts as the values each cell shows (escaped by the template)."""
        _, local = _clock()
        queue = reverse("cases:case_queue")
        rows = []
        for link in self.paginated_rows:
            account = link.account
            signals = link.signals if isinstance(link.signals, list) else []
            created = local(account.created_at)
            cells = {
                "link": link,
                "account": account,
                "risk": f"{link.risk_score:.2f}",
                "signals": [s for s in signals[:3] if isinstance(s, dict)],
                "created": created.isoformat(),
                "created_text": f"{created:%Y-%m-%d}",
                "volume": f"{link.volume:,}",
                "other_cases": link.other_cases,
                "other_cases_url": (
                    f"{queue}?{urlencode({'account': account.account_id, 'status': 'any'})}"
                ),
                # /cases/<pk>/accounts/<link>/remove/, from the table's own URL.
                "remove_url": f"{self.base_url}{link.pk}/remove/",
            }
            rows.append(cells)
        return rows


def paginate(request, table, *, per_page: int = 50) -> None:
    """Sort ``table`` by ``?sort=`` and page it by ``?page=`` and a cursor, never counting."""
    cursor = next(
        ((param, request.GET[param]) for param in CURSOR_PARAMS if request.GET.get(param)), None
    )
    RequestConfig(
        request,
        paginate={"paginator_class": KeysetPaginator, "per_page": per_page, "cursor": cursor},
    ).configure(table)
