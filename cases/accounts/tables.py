"""The account listings: the accounts sharing an attribute, and a case's related accounts."""

import django_tables2 as tables

from cases.tables import LinkedTable
from detection.models import Account


class AccountTable(LinkedTable):
    """Accounts (``cases.accounts.selectors.account_rows``), with a box to select each for
    the bulk forms (``form="bulk-accounts"``) when the user may act."""

    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={"th__input": {"data-select-all": "accounts", "aria-label": "Select all"}},
    )
    account_id = tables.Column(verbose_name="Account", order_by=("account_id", "id"))
    risk = tables.Column(verbose_name="Risk", order_by=("risk", "id"))
    created = tables.Column(
        accessor="created_at", verbose_name="Created", order_by=("created_at", "id")
    )
    plan = tables.Column(verbose_name="Plan", order_by=("plan", "id"))
    domain = tables.Column(
        accessor="email_domain", verbose_name="Email domain / org", order_by=("email_domain", "id")
    )
    open_cases = tables.Column(verbose_name="Open cases", order_by=("open_cases", "id"))
    in_case = tables.Column(verbose_name="On this case", orderable=False)

    class Meta:
        model = Account
        fields = ()
        sequence = (
            "select",
            "account_id",
            "risk",
            "created",
            "plan",
            "domain",
            "open_cases",
            "in_case",
        )
        template_name = "cases/accounts/_partials/account_table.html"
        order_by = "account_id"
        empty_text = "No accounts."
        attrs = {"class": "table account-table", "id": "account-table"}

    def __init__(self, *args, case=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        self.show_select = "select" in self.columns.names()
        self.show_in_case = "in_case" in self.columns.names()


class RelatedTable(LinkedTable):
    """A case's related accounts, best first (a ranked list, so neither sorted nor paged)."""

    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={"th__input": {"data-select-all": "accounts", "aria-label": "Select all"}},
    )
    account_id = tables.Column(verbose_name="Account", orderable=False)
    score = tables.Column(verbose_name="Score", orderable=False)
    ties = tables.Column(verbose_name="Shares with the case", orderable=False)
    risk = tables.Column(verbose_name="Risk", orderable=False)
    open_cases = tables.Column(verbose_name="Open cases", orderable=False)

    class Meta:
        fields = ()
        sequence = ("select", "account_id", "score", "ties", "risk", "open_cases")
        template_name = "cases/accounts/_partials/related_table.html"
        empty_text = "No account outside the case shares its strongest ties."
        attrs = {"class": "table account-table", "id": "related-table"}

    def __init__(self, *args, case=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        self.show_select = "select" in self.columns.names()
