"""Links to an account's page and to the accounts sharing an attribute (a pivot).

Account ids and attribute values come from the accounts we investigate: they are URL-encoded
into the link (``reverse`` quotes a path, ``urlencode`` a query) and escaped and shortened in
its text, with the whole value in the link's title (an expand control cannot sit in a link).
"""

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from cases.accounts.attributes import ATTRIBUTES, display

register = template.Library()


def _with_case(url: str, params: dict, case) -> str:
    case_pk = getattr(case, "pk", case)
    if case_pk:
        params["case"] = case_pk
    return f"{url}?{urlencode(params)}" if params else url


@register.simple_tag
def account_url(account_id, case=None) -> str:
    return _with_case(reverse("accounts:account_detail", args=[str(account_id)]), {}, case)


@register.simple_tag
def pivot_url(kind: str, value, case=None, scope: str = "") -> str:
    params = {"value": str(value)}
    if scope:
        params["scope"] = scope
    return _with_case(reverse("accounts:pivot", args=[kind]), params, case)


@register.inclusion_tag("cases/accounts/_partials/link.html")
def account_link(account_id, case=None, length: int = 32) -> dict:
    text = str(account_id)
    return {"href": account_url(text, case), "text": text, "length": length, "code": True}


@register.inclusion_tag("cases/accounts/_partials/link.html")
def pivot_link(kind: str, value, case=None, length: int = 40, text=None) -> dict:
    shown = display(kind, value) if text is None else str(text)
    return {"href": pivot_url(kind, value, case), "text": shown, "length": length, "code": False}


# An account's history names fields by their model names; those with a pivot link to it.
HISTORY_PIVOTS = {a.column: kind for kind, a in ATTRIBUTES.items() if a.on_account}


@register.inclusion_tag("cases/accounts/_partials/link.html")
def history_value(field: str, value, case=None, length: int = 40) -> dict:
    """A value from an account's history: a pivot link where the field has one, else text."""
    kind = HISTORY_PIVOTS.get(field)
    if not value or kind is None:
        return {"href": None, "text": value or "—", "length": length, "code": False}
    return pivot_link(kind, value, case, length)
