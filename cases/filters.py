"""The queue's filters. Saved views are just links to a set of these parameters."""

import copy
from datetime import timedelta
from html import escape

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet
from django.forms.utils import pretty_name
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from cases.models import Case, Tag
from cases.selectors import account_has_cases, case_text_match, users_who_work_cases

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


# The filter bar's widgets write their markup here rather than through Django's widget
# templates, which render a template per widget, per option and per attribute set: 6-8 ms
# for this form of thirteen fields, a quarter of the queue page (docs/benchmarks.md,
# "Pages"). The markup is what those templates write. Every value goes through ``_text``,
# which is ``conditional_escape`` less its lazy-string wrapper: ``format_html`` and
# ``conditional_escape`` on the bar's 190 values cost 0.3 ms of a 9 ms page.


def _text(value) -> str:
    """``conditional_escape(value)``: markup as it is, anything else escaped."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return escape(str(value))


def _attributes(attrs: dict) -> str:
    """`` name="value"`` per attribute, `` name`` for True, nothing for False or None."""
    return "".join(
        f" {_text(name)}" if value is True else f' {_text(name)}="{_text(value)}"'
        for name, value in attrs.items()
        if value is not False and value is not None
    )


def _input(input_type: str, name: str, value, attrs: dict) -> SafeString:
    shown = f' value="{_text(value)}"' if value is not None else ""
    return mark_safe(  # noqa: S308 - every value escaped by _text
        f'<input type="{_text(input_type)}" name="{_text(name)}"{shown}{_attributes(attrs)}>'
    )


class _DirectInput:
    def render(self, name, value, attrs=None, renderer=None):
        return _input(
            self.input_type, name, self.format_value(value), self.build_attrs(self.attrs, attrs)
        )


class TextInput(_DirectInput, forms.TextInput):
    pass


class NumberInput(_DirectInput, forms.NumberInput):
    pass


class HiddenInput(_DirectInput, forms.HiddenInput):
    pass


class Select(forms.Select):
    """A single select of flat choices (no groups), the first matching option selected."""

    def render(self, name, value, attrs=None, renderer=None):
        wanted = self.format_value(value)
        options, found = [], False
        for option, label in self.choices:
            selected = not found and str(option) in wanted
            found = found or selected
            options.append(
                f'<option value="{_text(option)}"{" selected" if selected else ""}>'
                f"{_text(label)}</option>"
            )
        attributes = _attributes(self.build_attrs(self.attrs, attrs))
        options_html = "\n".join(options)
        return mark_safe(  # noqa: S308 - every value escaped by _text
            f'<select name="{_text(name)}"{attributes}>\n{options_html}\n</select>'
        )


class DateRangeWidget(django_filters.widgets.DateRangeWidget):
    def render(self, name, value, attrs=None, renderer=None):
        parts = self.get_context(name, value, attrs)["widget"]["subwidgets"]
        return mark_safe(  # noqa: S308 - joins two _input results
            "-".join(_input(w["type"], w["name"], w["value"], w["attrs"]) for w in parts)
        )


class _CopiedOnePerRequest(dict):
    """A class's filters (or its form's fields), which django-filter (or Django) deep-copies
    for every filter set (or form) it makes: a quarter of a millisecond a queue page between
    them, copying widgets, choices and querysets nobody changes. Each still gets its own copy
    of every filter (or field), whose attributes it may set (the filter set sets each filter's
    ``parent``; the queue sets the assignee and tag widgets), but not of what they hold. A
    filter whose ``method`` is a name gets a method proxy of its own, for its own parent."""

    def __deepcopy__(self, memo):
        copies = {}
        for name, item in self.items():
            copies[name] = copied = copy.copy(item)
            if getattr(item, "method", None) is not None:
                copied.method = item.method
        return copies


class CaseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text",
        label="Search",
        widget=TextInput(
            attrs={"type": "search", "placeholder": "title, #id, account id, note text"}
        ),
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", empty_label=None, widget=Select
    )
    priority = django_filters.ChoiceFilter(
        choices=Case.Priority.choices, empty_label="Any", widget=Select
    )
    assignee = django_filters.CharFilter(method="filter_assignee", label="Assignee")
    campaign = django_filters.CharFilter(
        method="filter_campaign",
        label="Campaign",
        widget=TextInput(attrs={"placeholder": "id or label", "size": 12}),
    )
    risk_min = django_filters.NumberFilter(
        field_name="risk_score",
        lookup_expr="gte",
        label="Risk ≥",
        widget=NumberInput(attrs={"step": "0.05", "min": 0, "max": 1, "size": 5}),
    )
    risk_max = django_filters.NumberFilter(
        field_name="risk_score",
        lookup_expr="lte",
        label="Risk ≤",
        widget=NumberInput(attrs={"step": "0.05", "min": 0, "max": 1, "size": 5}),
    )
    tag = django_filters.CharFilter(method="filter_tag", label="Tag")
    account = django_filters.CharFilter(
        method="filter_account", label="Account id", widget=TextInput
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", label="Overdue only", widget=HiddenInput
    )
    # Inclusive calendar-date ranges: ``opened_after`` / ``opened_before`` and
    # ``decided_after`` / ``decided_before`` (the overview's links use them).
    opened = django_filters.DateFromToRangeFilter(
        field_name="opened_at__date",
        label="Opened",
        widget=DateRangeWidget(attrs={"type": "date"}),
    )
    decided = django_filters.DateFromToRangeFilter(
        field_name="decided_at__date",
        label="Decided",
        widget=DateRangeWidget(attrs={"type": "date"}),
    )
    closed_within = django_filters.NumberFilter(
        method="filter_closed_within", label="Closed in last N days", widget=HiddenInput
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

    @classmethod
    def _form_class(cls):
        # django-filter builds a new form class, and its thirteen fields, for every request;
        # this one never varies (the choices that do are set on each form below).
        if "_built_form_class" not in cls.__dict__:
            filters = copy.deepcopy(cls.base_filters)
            fields = {name: filter_.field for name, filter_ in filters.items()}
            form_class = type(f"{cls.__name__}Form", (cls._meta.form,), fields)
            form_class.base_fields = _CopiedOnePerRequest(form_class.base_fields)
            cls._built_form_class = form_class
        return cls._built_form_class

    def get_form_class(self):
        return self._form_class()

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
            form.fields["assignee"].widget = Select(
                choices=lambda: ASSIGNEE_CHOICES + [(name, name) for name in workers]
            )
            form.fields["tag"].widget = Select(
                choices=lambda: [("", "Any")] + [(name, name) for name in tags]
            )
            form._choices_set = True
        return form

    def field_html(self, name: str) -> SafeString:
        """One field's widget as ``str(form[name])`` writes it (its value, its ``id_<name>``,
        and ``aria-invalid`` and ``aria-describedby`` once it has an error), without the
        ``BoundField``: building one per field and asking it for its value, initial, help
        text and attributes cost more than the markup (0.5 ms for this form).
        ``tests/cases/test_filters.py`` compares the two for every field."""
        form = self.form
        field = form.fields[name]
        widget = field.widget
        html_name = form.add_prefix(name)
        value = form.get_initial_for_field(field, name)
        if form.is_bound:
            value = field.bound_data(
                widget.value_from_datadict(form.data, form.files, html_name), value
            )
        attrs = {}
        auto_id = form.auto_id % html_name if form.auto_id and "%s" in str(form.auto_id) else ""
        if not widget.is_hidden and form.is_bound and name in form.errors:
            attrs["aria-invalid"] = "true"
            if auto_id and not widget.use_fieldset and not widget.attrs.get("aria-describedby"):
                attrs["aria-describedby"] = f"{auto_id}_error"
        if auto_id and "id" not in widget.attrs:
            attrs["id"] = auto_id
        return widget.render(html_name, field.prepare_value(value), attrs=attrs)

    @property
    def bar_html(self) -> SafeString:
        """The filter bar's fields in the form's order: a hidden one bare, the others each in
        a ``<label class="filter">`` with its label."""
        parts = []
        for name, field in self.form.fields.items():
            if field.widget.is_hidden:
                parts.append(self.field_html(name))
            else:
                label = pretty_name(name) if field.label is None else field.label
                parts.append(
                    f'<label class="filter">{_text(label)} {self.field_html(name)}</label>'
                )
        return mark_safe("\n  ".join(parts))  # noqa: S308 - every value escaped by _text

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
            return queryset.filter(campaign_id=int(value))
        return queryset.filter(campaign__label__icontains=value)

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Exists(Case.tags.through.objects.filter(case=OuterRef("pk"), tag__name=value))
        )

    def filter_account(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(account_has_cases(value.strip()))

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


CaseFilter.base_filters = _CopiedOnePerRequest(CaseFilter.base_filters)
