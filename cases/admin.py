from django.contrib import admin
from django.utils.html import format_html, format_html_join

from cases.models import (
    AccountLabel,
    AccountLabelRevision,
    AuditEvent,
    Case,
    EnforcementAction,
    Policy,
    ReasonCode,
    Tag,
    ViolationCategory,
)
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


@admin.register(ReasonCode)
class ReasonCodeAdmin(AuditedAdmin):
    """The maintained list of reasons a decision may give. A code in use is retired
    (``is_active`` off), never deleted, so the labels that cite it stay readable."""

    list_display = ["code", "label", "outcome", "is_active", "position"]
    list_filter = ["outcome", "is_active"]
    list_editable = ["position"]
    search_fields = ["code", "label"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccountLabel)
class AccountLabelAdmin(ReadOnlyAdmin):
    """Labels change only through the decisions that record them; each shows its history."""

    list_display = ["account", "outcome", "reason", "source", "decided_by", "decided_at"]
    list_filter = ["outcome", "source", "reason"]
    search_fields = ["=account__account_id"]
    raw_id_fields = ["account", "case", "action"]
    readonly_fields = ["history"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "reason", "decided_by")

    @admin.display(description="revisions, newest first")
    def history(self, label: AccountLabel) -> str:
        revisions = AccountLabelRevision.objects.filter(account=label.account_id).select_related(
            "reason", "decided_by"
        )
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li>{} · {} · {} · {} · {}</li>",
                (
                    (
                        r.decided_at.strftime("%Y-%m-%d %H:%M"),
                        r.get_outcome_display(),
                        r.reason.label,
                        r.get_source_display(),
                        r.decided_by.get_username() if r.decided_by else "system",
                    )
                    for r in revisions
                ),
            ),
        )
