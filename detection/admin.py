from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from common.admin import ReadOnlyAdmin, announce, dict_changes
from common.uploads import upload_limit
from detection.allowlist import (
    known_good_add,
    known_good_change,
    known_good_check,
    known_good_revoke,
)
from detection.backtest import (
    MAX_SHADOW_DAYS,
    backtest_default_window,
    backtest_start,
    config_shadow,
)
from detection.config import (
    COMMUNITIES,
    CONTENT,
    COORDINATION,
    FLAGGING,
    SIGNALS,
    WINDOW,
    config_new_version,
    config_publish,
    current_config,
)
from detection.forms import PARAM_FIELDS, DetectionConfigForm
from detection.indicators import admin as indicators_admin
from detection.models import (
    Account,
    AccountChange,
    AccountScore,
    Campaign,
    ConfigPublication,
    DetectionConfig,
    DetectionRun,
    Exchange,
    IngestReport,
    KnownGood,
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
        "status_shown",
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
    exclude = ["status"]  # shown as status_explained, which says when a report is stale
    readonly_fields = [
        "status_explained" if f.name == "status" else f.name
        for f in IngestReport._meta.fields
        if f.name != "id"
    ] + ["progress", "reject_file"]

    @admin.display(description="file")
    def file_name(self, obj: IngestReport) -> str:
        return obj.path.rsplit("/", 1)[-1]

    @admin.display(description="status", ordering="status")
    def status_shown(self, obj: IngestReport) -> str:
        return obj.shown_status

    @admin.display(description="status")
    def status_explained(self, obj: IngestReport) -> str:
        """A running report that stopped moving says so, and what to do about it."""
        if not obj.is_interrupted():
            return obj.get_status_display()
        last = timezone.localtime(obj.progress_at or obj.started_at or obj.created_at)
        again = (
            "manage.py ingest_uploads takes it up again"
            if obj.created_by_id
            else "run the same ingest again"
        )
        return (
            f"Interrupted: no progress since {date_format(last, 'DATETIME_FORMAT')}. The rows "
            f"up to line {obj.lines_done:,} are loaded; {again} (rows already loaded count as "
            "duplicates)."
        )

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
            "submit": "Upload and ingest",
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


class PublishForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class ShadowForm(forms.Form):
    days = forms.IntegerField(label="Days in shadow", min_value=0, max_value=MAX_SHADOW_DAYS)


class BacktestForm(forms.Form):
    start = forms.DateTimeField(label="Window from", help_text="UTC, e.g. 2026-01-01 00:00")
    end = forms.DateTimeField(label="Window to", help_text="Defaults to the next run's window.")

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "The window must end after it starts.")
        return data


# How the declaration's sections are laid out in the admin, in this order.
CONFIG_SECTIONS = {
    FLAGGING: {
        "description": 'Risk scores run from 0 to 1; see docs/detection.md, "Scores and flags".',
    },
    SIGNALS: {
        "description": "A signal's strength is 0 below its threshold, 0.5 at it, rising to 1 at "
        "its saturation; it contributes weight x strength, and the risk score is 1 - the "
        "product of (1 - contribution). Save a change as a draft and backtest it before "
        "publishing it.",
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
    list_display = ["version", "state", "created_by", "created_at", "reason", "runs_count"]
    list_filter = ["is_draft"]
    readonly_fields = ["version", "created_by", "created_at"]
    fieldsets = config_fieldsets()
    change_form_template = "admin/detection/detectionconfig/change_form.html"

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="runs")
    def runs_count(self, config):
        return config.runs.count()

    @admin.display(description="state")
    def state(self, config):
        if config.pk == self._in_force_pk():
            return "in force"
        if config.is_draft:
            return "draft"
        return "earlier"

    def _in_force_pk(self) -> int:
        return current_config().pk

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra = {"in_force": current_config(), **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, extra)

    def save_model(self, request, obj, form, change):
        in_force = current_config()
        draft = "_draft" in request.POST
        new = config_new_version(
            params=form.cleaned_data["params"],
            reason=form.cleaned_data["reason"],
            author=request.user,
            draft=draft,
        )
        changes = dict_changes(in_force.params if in_force else {}, new.params)
        changes["version"] = [in_force.version if in_force else None, new.version]
        changes["reason"] = [in_force.reason if in_force else None, new.reason]
        if draft:
            changes["is_draft"] = [None, True]
        announce(request, new, "added", changes)
        # The admin goes on to log and redirect to ``obj``: make it the new version.
        obj.pk, obj.version, obj.params, obj.reason = new.pk, new.version, new.params, new.reason
        obj.created_by, obj.created_at = new.created_by, new.created_at
        obj._state.adding = False

    def get_urls(self):
        return [
            path(
                "<int:pk>/publish/",
                self.admin_site.admin_view(self.publish_view),
                name="detection_detectionconfig_publish",
            ),
            path(
                "<int:pk>/backtest/",
                self.admin_site.admin_view(self.backtest_view),
                name="detection_detectionconfig_backtest",
            ),
            path(
                "<int:pk>/shadow/",
                self.admin_site.admin_view(self.shadow_view),
                name="detection_detectionconfig_shadow",
            ),
            *super().get_urls(),
        ]

    def _simple_form(self, request, config, form, *, title, intro, submit):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": config,
            "title": title,
            "intro": intro,
            "form": form,
            "submit": submit,
        }
        return TemplateResponse(request, "admin/detection/simple_form.html", context)

    def publish_view(self, request, pk: int):
        """Put a version in force: a draft goes live, an earlier version is restored."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        config = get_object_or_404(DetectionConfig, pk=pk)
        in_force = current_config()
        form = PublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():
                    publication = config_publish(
                        config=config, reason=form.cleaned_data["reason"], author=request.user
                    )
                    announce(
                        request,
                        config,
                        "changed",
                        {
                            "in_force": [str(in_force), str(config)],
                            "reason": [None, publication.reason],
                        },
                    )
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"{config} is now in force (was {in_force}); the next run uses it.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:detection_detectionconfig_change", args=[config.pk])
                )
        verb = "Publish" if config.is_draft else "Restore"
        return self._simple_form(
            request,
            config,
            form,
            title=f"{verb} {config}",
            intro=f"{in_force} is in force. {verb} {config} and every run from the next one "
            "uses it. Say why: the reason is kept with the version's publication history.",
            submit=f"{verb} {config}",
        )

    def shadow_view(self, request, pk: int):
        """Run a draft in shadow beside the scheduled runs for a number of days (0 stops)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        config = get_object_or_404(DetectionConfig, pk=pk, is_draft=True)
        form = ShadowForm(request.POST or None, initial={"days": 14})
        if request.method == "POST" and form.is_valid():
            before = config.shadow_until
            with transaction.atomic():
                config_shadow(config=config, days=form.cleaned_data["days"])
                announce(
                    request,
                    config,
                    "changed",
                    {"shadow_until": [str(before), str(config.shadow_until)]},
                )
            said = (
                f"{config} runs in shadow until {config.shadow_until:%Y-%m-%d %H:%M}."
                if config.shadow_until
                else f"{config} no longer runs in shadow."
            )
            self.message_user(request, said, messages.SUCCESS)
            return HttpResponseRedirect(
                reverse("admin:detection_detectionconfig_change", args=[config.pk])
            )
        return self._simple_form(
            request,
            config,
            form,
            title=f"Run {config} in shadow",
            intro="After each scheduled run that succeeds, the draft is backtested over that "
            "run's window beside that run's version: it opens no case and changes no flag, and "
            "the comparisons accumulate under Backtests. 0 days stops it.",
            submit="Run in shadow",
        )

    def backtest_view(self, request, pk: int):
        """Start a backtest of this version against the one in force over a window."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        config = get_object_or_404(DetectionConfig, pk=pk)
        start, end = backtest_default_window(config)
        form = BacktestForm(request.POST or None, initial={"start": start, "end": end})
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                backtest = backtest_start(
                    config=config,
                    window_start=form.cleaned_data["start"],
                    window_end=form.cleaned_data["end"],
                    by=request.user,
                )
                announce(request, backtest, "added", {"config": [None, str(config)]})
            return HttpResponseRedirect(
                reverse("admin:detection_backtest_change", args=[backtest.pk])
            )
        return self._simple_form(
            request,
            config,
            form,
            title=f"Backtest {config}",
            intro=f"Runs {config} beside the version in force ({current_config()}) over the "
            "window's stored telemetry, in the background. It opens no case and changes no "
            "flag; you see what each would flag, and how each does against analysts' labels.",
            submit="Start the backtest",
        )


@admin.register(ConfigPublication)
class ConfigPublicationAdmin(ReadOnlyAdmin):
    """Which version was in force when: each publication, restore included, with its reason."""

    list_display = ["published_at", "config", "previous", "published_by", "reason"]


class KnownGoodForm(forms.ModelForm):
    revoke = forms.BooleanField(
        required=False, help_text="End the entry now; the reason above is recorded as why."
    )

    class Meta:
        model = KnownGood
        fields = ["scope", "value", "reason", "expires_at"]

    def clean(self):
        data = super().clean()
        if self.errors or data.get("revoke"):
            return data
        scope = data.get("scope", self.instance.scope)
        value = data.get("value", self.instance.value)
        try:
            known_good_check(scope, value, data["reason"], data["expires_at"], timezone.now())
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return data


class KnownGoodStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("in_force", "in force"), ("ended", "expired or revoked")]

    def queryset(self, request, queryset):
        if self.value() == "in_force":
            return queryset.in_force()
        if self.value() == "ended":
            return queryset.exclude(pk__in=KnownGood.objects.in_force().values("pk"))
        return queryset


@admin.register(KnownGood)
class KnownGoodAdmin(admin.ModelAdmin):
    """The known-good allow-list. Entries are added, extended and revoked through
    ``detection.allowlist``, which writes each change to the entry's audit trail; an entry
    is never deleted."""

    form = KnownGoodForm
    list_display = ["value", "scope", "state", "expires_at", "created_by", "created_at"]
    list_filter = [KnownGoodStateFilter, "scope"]
    search_fields = ["=value", "reason"]

    @admin.display(description="state")
    def state(self, entry: KnownGood) -> str:
        if entry.revoked_at:
            return "revoked"
        return "in force" if entry.holds() else "expired"

    @admin.display(description="audit trail, newest first")
    def trail(self, entry: KnownGood) -> str:
        events = entry.events.select_related("actor")
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li>{} · {} · {} · {}</li>",
                (
                    (
                        e.at.strftime("%Y-%m-%d %H:%M"),
                        e.verb,
                        e.actor.get_username() if e.actor else "system",
                        ", ".join(f"{k}: {v}" for k, v in e.data.items()),
                    )
                    for e in events
                ),
            ),
        )

    def get_readonly_fields(self, request, obj=None):
        done = ["created_by", "created_at", "revoked_at", "revoked_by", "trail"]
        return ["scope", "value", *done] if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["scope", "value", "reason", "expires_at"]
        return [
            "scope",
            "value",
            "reason",
            "expires_at",
            "revoke",
            *self.get_readonly_fields(request, obj)[2:],
        ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            entry = known_good_add(
                scope=data["scope"],
                value=data["value"],
                reason=data["reason"],
                expires_at=data["expires_at"],
                by=request.user,
            )
            announce(request, entry, "added", {"value": [None, entry.value]})
        elif data.get("revoke"):
            entry = known_good_revoke(entry=obj, reason=data["reason"], by=request.user)
            announce(request, entry, "changed", {"revoked": [False, True]})
        else:
            entry = known_good_change(
                entry=obj, reason=data["reason"], expires_at=data["expires_at"], by=request.user
            )
            announce(request, entry, "changed", {"expires_at": [None, str(entry.expires_at)]})
        obj.pk = entry.pk
        obj._state.adding = False


# The watch list's pages live with it (detection.indicators.admin).
indicators_admin.register(admin.site)
