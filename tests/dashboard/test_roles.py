import pytest
from django.contrib.auth.models import AnonymousUser, Group

from dashboard.roles import (
    ANALYST,
    APPROVER,
    MANAGER,
    ROLE_PERMISSIONS,
    ensure_roles,
    roles_of,
)
from tests.factories import UserFactory


@pytest.mark.django_db
def test_the_migration_created_the_role_groups():
    assert set(Group.objects.values_list("name", flat=True)) >= {"analyst", "approver", "manager"}


@pytest.mark.django_db
def test_roles_hold_what_design_says(analyst, approver, manager):
    assert analyst.has_perm("cases.work_case")
    assert not analyst.has_perm("cases.approve_action")
    assert approver.has_perm("cases.work_case") and approver.has_perm("cases.approve_action")
    assert manager.has_perm("cases.view_case") and manager.has_perm("cases.export_cases")
    assert not manager.has_perm("cases.work_case")
    assert not manager.has_perm("cases.propose_action")


@pytest.mark.django_db
def test_ensure_roles_is_idempotent():
    ensure_roles()
    ensure_roles()
    for role, codenames in ROLE_PERMISSIONS.items():
        assert Group.objects.get(name=role).permissions.count() == len(codenames)


@pytest.mark.django_db
def test_roles_of_names_the_role_groups_only(roles, django_assert_num_queries):
    user = UserFactory(roles=[MANAGER, ANALYST])
    user.groups.add(Group.objects.create(name="no-permissions"))
    UserFactory(roles=[APPROVER])  # someone else's roles stay theirs

    fresh = type(user).objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        assert roles_of(fresh) == [ANALYST, MANAGER]
    assert roles_of(AnonymousUser()) == []


@pytest.mark.django_db
def test_inactive_users_hold_nothing_and_superusers_everything(roles):
    inactive = UserFactory(roles=[ANALYST], is_active=False)
    assert not inactive.has_perm("cases.view_case")
    root = UserFactory(is_superuser=True)
    assert root.has_perm("cases.approve_action")
    assert root.get_all_permissions() >= {"cases.approve_action", "cases.work_case"}
