import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from dashboard.roles import (
    ANALYST,
    APPROVER,
    MANAGER,
    ROLE_PERMISSIONS,
    RoleBackend,
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
def test_role_backend_grants_what_model_backend_grants(roles, django_assert_num_queries):
    """One query for a user's own permissions, their groups' and their roles, with the same
    answers as Django's ModelBackend; a group without permissions still names its role."""
    user = UserFactory(roles=[ANALYST, MANAGER])
    user.user_permissions.add(Permission.objects.get(codename="approve_action"))
    user.groups.add(Group.objects.create(name="no-permissions"))
    UserFactory(roles=[APPROVER])  # someone else's permissions stay theirs

    expected = ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
    fresh = type(user).objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        assert RoleBackend().get_all_permissions(fresh) == expected
        assert fresh.has_perm("cases.approve_action") and fresh.has_perm("cases.export_cases")
        assert not fresh.has_perm("cases.view_auditlog_nonexistent")
        assert roles_of(fresh) == [ANALYST, MANAGER]
    assert "cases.approve_action" in expected and "cases.work_case" in expected

    # Without a permission check first, the roles are read on their own.
    other = type(user).objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        assert roles_of(other) == [ANALYST, MANAGER]


@pytest.mark.django_db
def test_role_backend_denies_inactive_users_and_grants_superusers_everything(roles):
    inactive = UserFactory(roles=[ANALYST], is_active=False)
    assert not inactive.has_perm("cases.view_case")
    root = UserFactory(is_superuser=True)
    assert root.has_perm("cases.approve_action")
    assert root.get_all_permissions() >= {"cases.approve_action", "cases.work_case"}
