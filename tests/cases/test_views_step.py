"""Stepping from one case to the next in the queue's order (the case page's j and k)."""

import pytest

from cases.models import Case
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def step(client, case, *, follow=False, **params):
    return client.get(f"/cases/{case.pk}/step/", params, follow=follow)


@pytest.fixture
def three():
    return [CaseFactory(title=t, risk_score=r) for t, r in (("A", 0.9), ("B", 0.8), ("C", 0.7))]


def test_next_and_previous_follow_the_default_order(analyst_client, three):
    a, b, c = three
    assert step(analyst_client, a, dir="next").url == f"/cases/{b.pk}/"
    assert step(analyst_client, b, dir="next").url == f"/cases/{c.pk}/"
    assert step(analyst_client, b, dir="prev").url == f"/cases/{a.pk}/"


def test_the_queues_filter_and_sort_are_followed(analyst_client, three):
    a, b, c = three
    # Sorted by title descending: C, B, A.
    assert step(analyst_client, c, dir="next", sort="-title").url == f"/cases/{b.pk}/"
    # Filtered to one title: nothing after A.
    response = step(analyst_client, a, dir="next", q="A", follow=True)
    assert response.redirect_chain[-1][0] == f"/cases/{a.pk}/"
    assert "last case in the queue" in response.content.decode()


def test_a_case_that_left_the_filter_steps_from_where_it_stood(analyst_client, three):
    a, b, c = three
    Case.objects.filter(pk=b.pk).update(status=Case.Status.DISMISSED)
    assert step(analyst_client, b, dir="next").url == f"/cases/{c.pk}/"
    assert step(analyst_client, b, dir="prev").url == f"/cases/{a.pk}/"
    assert step(analyst_client, a, dir="next").url == f"/cases/{c.pk}/"


def test_the_ends_say_so(analyst_client, three):
    a, _, c = three
    response = step(analyst_client, a, dir="prev", follow=True)
    assert response.redirect_chain[-1][0] == f"/cases/{a.pk}/"
    assert "first case in the queue" in response.content.decode()
    assert step(analyst_client, c, dir="next").url == f"/cases/{c.pk}/"


def test_a_case_the_user_cannot_see_does_not_leak_its_neighbours(outsider_client, three):
    assert step(outsider_client, three[0], dir="next").status_code == 403


def test_step_costs_a_pinned_number_of_queries(analyst_client, three, django_assert_num_queries):
    # Django's session and permission queries (4), the case's sort key, its neighbour.
    with django_assert_num_queries(6):
        assert step(analyst_client, three[0], dir="next").status_code == 302


def test_a_sort_the_queue_does_not_have_falls_back_to_its_default(analyst_client, three):
    a, b, _ = three
    assert step(analyst_client, a, dir="next", sort="nonsense").url == f"/cases/{b.pk}/"
