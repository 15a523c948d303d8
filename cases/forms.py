"""Forms at the edge: they validate input; the services in ``cases.services`` apply rules."""

from django import forms

from cases.labels.forms import LabelFieldsMixin
from cases.labels.models import Outcome
from cases.models import Case
from cases.selectors import cases_mergeable_into, cases_visible_to, users_who_work_cases
from cases.services.notes import MAX_NOTE_CHARS
from cases.services.workflow import allowed_transitions
from detection.allowlist import MAX_DAYS
from detection.models import KnownGood

S = Case.Status
REASON_WIDGET = forms.Textarea(attrs={"rows": 3})
# What an analyst may pick when dismissing; "duplicate" comes from a merge and "actioned"
# from an approved enforcement action.
DISMISS_RESOLUTIONS = [
    c for c in Case.Resolution.choices if c[0] not in ("", "duplicate", "actioned")
]


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_username()


class AssignForm(forms.Form):
    assignee = UserChoiceField(
        queryset=users_who_work_cases(),
        required=False,
        empty_label="— nobody (unassign) —",
        to_field_name="username",
    )


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(choices=Case.Priority.choices, coerce=int)


class TagForm(forms.Form):
    name = forms.SlugField(max_length=64, label="Tag", help_text="letters, digits, - and _")


class StatusForm(LabelFieldsMixin, forms.Form):
    to = forms.ChoiceField(label="New status")
    resolution = forms.ChoiceField(
        choices=[("", "—"), *DISMISS_RESOLUTIONS], required=False, help_text="Needed to dismiss."
    )
    reason = forms.CharField(
        widget=REASON_WIDGET, required=False, help_text="Needed to dismiss or reopen."
    )

    def __init__(self, *args, case: Case, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [(s, S(s).label) for s in allowed_transitions(case, user)]
        self.case = case
        self.add_label_fields()
        self.fields["outcome"].help_text = "Needed to dismiss: recorded as each account's label."

    def clean(self):
        data = super().clean()
        to = data.get("to")
        if to == S.DISMISSED and not data.get("resolution"):
            self.add_error("resolution", "Pick why the case is dismissed.")
        self.clean_label(data, deciding=to == S.DISMISSED)
        reopening = self.case.status in Case.CLOSED_STATUSES
        if (to == S.DISMISSED or reopening) and not (data.get("reason") or "").strip():
            self.add_error("reason", "Give a reason.")
        return data


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Note",
        max_length=MAX_NOTE_CHARS,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "Markdown; @username notifies a colleague"}
        ),
    )


class AccountAddForm(forms.Form):
    account_id = forms.CharField(max_length=255, label="Account id")
    reason = forms.CharField(widget=REASON_WIDGET, max_length=2000)


class AccountRemoveForm(LabelFieldsMixin, forms.Form):
    reason = forms.CharField(widget=REASON_WIDGET, max_length=2000)
    allow_scope = forms.ChoiceField(
        label="Allow-list",
        choices=[
            ("", "No"),
            (KnownGood.Scope.ACCOUNT, "This account"),
            (KnownGood.Scope.ORGANISATION, "Every account of its organisation"),
        ],
        required=False,
        help_text="Legitimate only: detection keeps scoring it but flags it no more until the "
        "entry expires.",
    )
    allow_days = forms.IntegerField(
        label="Allow-list for (days)", min_value=1, max_value=MAX_DAYS, initial=90, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_label_fields(outcomes=(Outcome.LEGITIMATE, Outcome.UNSURE))
        self.fields["outcome"].choices = [
            ("", "— no decision (only take it off this case)"),
            *self.fields["outcome"].choices[1:],
        ]
        self.fields["outcome"].label = "Dismiss as"

    def clean(self):
        data = super().clean()
        self.clean_label(data, deciding=bool(data.get("outcome")))
        if data.get("allow_scope"):
            if data.get("outcome") != Outcome.LEGITIMATE:
                self.add_error("allow_scope", "Only an account dismissed as legitimate.")
            if not data.get("allow_days"):
                self.add_error("allow_days", "Say for how many days.")
        return data


class MergeForm(forms.Form):
    other = forms.ModelChoiceField(
        queryset=Case.objects.none(), label="Merge this case into this one"
    )
    reason = forms.CharField(widget=REASON_WIDGET, max_length=2000)

    def __init__(self, *args, case: Case, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["other"].queryset = cases_mergeable_into(case, user)
        self.fields["other"].label_from_instance = lambda c: f"#{c.pk} {c.title} ({c.status})"


class BulkForm(LabelFieldsMixin, forms.Form):
    ACTION_CHOICES = [
        ("assign", "Assign to"),
        ("priority", "Set priority"),
        ("tag", "Add tag"),
        ("status", "Change status"),
    ]
    cases = forms.ModelMultipleChoiceField(
        queryset=Case.objects.none(), error_messages={"required": "Select at least one case."}
    )
    action = forms.ChoiceField(choices=ACTION_CHOICES)
    assignee = forms.CharField(required=False)
    priority = forms.TypedChoiceField(
        choices=[("", "—"), *Case.Priority.choices], coerce=int, required=False, empty_value=None
    )
    tag = forms.SlugField(max_length=64, required=False)
    status = forms.ChoiceField(
        choices=[("", "—")] + [(s, S(s).label) for s in (S.TRIAGE, S.INVESTIGATING, S.DISMISSED)],
        required=False,
    )
    resolution = forms.ChoiceField(choices=[("", "—"), *DISMISS_RESOLUTIONS], required=False)
    reason = forms.CharField(required=False, max_length=2000)
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["cases"].queryset = cases_visible_to(user).select_related("assignee")
        self.add_label_fields()

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == "assign":
            name = (data.get("assignee") or "").strip()
            if name in ("", "none"):
                data["value"] = None
            elif name == "me":
                data["value"] = self.user
            else:
                user = users_who_work_cases().filter(username=name).first()
                if user is None:
                    self.add_error("assignee", f"{name} cannot work cases.")
                data["value"] = user
        elif action == "priority":
            if data.get("priority") is None:
                self.add_error("priority", "Pick a priority.")
            data["value"] = data.get("priority")
        elif action == "tag":
            if not data.get("tag"):
                self.add_error("tag", "Name the tag.")
            data["value"] = data.get("tag")
        elif action == "status":
            to = data.get("status")
            if not to:
                self.add_error("status", "Pick a status.")
            elif to == S.DISMISSED:
                if not data.get("resolution"):
                    self.add_error("resolution", "Pick why the cases are dismissed.")
                if not (data.get("reason") or "").strip():
                    self.add_error("reason", "Give a reason.")
            self.clean_label(data, deciding=to == S.DISMISSED)
            data["value"] = to
        return data

    def describe(self) -> str:
        data = self.cleaned_data
        action = data["action"]
        value = data.get("value")
        if action == "assign":
            return f"assign to {value.get_username()}" if value else "unassign"
        if action == "priority":
            return f"set priority to {Case.Priority(value).label}"
        if action == "tag":
            return f"add tag “{value}”"
        return f"move to {S(value).label.lower()}"


class SavedViewForm(forms.Form):
    """Name a queue filter. ``query`` is the filter as the queue's URL carries it."""

    name = forms.CharField(max_length=80, help_text="Shown on the queue, e.g. “P1 coding fleets”.")
    shared = forms.BooleanField(
        label="Share with the team",
        required=False,
        help_text="Everyone who reads the queue sees it; only you can change or delete it.",
    )
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)


class SavedViewEditForm(SavedViewForm):
    use_current = forms.BooleanField(
        label="Replace its filter with the queue's current one",
        required=False,
    )
