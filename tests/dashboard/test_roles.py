import pytest
from django.contrib.auth.models import Group

from dashboard.roles import ROLE_PERMISSIONS, ensure_roles


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
