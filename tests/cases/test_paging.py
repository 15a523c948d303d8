"""Paging the queue by cursor: Next and Previous links, in every sort, through the real view."""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Case
from cases.tables import CaseTable
from tests.factories import CampaignFactory, CaseFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()
PER_PAGE = 4


@pytest.fixture
def many_cases(roles):
    """Thirteen cases with ties on every column and NULLs in the nullable ones."""
    users = [UserFactory(username=n, roles=["analyst"]) for n in ("zed", "amy")]
    campaigns = [CampaignFactory(label=f"camp {i}") for i in range(2)]
    for i in range(13):
        closed = i % 4 == 3
        CaseFactory(
            title=f"case {i % 5}",
            risk_score=[0.9, 0.5, 0.5, 0.1][i % 4],
            campaign=campaigns[i % 2] if i % 3 else None,
            account_count=i % 3,
            exchange_count=(i * 7) % 4,
            status=Case.Status.DISMISSED if closed else ["new", "triage", "investigating"][i % 3],
            priority=1 + i % 4,
            assignee=users[i % 2] if i % 5 else None,
            opened_at=NOW - timedelta(days=i % 3),
            due_at=None if closed and i % 2 else NOW + timedelta(days=i % 2),
            decided_at=NOW - timedelta(days=i % 2) if closed else None,
        )


def link(content: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', content)
    return html.unescape(found.group(1)) if found else None


def pks(response) -> list[int]:
    return [row.record.pk for row in response.context["table"].paginated_rows]


COLUMNS = [c.name for c in CaseTable([]).columns if c.orderable]
SORTS = [*COLUMNS, *[f"-{name}" for name in COLUMNS]]


@pytest.mark.parametrize("sort", SORTS)
def test_next_then_previous_visit_every_case_once_in_order(analyst_client, many_cases, sort):
    everything = pks(analyst_client.get("/cases/", {"status": "any", "sort": sort}))
    assert len(everything) == 13
    url = f"/cases/?status=any&sort={sort}&per_page={PER_PAGE}"
    pages, numbers = [], []
    while url:
        response = analyst_client.get(url)
        pages.append(pks(response))
        numbers.append(response.context["table"].page.number)
        content = response.content.decode()
        url = link(content, "next")
        if url and len(pages) > 1:
            assert "after=" in url
    assert [pk for page in pages for pk in page] == everything
    assert numbers == list(range(1, len(pages) + 1))
    # And back again from the last page, by cursor, to page 1.
    back = []
    url = link(content, "prev")
    while url:
        response = analyst_client.get(url)
        back.insert(0, pks(response))
        url = link(response.content.decode(), "prev")
    assert back == pages[:-1]


@pytest.mark.parametrize("sort", SORTS)
def test_a_typed_page_number_shows_that_page_of_the_listing(analyst_client, many_cases, sort):
    """``?page=N`` without a cursor seeks from the row before the page (cases/paging.py):
    the same rows as slicing the whole listing, for open cases and for all, NULLs and ties
    included, and a Next link exactly when rows follow."""
    for status in ("any", "open"):
        everything = pks(analyst_client.get("/cases/", {"status": status, "sort": sort}))
        for number in range(1, 5):
            response = analyst_client.get(
                "/cases/", {"status": status, "sort": sort, "per_page": PER_PAGE, "page": number}
            )
            expected = everything[(number - 1) * PER_PAGE : number * PER_PAGE]
            if not expected:  # past the end: the first page, as before
                expected = everything[:PER_PAGE]
            assert pks(response) == expected, (status, number)
            more = expected[-1] != everything[-1]
            assert (link(response.content.decode(), "next") is not None) == more


def test_a_cursor_page_costs_the_queries_of_the_first(
    analyst_client, many_cases, django_assert_num_queries
):
    first = analyst_client.get(f"/cases/?status=any&per_page={PER_PAGE}")
    # Django's four (the session, its user, the user's own permissions and their groups'),
    # the page's rows, the top bar's unread count and roles, and the saved views (the filter
    # bar's choices were cached by the first page).
    with django_assert_num_queries(8):
        second = analyst_client.get(link(first.content.decode(), "next"))
    assert second.status_code == 200 and len(pks(second)) == PER_PAGE
    # A typed page number reads one key more: the row before the page, from the cases table
    # alone (through the rows' joins it could not be an index-only scan).
    with CaptureQueriesContext(connection) as ctx:
        third = analyst_client.get(f"/cases/?status=any&per_page={PER_PAGE}&page=3")
    assert third.status_code == 200 and len(pks(third)) == PER_PAGE
    assert len(ctx.captured_queries) == 9
    (key,) = [q["sql"] for q in ctx.captured_queries if "OFFSET" in q["sql"]]
    assert "JOIN" not in key


@pytest.mark.parametrize("cursor", ["junk", "0.5~", "~12", "not-a-float~3", "0.5~9.5"])
def test_a_bad_cursor_falls_back_to_the_page_number(analyst_client, many_cases, cursor):
    query = {"status": "any", "per_page": PER_PAGE, "page": 2}
    by_number = analyst_client.get("/cases/", query)
    response = analyst_client.get("/cases/", {**query, "after": cursor})
    assert response.status_code == 200
    assert pks(response) == pks(by_number)


def test_a_cursor_past_the_end_shows_the_first_page(analyst_client, many_cases):
    query = {"status": "any", "per_page": PER_PAGE}
    first = analyst_client.get("/cases/", query)
    response = analyst_client.get("/cases/", {**query, "page": 9, "after": "0.0~1"})
    assert pks(response) == pks(first)


def test_sort_and_filter_links_drop_the_cursor(analyst_client, many_cases):
    first = analyst_client.get(f"/cases/?status=any&per_page={PER_PAGE}")
    second = analyst_client.get(link(first.content.decode(), "next"))
    content = html.unescape(second.content.decode())
    sort_links = re.findall(r'<a class="sort[^"]*" href="([^"]+)"', content)
    assert sort_links
    assert not any(re.search(r"[?&](after|page)=", href) for href in sort_links)
    first_link = re.search(r'href="([^"]+)"[^>]*>« First', content).group(1)
    assert "page=1" in first_link and "after=" not in first_link


def test_a_hand_made_date_cursor_without_an_offset_still_pages(analyst_client, many_cases):
    response = analyst_client.get(
        "/cases/",
        {
            "status": "any",
            "sort": "due",
            "per_page": PER_PAGE,
            "page": 2,
            "after": "2000-01-01T00:00:00~1",
        },
    )
    assert response.status_code == 200 and len(pks(response)) == PER_PAGE


@pytest.mark.parametrize(
    "cursor",
    [
        "0001-01-01T00:00:00+01:00~1",  # before year 1 once in UTC
        "9999-12-31T23:59:59-10:00~1",  # after year 9999 once in UTC
    ],
)
def test_a_date_cursor_that_is_no_instant_is_ignored(analyst_client, many_cases, cursor):
    query = {"status": "any", "sort": "due", "per_page": PER_PAGE, "page": 2}
    by_number = analyst_client.get("/cases/", query)
    response = analyst_client.get("/cases/", {**query, "after": cursor})
    assert response.status_code == 200
    assert pks(response) == pks(by_number)


@pytest.mark.parametrize("minutes", [18 * 60, -(23 * 60 + 59)])
def test_a_date_cursor_with_an_offset_past_the_databases_is_read_as_its_instant(
    analyst_client, many_cases, minutes
):
    """Python takes UTC offsets up to a day, PostgreSQL only up to 15:59: a cursor with a
    bigger one is a real instant, read as that instant rather than sent on as it is."""
    query = {"status": "any", "sort": "due", "per_page": PER_PAGE}
    first = analyst_client.get("/cases/", query)
    last = first.context["table"].paginated_rows[PER_PAGE - 1].record
    instant = last.due_at.astimezone(timezone.get_fixed_timezone(minutes))
    response = analyst_client.get("/cases/", {**query, "after": f"{instant.isoformat()}~{last.pk}"})
    second = analyst_client.get(link(first.content.decode(), "next"))
    assert response.status_code == 200
    assert pks(response) == pks(second)
