"""Forms at the edge of enforcement: they validate input; the services apply the rules."""

import re

from django import forms

from cases.enforcement.models import EnforcementAction
from cases.labels.forms import LabelFieldsMixin
from cases.labels.models import Outcome
from cases.labels.services import APPROVAL_DEFAULT, REVERSAL_DEFAULT

REASON_WIDGET = forms.Textarea(attrs={"rows": 3})
# Up to this many accounts the proposal form lists them as checkboxes; past it, paste ids.
CHECKBOX_LIMIT = 200


class ProposeForm(forms.Form):
    kind = forms.ChoiceField(
        label="Action",
        choices=[(k.value, k.label) for k in EnforcementAction.PROPOSABLE_KINDS],
        initial=EnforcementAction.Kind.BAN,
        widget=forms.RadioSelect,
    )
    scope = forms.ChoiceField(
        label="Accounts",
        choices=[("all", "All accounts on the case"), ("selected", "Only the accounts I pick")],
        initial="all",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        widget=REASON_WIDGET,
        max_length=5000,
        help_text="What the approver should know: why these accounts, and why this action.",
    )

    def __init__(self, *args, accounts: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.by_name = {name: pk for pk, name in accounts}
        if len(accounts) <= CHECKBOX_LIMIT:
            self.fields["picked"] = forms.TypedMultipleChoiceField(
                label="Pick accounts",
                choices=[(pk, name) for pk, name in accounts],
                coerce=int,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
        else:
            self.fields["pasted"] = forms.CharField(
                label="Account ids",
                required=False,
                widget=forms.Textarea(attrs={"rows": 4}),
                help_text="One per line (or separated by commas or spaces).",
            )

    def clean(self):
        data = super().clean()
        if data.get("scope") != "selected":
            data["account_ids"] = None
            return data
        if "picked" in self.fields:
            ids = data.get("picked") or []
        else:
            names = [n for n in re.split(r"[\s,]+", data.get("pasted") or "") if n]
            unknown = [n for n in names if n not in self.by_name]
            if unknown:
                shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
                self.add_error("pasted", f"Not on this case: {shown}")
            ids = [self.by_name[n] for n in names if n in self.by_name]
        if not ids and not self.errors:
            self.add_error(None, "Pick at least one account, or choose all accounts.")
        data["account_ids"] = ids
        return data


class DecisionForm(LabelFieldsMixin, forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect
    )
    comment = forms.CharField(
        widget=REASON_WIDGET,
        required=False,
        max_length=5000,
        help_text="Needed to reject; recorded with the decision either way.",
    )

    def __init__(self, *args, ask_password: bool = False, reversal: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # Approving labels the accounts: an action confirms them, a reversal finds them
        # legitimate or leaves them unsure. The usual conclusion is filled in.
        outcome, code = REVERSAL_DEFAULT if reversal else APPROVAL_DEFAULT
        outcomes = (Outcome.LEGITIMATE, Outcome.UNSURE) if reversal else (Outcome.CONFIRMED,)
        self.add_label_fields(
            outcomes=outcomes, initial={"outcome": outcome, "reason_code": code}, required=True
        )
        self.fields["outcome"].help_text = "Recorded as the accounts' label when you approve."
        if ask_password:
            # Approving acts on accounts: a session left open must not be enough (the view
            # asks when the password was last entered more than REAUTH_MINUTES ago).
            self.fields["password"] = forms.CharField(
                label="Your password",
                required=False,
                strip=False,
                widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
                help_text="Needed to approve: you have not entered it in the last few minutes.",
            )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("comment") or "").strip():
            self.add_error("comment", "Say why you reject it.")
        self.clean_label(data, deciding=data.get("decision") == "approve")
        if (
            "password" in self.fields
            and data.get("decision") == "approve"
            and not data.get("password")
        ):
            self.add_error("password", "Enter your password to approve.")
        return data


class ReversalForm(forms.Form):
    reason = forms.CharField(
        widget=REASON_WIDGET,
        max_length=5000,
        help_text="Why the action should be undone. Another approver decides.",
    )
