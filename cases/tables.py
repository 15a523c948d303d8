"""The console's tables. Every orderable column ends its ordering with the primary key, so
paging through a sorted listing is stable; ``tests/cases/test_tables.py`` sorts each one."""

import django_tables2 as tables
from django.utils.html import format_html
from django_tables2 import RequestConfig
from django_tables2.paginators import LazyPaginator

from cases.models import Case, CaseAccount

TABLE_TEMPLATE = "cases/_partials/htmx_table.html"


class CaseTable(tables.Table):
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
        template_name = "cases/_partials/queue_table.html"  # rows written out, see there
        order_by = "-risk"
        empty_text = "No cases match these filters."
        attrs = {"class": "table queue-table", "id": "queue-table"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.show_select = "select" in self.columns.names()
        self.show_closed = "closed" in self.columns.names()


class CaseAccountTable(tables.Table):
    """The accounts on one case, with their latest signals and their other open cases.

    Cells are ``template_code`` includes, not ``template_name``: django-tables2 renders a
    ``template_name`` cell with the request, which runs every context processor (and its
    queries) once per cell.
    """

    account_id = tables.TemplateColumn(
        template_code='{% include "cases/_partials/cell_account.html" %}',
        accessor="account__account_id",
        verbose_name="Account",
        order_by=("account__account_id", "id"),
    )
    risk = tables.Column(accessor="risk_score", verbose_name="Risk", order_by=("risk_score", "id"))
    signals = tables.TemplateColumn(
        template_code='{% include "cases/_partials/cell_signals.html" %}', orderable=False
    )
    created = tables.Column(
        accessor="account__created_at",
        verbose_name="Created",
        order_by=("account__created_at", "id"),
    )
    plan = tables.Column(
        accessor="account__plan", verbose_name="Plan", order_by=("account__plan", "id")
    )
    domain = tables.TemplateColumn(
        template_code='{% include "cases/_partials/cell_domain.html" %}',
        accessor="account__email_domain",
        verbose_name="Email domain / org",
        order_by=("account__email_domain", "id"),
    )
    volume = tables.Column(verbose_name="Exchanges", order_by=("volume", "id"))
    other_cases = tables.TemplateColumn(
        template_code='{% include "cases/_partials/cell_other_cases.html" %}',
        verbose_name="Other cases",
        order_by=("other_cases", "id"),
    )
    actions = tables.TemplateColumn(
        template_code='{% include "cases/_partials/cell_account_actions.html" %}',
        verbose_name="",
        orderable=False,
    )

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
        template_name = TABLE_TEMPLATE
        order_by = "-risk"
        empty_text = "No accounts on this case."
        attrs = {"class": "table accounts-table", "id": "accounts-table"}

    def render_risk(self, value: float):
        return f"{value:.2f}"

    def render_created(self, value):
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), f"{value:%Y-%m-%d}")

    def render_volume(self, value: int):
        return f"{value:,}"


class BoundedLazyPaginator(LazyPaginator):
    """django-tables2's paginator that never counts the table, with a cap on ``per_page``.

    The default paginator runs ``COUNT(*)`` over the whole filtered table on every page view
    (1.15 s at 16M rows, DESIGN.md "Measured"); this one fetches one row past the page to
    know whether there is a next one. ``?per_page=`` is honoured up to ``MAX_PER_PAGE``.
    """

    MAX_PER_PAGE = 200

    def __init__(self, object_list, per_page, **kwargs):
        super().__init__(object_list, max(1, min(int(per_page), self.MAX_PER_PAGE)), **kwargs)


def paginate(request, table, *, per_page: int = 50) -> None:
    RequestConfig(
        request, paginate={"paginator_class": BoundedLazyPaginator, "per_page": per_page}
    ).configure(table)
