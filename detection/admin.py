from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from common.admin import ReadOnlyAdmin, announce, dict_changes
from common.uploads import upload_limit
from detection.config import (
    COMMUNITIES,
    CONTENT,
    COORDINATION,
    FLAGGING,
    SIGNALS,
    WINDOW,
    config_new_version,
)
from detection.forms import PARAM_FIELDS, DetectionConfigForm
from detection.models import (
    Account,
    AccountChange,
    AccountScore,
    Campaign,
    DetectionConfig,
    DetectionRun,
    Exchange,
    IngestReport,
)
from detection.services import detection_run_start


def _rejects_pruned() -> str:
    # Reject files hold raw lines (prompts), so they go with the telemetry they describe.
    return (
        f"reject files are deleted {settings.TELEMETRY_RETENTION_DAYS} days after they were "
        "written (TELEMETRY_RETENTION_DAYS), like the exchanges; the report's counts remain."
    )


# Telemetry and detection results are read-only here: they change only through ingest and
# detection runs (common.admin). A prompt is never shown here: it is read on a case's
# evidence section, where each view is audited.


class AccountChangeInline(admin.TabularInline):
    """The account's history: values later accounts rows replaced (records, not editable)."""

    model = AccountChange
    fields = ["changed_at", "field", "old_value", "new_value", "source"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["account_id", "plan", "org_id", "country", "created_at", "platform_status"]
    list_filter = ["plan", "platform_status", "is_placeholder"]
    inlines = [AccountChangeInline]
    search_fields = ["=account_id", "=org_id", "=payment_fingerprint", "email_domain"]
    show_full_result_count = False


class TelemetryStateFilter(admin.SimpleListFilter):
    """Exchanges ingest loaded but marked: dated in the future (quarantined from detection)
    or with text cleaned (docs/ingest.md)."""

    title = "ingest marks"
    parameter_name = "marked"

    def lookups(self, request, model_admin):
        return [
            ("future", "dated in the future (quarantined)"),
            ("cleaned", "text cleaned (originals kept)"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "future":
            return queryset.quarantined()
        if self.value() == "cleaned":
            return queryset.cleaned()
        return queryset


@admin.register(Exchange)
class ExchangeAdmin(ReadOnlyAdmin):
    list_display = ["exchange_id", "account", "ts", "model", "ip", "text_flags"]
    list_filter = [TelemetryStateFilter]
    # The prompt, and the originals of cleaned text (a prompt's among them), are read on a
    # case's evidence section, where each view is audited.
    exclude = ["prompt", "text_originals"]
    search_fields = ["=exchange_id"]
    raw_id_fields = ["account"]
    # Never count or sort tens of millions of rows for a list page.
    show_full_result_count = False
    ordering = []

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")


class TelemetryUploadForm(forms.Form):
    file = forms.FileField(
        help_text="JSON Lines or CSV with a header row, optionally gzipped (.jsonl, .csv, .gz)."
    )
    kind = forms.ChoiceField(
        choices=[("", "From the file name (accounts*, exchanges*)")]
        + list(IngestReport.Kind.choices),
        required=False,
    )

    def __init__(self, *args, too_large: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.too_large = too_large
        self.fields["file"].help_text += f" At most {filesizeformat(upload_limit())}."
        if too_large:  # the handler dropped the file: say why, not "required"
            self.fields["file"].required = False

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        limit = upload_limit()
        if self.too_large or (upload is not None and upload.size > limit):
            raise forms.ValidationError(
                f"The file is larger than the upload limit of {filesizeformat(limit)} "
                "(UPLOAD_MAX_BYTES). Split it, or ingest it from the command line "
                "(manage.py ingest)."
            )
        return upload

    def clean(self):
        from detection.ingest.uploads import upload_kind

        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is not None:
            try:
                cleaned["kind"] = upload_kind(upload.name, cleaned.get("kind") or None)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
        return cleaned


@admin.register(IngestReport)
class IngestReportAdmin(ReadOnlyAdmin):
    """Every ingest (command line or upload), its counts and status; staff upload files here.

    Reports are records, so nothing on them is editable; a new one comes from "Upload
    telemetry", which saves the file under DATA_DIR/uploads and ingests it in a task.
    """

    change_list_template = "admin/detection/ingestreport/change_list.html"
    list_display = [
        "file_name",
        "kind",
        "status",
        "progress",
        "loaded",
        "rejected",
        "duplicates",
        "placeholders",
        "cleaned",
        "future",
        "created_at",
    ]
    list_filter = ["status", "kind", "loader"]
    search_fields = ["path"]
    readonly_fields = [f.name for f in IngestReport._meta.fields if f.name != "id"] + [
        "progress",
        "reject_file",
    ]

    @admin.display(description="file")
    def file_name(self, obj: IngestReport) -> str:
        return obj.path.rsplit("/", 1)[-1]

    @admin.display(description="read")
    def progress(self, obj: IngestReport) -> str:
        if obj.status == IngestReport.Status.DONE or not obj.size:
            return "100%" if obj.status == IngestReport.Status.DONE else "-"
        return f"{min(100, 100 * obj.bytes_read // obj.size)}%"

    @admin.display(description="reject file")
    def reject_file(self, obj: IngestReport) -> str:
        if not obj.reject_path:
            return "-"
        if not Path(obj.reject_path).is_file():
            return f"pruned ({obj.reject_path}): {_rejects_pruned()}"
        url = reverse("admin:detection_ingestreport_rejects", args=[obj.pk])
        return format_html('<a href="{}">download</a> ({})', url, obj.reject_path)

    def get_urls(self):
        urls = [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="detection_ingestreport_upload",
            ),
            path(
                "<int:pk>/rejects/",
                self.admin_site.admin_view(self.rejects_view),
                name="detection_ingestreport_rejects",
            ),
        ]
        return urls + super().get_urls()

    def upload_view(self, request):
        from detection.ingest.uploads import upload_create

        if not request.user.has_perm("detection.add_ingestreport"):
            raise PermissionDenied
        posted = request.method == "POST"
        form = TelemetryUploadForm(
            request.POST if posted else None,
            request.FILES if posted else None,
            too_large=getattr(request, "upload_too_large", False),
        )
        if posted and form.is_valid():
            with transaction.atomic():  # the report and its audit event together
                report = upload_create(
                    upload=form.cleaned_data["file"],
                    kind=form.cleaned_data["kind"],
                    user=request.user,
                )
                announce(
                    request,
                    report,
                    "added",
                    {"path": [None, report.path], "kind": [None, report.kind]},
                )
            self.message_user(
                request,
                f"Uploaded {form.cleaned_data['file'].name}: ingest queued as report "
                f"{report.pk}. Its status and counts update here as it runs.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:detection_ingestreport_change", args=[report.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Upload telemetry",
            "form": form,
        }
        return TemplateResponse(request, "admin/detection/ingestreport/upload.html", context)

    def rejects_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = get_object_or_404(IngestReport, pk=pk)
        if not report.reject_path:
            raise Http404("this ingest has no reject file")
        if not Path(report.reject_path).is_file():
            self.message_user(
                request,
                f"The reject file of report {report.pk} was pruned: {_rejects_pruned()}",
                messages.WARNING,
            )
            return HttpResponseRedirect(
                reverse("admin:detection_ingestreport_change", args=[report.pk])
            )
        return FileResponse(
            open(report.reject_path, "rb"),  # FileResponse closes it
            as_attachment=True,
            filename=Path(report.reject_path).name,
            content_type="application/x-ndjson",
        )


@admin.register(DetectionRun)
class DetectionRunAdmin(ReadOnlyAdmin):
    """Runs, newest first, and a button to start one now.

    The button and the action start a background run as the beat schedule does; whatever
    follows a run's success listens to ``detection.hooks.run_succeeded``.
    """

    list_display = [
        "id",
        "status",
        "stage",
        "progress",
        "config",
        "flagged",
        "campaigns",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status"]
    readonly_fields = [f.name for f in DetectionRun._meta.fields]
    actions = ["run_detection_now"]
    change_list_template = "admin/detection/detectionrun/change_list.html"

    @admin.display(description="flagged")
    def flagged(self, run):
        return (run.counts or {}).get("flagged", "")

    @admin.display(description="campaigns")
    def campaigns(self, run):
        return (run.counts or {}).get("campaigns", "")

    def get_urls(self):
        return [
            path(
                "run-now/",
                self.admin_site.admin_view(self.run_now_view),
                name="detection_detectionrun_run_now",
            ),
            *super().get_urls(),
        ]

    def run_now_view(self, request):
        if request.method != "POST" or not request.user.has_perm("detection.add_detectionrun"):
            raise PermissionDenied
        with transaction.atomic():  # the run and its audit event together
            run = detection_run_start(triggered_by=request.user)
            announce(request, run, "added")
        self.message_user(request, f"Detection run {run.pk} started.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:detection_detectionrun_changelist"))

    @admin.action(description="Start a new detection run now", permissions=["start"])
    def run_detection_now(self, request, queryset):
        with transaction.atomic():  # the run and its audit event together
            run = detection_run_start(triggered_by=request.user)
            announce(request, run, "added")
        self.message_user(request, f"Detection run {run.pk} started.", messages.SUCCESS)

    def has_start_permission(self, request):
        return request.user.has_perm("detection.add_detectionrun")


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = [
        "label",
        "member_count",
        "exchange_count",
        "risk_score",
        "is_active",
        "last_run",
    ]
    list_filter = ["is_active"]
    readonly_fields = ["first_run", "last_run", "evidence"]


@admin.register(AccountScore)
class AccountScoreAdmin(ReadOnlyAdmin):
    list_display = ["account", "run", "risk_score", "flagged", "campaign"]
    list_filter = ["flagged"]
    raw_id_fields = ["account", "run", "campaign"]
    show_full_result_count = False


# How the declaration's sections are laid out in the admin, in this order.
CONFIG_SECTIONS = {
    FLAGGING: {
        "description": 'Risk scores run from 0 to 1; see docs/detection.md, "Scores and flags".',
    },
    SIGNALS: {
        "description": "A signal's strength is 0 below its threshold, 0.5 at it, rising to 1 at "
        "its saturation; it contributes weight x strength, and the risk score is 1 - the "
        "product of (1 - contribution). Preview a change against the latest run before saving "
        "it.",
    },
    CONTENT: {"description": "What prompts ask for, and how near-duplicates are found."},
    COORDINATION: {
        "description": "What unrelated accounts share, and what does not count as sharing.",
        "classes": ["collapse"],
    },
    COMMUNITIES: {
        "description": "How linked accounts are grouped into campaigns.",
        "classes": ["collapse"],
    },
    WINDOW: {"classes": ["collapse"]},
}


def config_fieldsets() -> list[tuple[str | None, dict]]:
    """The config form's fieldsets: one per section, one line per value or per signal."""
    fieldsets = [(None, {"fields": ["version", "created_by", "created_at"]})]
    for section, options in CONFIG_SECTIONS.items():
        lines: dict[str, list[str]] = {}
        for param in PARAM_FIELDS:
            if param.section == section:
                lines.setdefault(param.line, []).append(param.name)
        fields = [names[0] if len(names) == 1 else tuple(names) for names in lines.values()]
        fieldsets.append((section, {"fields": fields, **options}))
    fieldsets.append((None, {"fields": ["reason"]}))
    return fieldsets


@admin.register(DetectionConfig)
class DetectionConfigAdmin(admin.ModelAdmin):
    """Versions are immutable: "Save" on any version writes the next one (author, reason),
    announced for the audit log with every value that differs from the version in force."""

    form = DetectionConfigForm
    list_display = ["version", "created_by", "created_at", "reason", "runs_count"]
    readonly_fields = ["version", "created_by", "created_at"]
    fieldsets = config_fieldsets()
    change_form_template = "admin/detection/detectionconfig/change_form.html"

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="runs")
    def runs_count(self, config):
        return config.runs.count()

    def save_model(self, request, obj, form, change):
        in_force = DetectionConfig.objects.order_by("-version").first()
        new = config_new_version(
            params=form.cleaned_data["params"],
            reason=form.cleaned_data["reason"],
            author=request.user,
        )
        changes = dict_changes(in_force.params if in_force else {}, new.params)
        changes["version"] = [in_force.version if in_force else None, new.version]
        changes["reason"] = [in_force.reason if in_force else None, new.reason]
        announce(request, new, "added", changes)
        # The admin goes on to log and redirect to ``obj``: make it the new version.
        obj.pk, obj.version, obj.params, obj.reason = new.pk, new.version, new.params, new.reason
        obj.created_by, obj.created_at = new.created_by, new.created_at
        obj._state.adding = False

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="detection_detectionconfig_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        """What the posted parameters would flag on the latest run, before saving them."""
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        form = DetectionConfigForm(request.POST)
        context = {**self.admin_site.each_context(request), "title": "Preview", "form": form}
        if form.is_valid():
            from detection.preview import preview_params

            context["preview"] = preview_params(form.cleaned_data["params"])
        return TemplateResponse(request, "admin/detection/detectionconfig/preview.html", context)
