"""The queue's cached choice lists (``cases.selectors.queue_choice_names``) follow every change
to the users, groups, permissions and tags they are read from (``cases/receivers.py``)."""

from unittest import mock

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import Tag
from cases.selectors import QUEUE_CHOICES_VERSION, queue_choice_names
from dashboard.roles import MANAGER
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def workers() -> list[str]:
    return queue_choice_names()[0]


def tags() -> list[str]:
    return queue_choice_names()[1]


def choice_queries(call) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return [q["sql"] for q in ctx.captured_queries]


def test_the_lists_are_read_once_then_kept(analyst):
    Tag.objects.create(name="fleet")
    assert choice_queries(queue_choice_names) != []
    assert queue_choice_names() == (["ana"], ["fleet"])
    assert choice_queries(queue_choice_names) == []


def test_a_new_tag_appears_and_a_deleted_one_goes(analyst):
    assert tags() == []
    tag = Tag.objects.create(name="resi-proxy")
    assert tags() == ["resi-proxy"]
    tag.name = "resi-proxies"
    tag.save()
    assert tags() == ["resi-proxies"]
    tag.delete()
    assert tags() == []


def test_someone_given_a_working_role_appears_and_leaves_with_it(analyst, manager):
    assert workers() == ["ana"]
    newcomer = UserFactory(username="newcomer", roles=["analyst"])
    assert workers() == ["ana", "newcomer"]
    newcomer.groups.clear()
    assert workers() == ["ana"]


def test_deactivating_renaming_and_deleting_a_worker(analyst, analyst2):
    assert workers() == ["alex", "ana"]
    analyst2.is_active = False
    analyst2.save()
    assert workers() == ["ana"]
    analyst.username = "renamed"
    analyst.save()
    assert workers() == ["renamed"]
    analyst.delete()
    assert workers() == []


def test_a_role_gaining_or_losing_the_permission_or_going_away(analyst, manager):
    managers = Group.objects.get(name=MANAGER)
    work = Permission.objects.get(codename="work_case", content_type__app_label="cases")
    assert workers() == ["ana"]
    managers.permissions.add(work)
    assert workers() == ["ana", "mona"]
    managers.permissions.remove(work)
    assert workers() == ["ana"]
    managers.permissions.add(work)
    assert workers() == ["ana", "mona"]
    managers.delete()
    assert workers() == ["ana"]


def test_a_superuser_works_cases(analyst):
    assert workers() == ["ana"]
    UserFactory(username="root", is_superuser=True)
    assert workers() == ["ana", "root"]


def test_logging_in_keeps_the_lists(analyst, client):
    workers()
    client.force_login(analyst)  # stamps last_login
    assert choice_queries(queue_choice_names) == []


def test_lists_read_before_a_change_committed_are_not_served_after(
    analyst, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        Tag.objects.create(name="late")
        # Another process read the lists before this transaction committed and stored them
        # under the version current at that moment.
        cache.set(
            f"cases:queue-choices:{cache.get(QUEUE_CHOICES_VERSION)}", {"workers": [], "tags": []}
        )
    assert tags() == ["late"]


def test_a_cache_that_does_not_answer_costs_queries_not_the_lists(analyst):
    Tag.objects.create(name="fleet")
    with mock.patch.object(cache, "get", side_effect=ConnectionError("down")):
        assert queue_choice_names() == (["ana"], ["fleet"])
    with mock.patch.object(cache, "set", side_effect=ConnectionError("down")):
        Tag.objects.create(name="spare")  # the change is made all the same
    assert Tag.objects.filter(name="spare").exists()
