"""Forms at the edge of enforcement: they validate input; the services apply the rules."""

import re

from django import forms
from django.template.defaultfilters import pluralize

from cases.enforcement.models import EnforcementAction

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

    def __init__(
        self,
        *args,
        accounts: list[tuple[int, str]],
        lookalikes: frozenset[int] = frozenset(),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.by_name = {name: pk for pk, name in accounts}
        self.lookalikes = frozenset(lookalikes) & {pk for pk, _ in accounts}
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

        if self.lookalikes:
            self._add_lookalike_fields(len(self.lookalikes))

    def _add_lookalike_fields(self, n: int) -> None:
        """Look-alikes (``cases.lookalikes``) stay out of a proposal unless the proposer ticks
        them in and says why; the reason goes into the audit log with the proposal."""
        them = "it" if n == 1 else f"all {n}"
        self.fields["scope"].choices = [
            ("all", f"All accounts on the case, except {n} look-alike{pluralize(n)}"),
            ("selected", "Only the accounts I pick"),
        ]
        self.fields["include_lookalikes"] = forms.BooleanField(
            label=f"Include the {n} look-alike{pluralize(n)}",
            required=False,
            help_text=f"They look like legitimate customers; tick to act on {them} too.",
        )
        self.fields["lookalike_reason"] = forms.CharField(
            label="Why the look-alikes belong in this action",
            required=False,
            max_length=2000,
            widget=forms.Textarea(attrs={"rows": 2}),
        )

    def _clean_lookalikes(self, data: dict, ids: list[int] | None) -> list[int] | None:
        include = bool(data.get("include_lookalikes"))
        reason = (data.get("lookalike_reason") or "").strip()
        data["lookalike_reason"] = reason if include else ""
        if not self.lookalikes:
            return ids
        if include and not reason:
            self.add_error("lookalike_reason", "Say why the look-alikes belong in this action.")
        if ids is None:
            if include:
                return None
            ids = [pk for pk in self.by_name.values() if pk not in self.lookalikes]
            if not ids:
                self.add_error(
                    "include_lookalikes",
                    "Every account on this case is a look-alike: include them, with a reason.",
                )
            return ids
        picked = len(self.lookalikes.intersection(ids))
        if picked and not include:
            which = "is a look-alike" if picked == 1 else "are look-alikes"
            self.add_error(
                "include_lookalikes",
                f"{picked} of the accounts you picked {which}: include them, with a reason, "
                "or leave them out.",
            )
        return ids

    def clean(self):
        data = super().clean()
        if data.get("scope") != "selected":
            data["account_ids"] = self._clean_lookalikes(data, None)
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
        data["account_ids"] = self._clean_lookalikes(data, ids)
        return data


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect
    )
    comment = forms.CharField(
        widget=REASON_WIDGET,
        required=False,
        max_length=5000,
        help_text="Needed to reject; recorded with the decision either way.",
    )

    def __init__(self, *args, ask_password: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
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
