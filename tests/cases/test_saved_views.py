"""Saved views: save the queue's filter under a name, private or shared, listed on the queue,
changed and deleted only by their owner, every change audited."""

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import AuditEvent, SavedView
from cases.services.saved_views import saved_view_create
from tests.cases.conftest import HOSTILE

pytestmark = pytest.mark.django_db
QUEUE = reverse("cases:case_queue")
NEW = reverse("cases:saved_view_new")


def edit_url(view):
    return reverse("cases:saved_view_edit", args=[view.pk])


def test_the_dialog_carries_the_current_filter_without_paging(analyst_client, htmx_headers):
    response = analyst_client.get(
        NEW + "?status=open&priority=1&q=&page=3&sort=-risk", headers=htmx_headers
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith("<dialog")
    assert 'value="status=open&amp;priority=1&amp;sort=-risk"' in html


def test_saving_a_view_lists_it_on_the_queue_and_opens_the_filter(analyst, analyst_client):
    response = analyst_client.post(
        NEW, {"name": "  P1   coding ", "query": "status=open&priority=1&page=2", "shared": ""}
    )
    view = SavedView.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{QUEUE}?status=open&priority=1"
    assert (view.owner, view.name, view.query, view.shared) == (
        analyst,
        "P1 coding",
        "status=open&priority=1",
        False,
    )
    event = AuditEvent.objects.get(verb="saved_view.created")
    assert event.actor == analyst and event.data["query"] == "status=open&priority=1"
    page = analyst_client.get(f"{QUEUE}?priority=1&status=open").content.decode()
    assert "Yours:" in page and "P1 coding" in page
    assert 'aria-current="page">P1 coding' in page  # the filter on screen is this view


def test_an_htmx_save_redirects_the_browser_to_the_view(analyst_client, htmx_headers):
    response = analyst_client.post(
        NEW, {"name": "Mine", "query": "assignee=me"}, headers=htmx_headers
    )
    assert response.status_code == 200 and response["HX-Redirect"] == f"{QUEUE}?assignee=me"


def test_bad_names_come_back_with_the_error(analyst, analyst_client):
    saved_view_create(owner=analyst, name="Fleets", query="status=open")
    html = analyst_client.post(NEW, {"name": "Fleets", "query": "q=x"}).content.decode()
    assert "already have a view called" in html
    html = analyst_client.post(NEW, {"name": "   ", "query": "q=x"}).content.decode()
    assert "This field is required" in html or "needs a name" in html
    assert SavedView.objects.count() == 1


def test_shared_views_show_to_the_team_private_ones_do_not(analyst, approver, approver_client):
    saved_view_create(owner=analyst, name="Shared fleets", query="priority=1", shared=True)
    saved_view_create(owner=analyst, name="My scratch", query="priority=2")
    saved_view_create(owner=analyst, name=HOSTILE, query="priority=3", shared=True)
    page = approver_client.get(QUEUE).content.decode()
    assert "Team:" in page and "Shared fleets" in page and analyst.username in page
    assert "My scratch" not in page
    assert HOSTILE not in page  # escaped
    assert "Yours:" not in page


def test_only_the_owner_edits_or_deletes(analyst, analyst_client, approver_client):
    view = saved_view_create(owner=analyst, name="Shared", query="priority=1", shared=True)
    private = saved_view_create(owner=analyst, name="Private", query="priority=2")
    delete = reverse("cases:saved_view_delete", args=[view.pk])
    assert approver_client.get(edit_url(view)).status_code == 403
    assert approver_client.post(delete).status_code == 403
    assert approver_client.get(edit_url(private)).status_code == 404  # not even visible
    assert SavedView.objects.count() == 2

    # Renamed, unshared, and given the queue's current filter.
    form = analyst_client.get(edit_url(view) + "?status=pending_approval").content.decode()
    assert 'value="status=pending_approval"' in form and "Delete" in form
    response = analyst_client.post(
        edit_url(view),
        {"name": "Pending", "shared": "", "query": "status=pending_approval", "use_current": "on"},
    )
    assert response.status_code == 302
    view.refresh_from_db()
    assert (view.name, view.shared, view.query) == ("Pending", False, "status=pending_approval")
    changed = AuditEvent.objects.get(verb="saved_view.changed").data
    assert changed["name"] == ["Shared", "Pending"] and changed["shared"] == [True, False]
    # Without "use current" the filter stays.
    analyst_client.post(edit_url(view), {"name": "Pending", "query": "q=other"})
    view.refresh_from_db()
    assert view.query == "status=pending_approval"

    assert analyst_client.post(delete).status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert AuditEvent.objects.get(verb="saved_view.deleted").data["name"] == "Pending"


def test_roleless_users_cannot_save(outsider_client):
    assert outsider_client.post(NEW, {"name": "x", "query": ""}).status_code == 403


def test_the_queue_reads_saved_views_in_one_query(
    analyst, analyst_client, django_assert_max_num_queries
):
    saved_view_create(owner=analyst, name="One", query="priority=1")
    analyst_client.get(QUEUE)  # warm the choice-name cache
    with django_assert_max_num_queries(12) as ctx:
        analyst_client.get(QUEUE)
    before = len(ctx.captured_queries)
    for n in range(2, 8):
        saved_view_create(owner=analyst, name=f"View {n}", query=f"priority={n % 4}", shared=True)
    other = Client()
    other.force_login(analyst)
    with django_assert_max_num_queries(before):
        analyst_client.get(QUEUE)
