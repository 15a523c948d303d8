"""The API's filters (django-filter, as the console's tables use)."""

from datetime import UTC

import django_filters as df
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from cases.models import Case
from detection.contract import MAX_BIGINT
from detection.models import Account, Campaign


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, in UTC: PostgreSQL refuses offsets past 15:59 that ISO allows."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("out of range", code="invalid") from None


class UtcDateTimeFilter(df.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_BIGINT})
class IdFilter(df.NumberFilter):
    """A row's id: a whole number a bigint column holds (a bigger one is a 400, not a
    database error)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_BIGINT, **kwargs)


@extend_schema_field({"type": "number", "minimum": 0, "maximum": 1})
class RiskFilter(df.NumberFilter):
    """At least this risk score; scores are between 0 and 1."""

    field_class = forms.FloatField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, lookup_expr="gte", min_value=0, max_value=1, **kwargs)


@extend_schema_field({"type": "string", "pattern": "^[^\\x00]*$"})
class TextFilter(df.CharFilter):
    """Exact text. A NUL is refused (400): nothing stored can hold one."""


# Orderings the key pager can follow (each ends with the primary key, each has an index).
CASE_ORDERINGS = {
    "-risk_score": ("-risk_score", "-id"),
    "-opened_at": ("-opened_at", "-id"),
    "id": ("id",),
}


class CaseFilter(df.FilterSet):
    status = df.MultipleChoiceFilter(choices=Case.Status.choices)
    priority = df.TypedChoiceFilter(choices=Case.Priority.choices, coerce=int)
    kind = df.ChoiceFilter(choices=Case.Kind.choices)
    campaign = IdFilter(field_name="campaign_id")
    assignee = TextFilter(field_name="assignee__username")
    tag = TextFilter(field_name="tags__name")
    risk_min = RiskFilter(field_name="risk_score")
    opened_after = UtcDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = UtcDateTimeFilter(field_name="opened_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    ordering = df.ChoiceFilter(
        choices=[(key, key) for key in CASE_ORDERINGS],
        method="order",
        empty_label=None,
        label="Order: -risk_score (default), -opened_at or id.",
    )

    class Meta:
        model = Case
        fields = []

    def order(self, queryset, name, value):
        return queryset.order_by(*CASE_ORDERINGS.get(value, CASE_ORDERINGS["-risk_score"]))


class CampaignFilter(df.FilterSet):
    is_active = df.BooleanFilter()
    risk_min = RiskFilter(field_name="risk_score")

    class Meta:
        model = Campaign
        fields = []


class AccountFilter(df.FilterSet):
    email_domain = TextFilter()
    org_id = TextFilter()
    payment_fingerprint = TextFilter()
    country = TextFilter(method="upper")
    plan = TextFilter()
    platform_status = df.ChoiceFilter(choices=Account.PlatformStatus.choices)
    is_placeholder = df.BooleanFilter()
    flagged = df.BooleanFilter(field_name="latest_flagged", label="Flagged at the latest run.")
    campaign = IdFilter(method="in_campaign", label="In this campaign at the latest run.")

    class Meta:
        model = Account
        fields = []

    def upper(self, queryset, name, value):
        return queryset.filter(country=value.upper())

    def in_campaign(self, queryset, name, value):
        return queryset.filter(latest_campaign=value)
