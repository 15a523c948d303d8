"""The watch list in the admin: indicators (edited, expired, added one by one), their
imports with the rows refused, an upload page, and the flags other systems raised.

Registered from ``detection.admin``. Every change a person makes here is announced for the
audit log (``common.admin``); flags and imports are records, shown read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from common.admin import AuditedAdmin, ReadOnlyAdmin, announce
from detection.indicators import parse
from detection.indicators.matching import indicator_matches_refresh
from detection.indicators.services import MAX_FILE_BYTES, indicators_expire, indicators_import
from detection.models import ExternalFlag, Indicator, IndicatorImport, Tlp


class IndicatorForm(forms.ModelForm):
    """One indicator typed in: checked and normalised as a file's row would be."""

    class Meta:
        model = Indicator
        fields = ["kind", "value", "source", "comment", "tlp", "expires_at"]

    def clean(self):
        cleaned = super().clean()
        kind, value = cleaned.get("kind"), cleaned.get("value")
        if kind and value:
            try:
                kind, value, digest = parse.normalise(kind, value)
            except parse.RowError as exc:
                raise forms.ValidationError({"value": str(exc)}) from None
            cleaned["kind"], cleaned["value"] = kind, value
            self.instance.prompt_hash = digest
        return cleaned


class IndicatorUploadForm(forms.Form):
    file = forms.FileField(
        help_text="Meta's CSV (indicator_type, indicator_value, comment) or a STIX 2.1 bundle "
        f"(.json), at most {MAX_FILE_BYTES // 2**20} MB."
    )
    source = forms.CharField(
        max_length=255,
        required=False,
        help_text="Who shared it. Empty: the STIX creator's name, else the file name.",
    )
    tlp = forms.ChoiceField(
        label="TLP", choices=Tlp.choices, initial=Tlp.AMBER, help_text="Where the file marks none."
    )
    expires_at = forms.DateTimeField(
        required=False, help_text="Stop watching these at this time (empty: until expired)."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_FILE_BYTES // 2**20} MB; split it."
            )
        return upload


class IndicatorAdmin(AuditedAdmin):
    """The watch list. Values are shown as text, never as links: they come from outside."""

    form = IndicatorForm
    list_display = ["kind", "short_value", "source", "tlp", "expires_at", "accounts", "created_at"]
    list_filter = ["kind", "tlp", "source"]
    search_fields = ["value", "source", "comment"]
    readonly_fields = ["stix_id", "imported_from", "added_by", "created_at"]
    actions = ["expire_now"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(accounts=Count("matches"))

    @admin.display(description="value")
    def short_value(self, obj: Indicator) -> str:
        return obj.value if len(obj.value) <= 80 else obj.value[:79] + "…"

    @admin.display(description="accounts matched", ordering="accounts")
    def accounts(self, obj: Indicator) -> int:
        return obj.accounts

    def save_model(self, request, obj, form, change):
        if not change:
            obj.added_by = request.user
        super().save_model(request, obj, form, change)
        indicator_matches_refresh(Indicator.objects.filter(pk=obj.pk))

    @admin.action(description="Stop watching the selected indicators now", permissions=["change"])
    def expire_now(self, request, queryset):
        with transaction.atomic():
            now = timezone.now()
            for indicator in queryset:
                announce(request, indicator, "changed", {"expires_at": [
                    str(indicator.expires_at) if indicator.expires_at else None, str(now)
                ]})  # fmt: skip
            done = indicators_expire(indicators=queryset, at=now)
        self.message_user(request, f"{done} indicator(s) no longer watched.", messages.SUCCESS)


class IndicatorImportAdmin(ReadOnlyAdmin):
    """Every indicator file loaded, with the rows it refused; "Upload indicators" adds one."""

    change_list_template = "admin/detection/indicatorimport/change_list.html"
    list_display = ["file_name", "format", "source", "status", "added", "updated", "rejected",
                    "matched_accounts", "created_by", "created_at"]  # fmt: skip
    list_filter = ["status", "format"]
    search_fields = ["file_name", "source"]
    exclude = ["rejects"]
    readonly_fields = [
        *(f.name for f in IndicatorImport._meta.fields if f.name not in ("id", "rejects")),
        "refused_rows",
    ]

    @admin.display(description="rows refused")
    def refused_rows(self, obj: IndicatorImport) -> str:
        if not obj.rejects:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r.get("row"), r.get("value"), r.get("reason")) for r in obj.rejects),
        )
        more = obj.rejected - len(obj.rejects)
        tail = format_html("<p>… and {} more.</p>", more) if more > 0 else ""
        return format_html(
            "<table><thead><tr><th>row</th><th>value</th><th>reason</th></tr></thead>"
            "<tbody>{}</tbody></table>{}",
            rows,
            tail,
        )

    def get_urls(self):
        upload = path(
            "upload/",
            self.admin_site.admin_view(self.upload_view),
            name="detection_indicatorimport_upload",
        )
        return [upload, *super().get_urls()]

    def upload_view(self, request):
        if not request.user.has_perm("detection.add_indicator"):
            raise PermissionDenied
        form = IndicatorUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            with transaction.atomic():  # the import and its audit event together
                record = indicators_import(
                    data=upload.read(),
                    file_name=upload.name,
                    source=form.cleaned_data["source"],
                    tlp=form.cleaned_data["tlp"],
                    expires_at=form.cleaned_data["expires_at"],
                    user=request.user,
                )
                announce(request, record, "added", {
                    "file": [None, record.file_name], "status": [None, record.status],
                    "added": [None, record.added], "updated": [None, record.updated],
                    "rejected": [None, record.rejected],
                })  # fmt: skip
            if record.status == IndicatorImport.Status.FAILED:
                form.add_error("file", f"Nothing was imported: {record.error}")
            else:
                self.message_user(
                    request,
                    f"Imported {record.file_name}: {record.added} indicators added, "
                    f"{record.updated} updated, {record.rejected} rows refused (listed below); "
                    f"{record.matched_accounts} accounts match.",
                    messages.WARNING if record.rejected else messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:detection_indicatorimport_change", args=[record.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Upload indicators",
            "form": form,
        }
        return TemplateResponse(request, "admin/detection/indicatorimport/upload.html", context)


class ExternalFlagAdmin(ReadOnlyAdmin):
    """Accounts and indicators other systems flagged (they arrive through the API)."""

    list_display = ["source", "account", "indicator", "short_reason", "external_id", "created_at"]
    list_filter = ["source"]
    search_fields = ["source", "external_id", "account__account_id", "reason"]
    raw_id_fields = ["account", "indicator"]

    @admin.display(description="reason")
    def short_reason(self, obj: ExternalFlag) -> str:
        return obj.reason if len(obj.reason) <= 80 else obj.reason[:79] + "…"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "indicator")


def register(site: admin.AdminSite) -> None:
    site.register(Indicator, IndicatorAdmin)
    site.register(IndicatorImport, IndicatorImportAdmin)
    site.register(ExternalFlag, ExternalFlagAdmin)
