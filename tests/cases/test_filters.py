from html import escape

import pytest
from django.http import QueryDict

from cases.filters import SAVED_VIEWS, CaseFilter
from cases.models import Case
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def run(query: str, user) -> set[str]:
    f = CaseFilter(QueryDict(query), queryset=Case.objects.all(), user=user)
    assert f.is_valid(), f.errors
    return set(f.qs.values_list("title", flat=True))


def test_status_defaults_to_open_and_knows_open_closed_and_any(analyst):
    CaseFactory(title="new")
    CaseFactory(title="pending", status=Case.Status.PENDING_APPROVAL)
    CaseFactory(title="done", status=Case.Status.ACTIONED)
    assert run("", analyst) == {"new", "pending"}
    assert run("status=closed", analyst) == {"done"}
    assert run("status=any", analyst) == {"new", "pending", "done"}
    assert run("status=pending_approval", analyst) == {"pending"}


def test_assignee_me_none_or_a_username(analyst, analyst2):
    CaseFactory(title="mine", assignee=analyst)
    CaseFactory(title="alex's", assignee=analyst2)
    CaseFactory(title="nobody's")
    assert run("assignee=me", analyst) == {"mine"}
    assert run("assignee=me", analyst2) == {"alex's"}
    assert run("assignee=none", analyst) == {"nobody's"}
    assert run("assignee=alex", analyst) == {"alex's"}
    assert run("assignee=", analyst) == {"mine", "alex's", "nobody's"}


def test_unknown_status_is_an_error_not_everything(analyst):
    f = CaseFilter(QueryDict("status=bogus"), queryset=Case.objects.all(), user=analyst)
    assert not f.is_valid() and "status" in f.errors


def test_saved_views_are_valid_filters(analyst):
    for _key, _label, params in SAVED_VIEWS:
        query = "&".join(f"{k}={v}" for k, v in params.items() if k != "sort")
        f = CaseFilter(QueryDict(query), queryset=Case.objects.all(), user=analyst)
        assert f.is_valid(), (params, f.errors)


def test_text_search_does_not_duplicate_rows(analyst):
    from tests.factories import NoteFactory

    case = CaseFactory(title="fleet alpha")
    NoteFactory(case=case, author=analyst, body="fleet again")
    NoteFactory(case=case, author=analyst, body="fleet once more")
    f = CaseFilter(QueryDict("q=fleet"), queryset=Case.objects.all(), user=analyst)
    assert list(f.qs.values_list("pk", flat=True)) == [case.pk]


BAR_QUERIES = [
    "",
    "status=bogus&priority=9",
    "risk_min=abc&risk_max=0.5",
    "overdue=true&closed_within=7",
    "opened_after=2026-10-01&opened_before=bad&decided_after=2026-13-01",
    'q=<b>"&\'&campaign="><script>&account=<img src=x>&assignee=<i>&tag=x"y',
    "assignee=ana&tag=fleet&priority=2&status=closed",
]


@pytest.mark.parametrize("query", BAR_QUERIES)
def test_the_filter_bar_shows_each_field_with_its_value_and_hostile_text_as_text(
    analyst_client, query
):
    """The bar is the filter set's form drawn by Django's widget templates: every field, its
    value kept, hostile values and names escaped."""
    content = analyst_client.get(f"/cases/?{query}").content.decode()
    start = content.index('id="filter-form"')
    bar = content[start : content.index("</form>", start)]
    form = CaseFilter(QueryDict(query), queryset=Case.objects.all()).form
    for name in form.fields:
        assert f'name="{form.add_prefix(name)}' in bar, name
    assert "<script>" not in bar and "<b>" not in bar and "<img" not in bar and "<i>" not in bar
    for key, value in QueryDict(query).items():
        if key in {"q", "campaign", "account"}:
            assert f'value="{escape(value)}"' in bar
