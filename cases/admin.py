from django.contrib import admin

from cases.models import AuditEvent, Case, EnforcementAction, Policy, Tag, ViolationCategory
from common.admin import AuditedAdmin, ReadOnlyAdmin


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    """Read-only: a case changes through the console's workflow, which checks the rules
    (four eyes, transitions) and writes the audit log."""

    list_display = ["id", "title", "status", "priority", "assignee", "risk_score", "opened_at"]
    list_filter = ["status", "priority", "kind"]
    search_fields = ["title", "=subject_key"]
    raw_id_fields = ["assignee", "campaign", "last_run", "merged_into"]


@admin.register(Tag)
class TagAdmin(AuditedAdmin):
    search_fields = ["name"]


class EnforcementTermAdmin(AuditedAdmin):
    """The lists a proposal picks its policy and violation category from. Retire an entry by
    unticking "active": one that an action used cannot be deleted (the action keeps it)."""

    list_display = ["name", "code", "active", "position"]
    list_editable = ["active", "position"]
    list_filter = ["active"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


admin.site.register(Policy, EnforcementTermAdmin)
admin.site.register(ViolationCategory, EnforcementTermAdmin)


@admin.register(EnforcementAction)
class EnforcementActionAdmin(ReadOnlyAdmin):
    """Actions are made only through the four-eyes services, never typed into the admin."""

    list_display = ["id", "case", "kind", "policy", "category", "status", "proposed_by"]
    list_filter = ["kind", "status", "policy", "category"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit log cannot be edited or deleted through the admin."""

    list_display = ["at", "verb", "actor", "case", "target_type", "target_id"]
    list_filter = ["verb"]
    search_fields = ["verb", "target_id"]
