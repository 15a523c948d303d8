"""The queue's filters. Saved views are just links to a set of these parameters."""

from datetime import timedelta

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from cases.models import Case, EnforcementAction, Tag
from cases.selectors import account_has_cases, case_text_match, users_who_work_cases
from common.dates import DATE_INPUT_ATTRS

S = Case.Status
User = get_user_model()

STATUS_CHOICES = [
    ("open", "Open (any)"),
    *S.choices,
    ("closed", "Closed (any)"),
    ("any", "Any status"),
]
ASSIGNEE_CHOICES = [("", "Anyone"), ("me", "Me"), ("none", "Unassigned")]

# The saved views of the toolbar: label → query string parameters.
SAVED_VIEWS = [
    ("mine", "My open cases", {"assignee": "me", "status": "open"}),
    ("unassigned", "Unassigned", {"assignee": "none", "status": "open"}),
    ("pending", "Pending approval", {"status": S.PENDING_APPROVAL}),
    ("closed", "Recently closed", {"status": "closed", "closed_within": "30", "sort": "-closed"}),
]
DEFAULT_STATUS = "open"
# The largest id a bigint primary key holds; a typed number past it names no row.
MAX_ID = 2**63 - 1
MAX_CLOSED_WITHIN_DAYS = 36500


class HiddenDateRangeWidget(django_filters.widgets.DateRangeWidget):
    """A date range carried in the URL only (``<name>_after``, ``<name>_before``): set by the
    links that lead here (the period report's), not offered as a field of the toolbar."""

    def __init__(self, attrs=None):
        django_filters.widgets.SuffixedMultiWidget.__init__(
            self, (forms.HiddenInput, forms.HiddenInput), attrs
        )


def _day_range(value, field: str) -> dict:
    """Inclusive calendar-day bounds on ``field`` (a date lookup) from a range filter's value."""
    bounds = {}
    if value and value.start is not None:
        bounds[f"{field}__gte"] = value.start
    if value and value.stop is not None:
        bounds[f"{field}__lte"] = value.stop
    return bounds


class CaseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text",
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "title, #id, account id, note text"}
        ),
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", empty_label=None, widget=forms.Select
    )
    priority = django_filters.ChoiceFilter(
        choices=Case.Priority.choices, empty_label="Any", widget=forms.Select
    )
    assignee = django_filters.CharFilter(method="filter_assignee", label="Assignee")
    campaign = django_filters.CharFilter(
        method="filter_campaign",
        label="Campaign",
        widget=forms.TextInput(attrs={"placeholder": "id or label", "size": 12}),
    )
    risk_min = django_filters.NumberFilter(
        field_name="risk_score",
        lookup_expr="gte",
        label="Risk ≥",
        widget=forms.NumberInput(attrs={"step": "0.05", "min": 0, "max": 1, "size": 5}),
    )
    risk_max = django_filters.NumberFilter(
        field_name="risk_score",
        lookup_expr="lte",
        label="Risk ≤",
        widget=forms.NumberInput(attrs={"step": "0.05", "min": 0, "max": 1, "size": 5}),
    )
    tag = django_filters.CharFilter(method="filter_tag", label="Tag")
    account = django_filters.CharFilter(
        method="filter_account", label="Account id", widget=forms.TextInput
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", label="Overdue only", widget=forms.HiddenInput
    )
    # Inclusive calendar-date ranges: ``opened_after`` / ``opened_before`` and
    # ``decided_after`` / ``decided_before`` (the overview's links use them).
    opened = django_filters.DateFromToRangeFilter(
        field_name="opened_at__date",
        label="Opened",
        widget=django_filters.widgets.DateRangeWidget(attrs=DATE_INPUT_ATTRS),
    )
    decided = django_filters.DateFromToRangeFilter(
        field_name="decided_at__date",
        label="Decided",
        widget=django_filters.widgets.DateRangeWidget(attrs=DATE_INPUT_ATTRS),
    )
    # Ranges the period report links with: cases with an action (not a reversal) that took
    # effect in the range (``enforced_after`` / ``enforced_before``), and cases with a
    # reversal asked for in the range (``reversal_after`` / ``reversal_before``).
    kind = django_filters.ChoiceFilter(choices=Case.Kind.choices, widget=forms.HiddenInput)
    enforced = django_filters.DateFromToRangeFilter(
        method="filter_enforced", label="Action took effect", widget=HiddenDateRangeWidget
    )
    reversal = django_filters.DateFromToRangeFilter(
        method="filter_reversal", label="Reversal asked for", widget=HiddenDateRangeWidget
    )
    # Bounded so that "now minus N days" is a date (a century is more than any team keeps).
    closed_within = django_filters.NumberFilter(
        method="filter_closed_within",
        label="Closed in last N days",
        widget=forms.HiddenInput,
        min_value=0,
        max_value=MAX_CLOSED_WITHIN_DAYS,
    )

    class Meta:
        model = Case
        fields = ["q", "status", "priority", "assignee", "campaign", "tag"]

    def __init__(self, data=None, *args, user=None, workers=None, tags=None, **kwargs):
        if data is not None and not data.get("status"):
            data = data.copy()
            data["status"] = DEFAULT_STATUS
        super().__init__(data, *args, **kwargs)
        self.user = user
        # Selects built from the usernames and tag names the view loads once (and shares with
        # the bulk toolbar), evaluated only when the form is drawn.
        self._workers = workers
        self._tags = tags

    @property
    def form(self):
        form = super().form
        if not getattr(form, "_choices_set", False):
            workers = self._workers
            if workers is None:
                workers = users_who_work_cases().values_list(User.USERNAME_FIELD, flat=True)
            tags = self._tags
            if tags is None:
                tags = Tag.objects.order_by("name").values_list("name", flat=True)
            form.fields["assignee"].widget = forms.Select(
                choices=lambda: ASSIGNEE_CHOICES + [(name, name) for name in workers]
            )
            form.fields["tag"].widget = forms.Select(
                choices=lambda: [("", "Any")] + [(name, name) for name in tags]
            )
            form._choices_set = True
        return form

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "open":
            return queryset.open()
        if value == "closed":
            return queryset.closed()
        if value == "any":
            return queryset
        return queryset.filter(status=value)

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "me":
            return queryset.assigned_to(self.user)
        if value == "none":
            return queryset.unassigned()
        return queryset.filter(assignee__username=value)

    def filter_campaign(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if value.isdigit():
            # An id no campaign can have (past the column's range) matches none.
            number = int(value)
            return queryset.filter(campaign_id=number) if number <= MAX_ID else queryset.none()
        return queryset.filter(campaign__label__icontains=value)

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Exists(Case.tags.through.objects.filter(case=OuterRef("pk"), tag__name=value))
        )

    def filter_account(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(account_has_cases(value.strip()))

    def filter_enforced(self, queryset: QuerySet, name: str, value) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(
            Exists(
                EnforcementAction.objects.took_effect().filter(
                    case=OuterRef("pk"), **_day_range(value, "executed_at__date")
                )
            )
        )

    def filter_reversal(self, queryset: QuerySet, name: str, value) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(
            Exists(
                EnforcementAction.objects.reversal_requests().filter(
                    case=OuterRef("pk"), **_day_range(value, "proposed_at__date")
                )
            )
        )

    def filter_overdue(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.overdue() if value else queryset

    def filter_closed_within(self, queryset: QuerySet, name: str, value) -> QuerySet:
        since = timezone.now() - timedelta(days=float(value))
        return queryset.filter(decided_at__gte=since)

    def filter_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Title words, a case number (``#12`` or ``12``), an exact account id, note text."""
        value = value.strip()
        return queryset.filter(case_text_match(value)) if value else queryset

    @property
    def status_value(self) -> str:
        if self.is_bound and self.form.is_valid():
            return self.form.cleaned_data.get("status") or DEFAULT_STATUS
        return DEFAULT_STATUS
