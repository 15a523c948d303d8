"""Service tokens in the admin: made (the secret shown once, on the page that follows),
looked at, revoked. Never edited or deleted, so every audit event naming one still finds it.
Creation and revocation go through ``api.services``, which write the audit log."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from api import services
from api.models import PushedBatch, Scope, ServiceToken
from common.admin import ReadOnlyAdmin

DEFAULT_LIFETIME = timedelta(days=90)


class ServiceTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Give each system only what it needs.",
    )

    class Meta:
        model = ServiceToken
        fields = ["name", "scopes", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("the expiry is in the past: the token would never work")
        return expires_at


@admin.register(ServiceToken)
class ServiceTokenAdmin(admin.ModelAdmin):
    form = ServiceTokenForm
    list_display = ["name", "hint", "scope_list", "state", "expires_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "hint"]
    readonly_fields = [
        "name",
        "hint",
        "scope_list",
        "state",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scope_list(self, token: ServiceToken) -> str:
        return ", ".join(token.scopes)

    def get_fields(self, request, obj=None):
        return ["name", "scopes", "expires_at"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_changeform_initial_data(self, request):
        return {"expires_at": timezone.now() + DEFAULT_LIFETIME}

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("api.change_servicetoken")

    def save_model(self, request, obj, form, change):
        token, plain = services.token_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
            by=request.user,
        )
        obj.__dict__.update(token.__dict__)
        request._api_token_plain = plain

    def response_add(self, request, obj, post_url_continue=None):
        # The secret exists only in this response: shown once, never stored or redirected.
        response = TemplateResponse(
            request,
            "admin/api/servicetoken/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Service token made",
                "token": obj,
                "plain": request._api_token_plain,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = sum(services.token_revoke(token=t, by=request.user) for t in queryset)
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)


@admin.register(PushedBatch)
class PushedBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "token", "kind", "records", "idempotency_key", "created_at"]
    list_select_related = ["token"]
    list_filter = ["kind"]
