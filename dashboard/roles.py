"""The roles of DESIGN.md as Django groups, and the permissions each one holds.

Groups are created by a data migration (``dashboard/migrations``) through
:func:`ensure_roles`, which is idempotent so the same call also serves tests that build
the schema without migrations and the ``demo_users`` command. Permissions are checked by
Django's own ``ModelBackend``.
"""

from django.contrib.auth.models import Group, Permission

ANALYST = "analyst"
APPROVER = "approver"
MANAGER = "manager"
ROLES = (ANALYST, APPROVER, MANAGER)

# Read access to everything an investigation shows.
_READ = [
    "detection.view_account",
    "detection.view_exchange",
    "detection.view_campaign",
    "detection.view_detectionrun",
    "detection.view_accountscore",
    "cases.view_case",
    "cases.view_caseaccount",
    "cases.view_note",
    "cases.view_evidence",
    "cases.view_enforcementaction",
    "cases.view_auditevent",
]
# Working cases: triage, annotate, assign, propose actions.
_WORK = ["cases.work_case", "cases.propose_action", "cases.view_prompt_text"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    ANALYST: _READ + _WORK,
    APPROVER: _READ + _WORK + ["cases.approve_action", "cases.export_cases"],
    MANAGER: _READ + ["cases.export_cases"],
}


def _permission(codename: str) -> Permission:
    app_label, code = codename.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=code)


def ensure_roles() -> None:
    """Create the role groups and set their permissions to exactly ROLE_PERMISSIONS."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; make sure they exist now.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([_permission(c) for c in codenames])


def roles_of(user) -> list[str]:
    """The roles ``user`` holds (the role groups they are in), sorted by name."""
    if not user.is_authenticated:
        return []
    return sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
