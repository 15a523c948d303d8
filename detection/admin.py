from django.contrib import admin

from detection.models import (
    Account,
    AccountScore,
    Campaign,
    DetectionConfig,
    DetectionRun,
    Exchange,
    IngestReport,
)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["account_id", "plan", "org_id", "country", "created_at", "platform_status"]
    list_filter = ["plan", "platform_status", "is_placeholder"]
    search_fields = ["=account_id", "=org_id", "=payment_fingerprint", "email_domain"]
    show_full_result_count = False


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ["exchange_id", "account", "ts", "model", "ip"]
    search_fields = ["=exchange_id"]
    raw_id_fields = ["account"]
    # Never count or sort tens of millions of rows for a list page.
    show_full_result_count = False
    ordering = []

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")


@admin.register(IngestReport)
class IngestReportAdmin(admin.ModelAdmin):
    list_display = [
        "path",
        "kind",
        "status",
        "loaded",
        "duplicates",
        "placeholders",
        "rejected",
        "created_at",
    ]
    list_filter = ["status", "kind"]


@admin.register(DetectionRun)
class DetectionRunAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "stage", "progress", "config", "created_at", "finished_at"]
    list_filter = ["status"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["label", "member_count", "risk_score", "is_active", "last_run"]


@admin.register(AccountScore)
class AccountScoreAdmin(admin.ModelAdmin):
    list_display = ["account", "run", "risk_score", "flagged", "campaign"]
    list_filter = ["flagged"]
    raw_id_fields = ["account", "run", "campaign"]
    show_full_result_count = False


@admin.register(DetectionConfig)
class DetectionConfigAdmin(admin.ModelAdmin):
    list_display = ["version", "created_by", "created_at", "reason"]
