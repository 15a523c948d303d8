"""The roles of DESIGN.md as Django groups, and the permissions each one holds.

Groups are created by a data migration (``dashboard/migrations``) through
:func:`ensure_roles`, which is idempotent so the same call also serves tests that build
the schema without migrations and the ``demo_users`` command.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connections, router

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


# Where RoleBackend leaves the names of the user's groups, beside ModelBackend's caches.
_GROUP_NAMES_CACHE = "_group_names_cache"


def roles_of(user) -> list[str]:
    if not user.is_authenticated:
        return []
    names = getattr(user, _GROUP_NAMES_CACHE, None)
    if names is None:
        names = user.groups.filter(name__in=ROLES).values_list("name", flat=True)
    return sorted(name for name in names if name in ROLES)


def groups_and_permissions_sql(connection, user: str = "%s") -> str:
    """The user's own permissions (group NULL), then each of their groups with each of its
    permissions (NULL for a group without any), as ``(group, app_label, codename)``, for the
    user whose primary key is the SQL expression ``user`` (a parameter by default; it is
    written twice, so its parameters are passed twice).

    Written as SQL, with every table and column name taken from the models: the same UNION
    through the ORM took about 4 ms a request, most of it compiling, against 1.3-2 ms
    (docs/benchmarks.md, "Pages"). The permission ids of both kinds are collected first and
    named once: PostgreSQL plans a query in time that grows with the tables it names, and
    naming the permission and content type tables in each branch cost a third more.
    """
    q = connection.ops.quote_name
    user_model = get_user_model()
    own = user_model._meta.get_field("user_permissions")
    groups = user_model._meta.get_field("groups")
    group_perms = Group._meta.get_field("permissions")
    perm, ct, group = Permission._meta, ContentType._meta, Group._meta

    def col(opts, name: str) -> str:
        return q(opts.get_field(name).column)

    return (
        f"SELECT x.grp, ct.{col(ct, 'app_label')}, p.{col(perm, 'codename')}\n"  # noqa: S608 (names)
        f"FROM (SELECT NULL AS grp, up.{q(own.m2m_reverse_name())} AS perm\n"
        f"  FROM {q(own.m2m_db_table())} up WHERE up.{q(own.m2m_column_name())} = {user}\n"
        "  UNION ALL\n"
        f"  SELECT g.{col(group, 'name')}, gp.{q(group_perms.m2m_reverse_name())}\n"
        f"  FROM {q(groups.m2m_db_table())} ug\n"
        f"  JOIN {q(group.db_table)} g"
        f" ON g.{q(group.pk.column)} = ug.{q(groups.m2m_reverse_name())}\n"
        f"  LEFT JOIN {q(group_perms.m2m_db_table())} gp"
        f" ON gp.{q(group_perms.m2m_column_name())} = g.{q(group.pk.column)}\n"
        f"  WHERE ug.{q(groups.m2m_column_name())} = {user}) x\n"
        f"LEFT JOIN {q(perm.db_table)} p ON p.{q(perm.pk.column)} = x.perm\n"
        f"LEFT JOIN {q(ct.db_table)} ct ON ct.{q(ct.pk.column)} = p.{col(perm, 'content_type')}"
    )


class RoleBackend(ModelBackend):
    """``ModelBackend``, with the user's own permissions, their groups' permissions and the
    groups' names read in one query instead of three, and the user itself taken from the
    session's query when the session read it (``dashboard.sessions``): then a logged-in
    request reads the session, the user, the permissions and the roles in one query.

    Every page checks permissions (its view's decorator, the top bar's links) and its top
    bar shows the user's roles: ``ModelBackend`` reads the two sets of permissions in two
    queries and :func:`roles_of` the groups in a third. The answers are the same, and cached
    on the user object for as long as ``ModelBackend`` caches them (the request's user, so
    one request). Superusers and inactive users go through ``ModelBackend`` unchanged, and
    an inactive user is refused as ``ModelBackend`` refuses them.
    """

    def get_user(self, user_id):
        from dashboard.sessions import user_read_with_session

        user = user_read_with_session(user_id)
        if user is None:
            return super().get_user(user_id)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if (
            obj is None
            and user_obj.is_active
            and not user_obj.is_anonymous
            and not user_obj.is_superuser
            and not hasattr(user_obj, "_perm_cache")
            and not hasattr(user_obj, "_user_perm_cache")
        ):
            self._read_groups_and_permissions(user_obj)
        return super().get_all_permissions(user_obj, obj)

    def _read_groups_and_permissions(self, user) -> None:
        connection = connections[router.db_for_read(Permission)]
        with connection.cursor() as cursor:
            cursor.execute(groups_and_permissions_sql(connection), [user.pk, user.pk])
            remember_groups_and_permissions(user, cursor.fetchall())


def remember_groups_and_permissions(user, rows) -> None:
    """Cache the rows of :func:`groups_and_permissions_sql` on ``user`` where
    ``ModelBackend`` and :func:`roles_of` look before they would query."""
    user_perms, group_perms, group_names = set(), set(), set()
    for group, app_label, codename in rows:
        if group is None:
            user_perms.add(f"{app_label}.{codename}")
        else:
            group_names.add(group)
            if codename is not None:
                group_perms.add(f"{app_label}.{codename}")
    setattr(user, _GROUP_NAMES_CACHE, group_names)
    if user.is_superuser:
        return  # ModelBackend gives a superuser every permission, read on demand
    # What ModelBackend._get_permissions reads before it would query.
    user._user_perm_cache = user_perms
    user._group_perm_cache = group_perms
