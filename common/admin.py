"""What every app's admin shares: read-only registrations, and changes announced for the audit.

The admin is a window onto the data, not a back door around the workflow and its audit log.
Telemetry, detection results and cases are shown read-only (:class:`ReadOnlyAdmin`): they
change only through ingest, detection runs and the console's own audited actions. What an
admin may change (detection configuration, tags, users and roles) goes through
:class:`AuditedAdmin`, which sends :data:`admin_changed` with each field's old and new
value. The audit log belongs to ``cases``, above every app that registers admin pages, so it
is written by a receiver the project wires (``dashboard.receivers``), not named here.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.dispatch import Signal

# Sent inside the admin's transaction with ``actor`` (the user), ``obj`` (the row, still with
# its primary key for "deleted"), ``action`` ("added", "changed", "deleted") and ``changes``
# ({field: [old, new]}). A receiver that raises rolls the change back.
admin_changed = Signal()

# Form fields whose values are never written anywhere (a user's new password).
_SECRET_FIELDS = ("password",)


def plain(value: Any) -> Any:
    """A value as the audit log's JSON can hold it: rows by their name, sets sorted."""
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, QuerySet | list | tuple | set):
        return sorted(str(plain(item)) for item in value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def form_changes(form) -> dict[str, list]:
    """``{field: [old, new]}`` for every field the admin's form changed."""
    changes = {}
    for name in form.changed_data:
        if any(secret in name for secret in _SECRET_FIELDS):
            changes[name] = ["(not recorded)", "(changed)"]
            continue
        field = form.fields.get(name)
        old = form.initial.get(name)
        if field is not None and hasattr(field, "queryset") and old is not None:
            # A choice of rows: the initial value is a pk (or a list of them), show the rows.
            many = isinstance(old, list | tuple | set | QuerySet)
            pks = [getattr(v, "pk", v) for v in old] if many else [getattr(old, "pk", old)]
            rows = list(field.queryset.model._default_manager.filter(pk__in=pks))
            old = rows if many else (rows[0] if rows else None)
        changes[name] = [plain(old), plain(form.cleaned_data.get(name))]
    return changes


def dict_changes(old: dict, new: dict, prefix: str = "") -> dict[str, list]:
    """``{dotted.key: [old, new]}`` for every leaf that differs between two JSON documents."""
    changes = {}
    for key in sorted(set(old) | set(new), key=str):
        before, after = old.get(key), new.get(key)
        name = f"{prefix}{key}"
        if isinstance(before, dict) and isinstance(after, dict):
            changes.update(dict_changes(before, after, prefix=f"{name}."))
        elif before != after:
            changes[name] = [before, after]
    return changes


def announce(request, obj: Model, action: str, changes: dict | None = None) -> None:
    admin_changed.send(
        sender=type(obj), actor=request.user, obj=obj, action=action, changes=changes or {}
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, searched and filtered; never added, changed or deleted here."""

    actions = None

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AuditedAdmin(admin.ModelAdmin):
    """Every save and delete announced with its old and new values (see the module)."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        request._admin_announced = True
        announce(request, obj, "changed" if change else "added", form_changes(form))

    def delete_model(self, request, obj):
        request._admin_announced = True
        announce(request, obj, "deleted")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset: Iterable[Model]):
        request._admin_announced = True
        for obj in queryset:
            announce(request, obj, "deleted")
        super().delete_queryset(request, queryset)

    def log_change(self, request, obj, message):
        # Views that save without save_model (a user's password form) are announced here,
        # with what Django's own log says and no values.
        if not getattr(request, "_admin_announced", False):
            announce(request, obj, "changed", {"message": [None, str(message)]})
        return super().log_change(request, obj, message)
