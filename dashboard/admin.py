"""Users, roles and report subscriptions in the admin, with every change written to the audit
log (common.admin); report deliveries read-only."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from common.admin import AuditedAdmin, ReadOnlyAdmin
from dashboard.reports.models import ReportDelivery, ReportSubscription

User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    pass


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(AuditedAdmin):
    """Who receives the period report; an admin can stop a subscription (audited)."""

    list_display = ("user", "frequency", "created_at", "updated_at")
    list_filter = ("frequency",)
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)

    def has_add_permission(self, request) -> bool:
        # People subscribe themselves, from the report's page, to their own address.
        return False


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(ReadOnlyAdmin):
    """Each report emailed or tried: status, attempts and the last mail error."""

    list_display = ("subscription", "period_start", "period_end", "status", "attempts",
                    "attached", "sent_at", "last_error")  # fmt: skip
    list_filter = ("status", "attached")
    search_fields = ("subscription__user__username", "last_error")
