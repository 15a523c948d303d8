"""Forms at the edge of enforcement: they validate input; the services apply the rules."""

import re

from django import forms
from django.template.defaultfilters import pluralize

from cases.enforcement.models import EnforcementAction, Policy, ViolationCategory
from cases.labels.forms import LabelFieldsMixin
from cases.labels.models import Outcome
from cases.labels.services import APPROVAL_DEFAULT, REVERSAL_DEFAULT

REASON_WIDGET = forms.Textarea(attrs={"rows": 3})
# Up to this many accounts the proposal form lists them as checkboxes; past it, paste ids.
CHECKBOX_LIMIT = 200


# Lengths offered for a limited action; "permanent" is the default for a ban.
LENGTHS = [
    ("permanent", "Permanent"),
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("180", "180 days"),
    ("365", "1 year"),
]


class AccountScopeForm(forms.Form):
    """All the accounts, or the ones picked: checkboxes up to ``CHECKBOX_LIMIT``, past it a
    box to paste ids into. ``cleaned_data["account_ids"]`` is ``None`` for all."""

    scope_choices = [("all", "All accounts on the case"), ("selected", "Only the accounts I pick")]
    unknown_message = "Not on this case"

    def __init__(
        self,
        *args,
        accounts: list[tuple[int, str]],
        lookalikes: frozenset[int] = frozenset(),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["scope"] = forms.ChoiceField(
            label="Accounts",
            choices=self.scope_choices,
            initial="all",
            required=False,  # left out: all of them
            widget=forms.RadioSelect,
        )
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
        self.order_fields(self.field_order or [])

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
                self.add_error("pasted", f"{self.unknown_message}: {shown}")
            ids = [self.by_name[n] for n in names if n in self.by_name]
        if not ids and not self.errors:
            self.add_error(None, "Pick at least one account, or choose all accounts.")
        data["account_ids"] = self._clean_lookalikes(data, ids)
        return data


class ProposeForm(AccountScopeForm):
    field_order = ["kind", "policy", "category", "length", "scope", "picked", "pasted", "reason"]

    kind = forms.ChoiceField(
        label="Action",
        choices=[(k.value, k.label) for k in EnforcementAction.PROPOSABLE_KINDS],
        initial=EnforcementAction.Kind.BAN,
        widget=forms.RadioSelect,
    )
    policy = forms.ModelChoiceField(
        queryset=Policy.objects.active(),
        empty_label="Choose the policy…",
        help_text="The rule these accounts broke (the list is kept in the admin).",
    )
    category = forms.ModelChoiceField(
        label="Violation category",
        queryset=ViolationCategory.objects.active(),
        empty_label="Choose what they did…",
    )
    length = forms.ChoiceField(
        choices=LENGTHS,
        initial="permanent",
        help_text="How long it lasts once approved. A suspension needs a length.",
    )
    reason = forms.CharField(
        widget=REASON_WIDGET,
        max_length=5000,
        help_text="What the approver should know: why these accounts, and why this action.",
    )

    def clean(self):
        data = super().clean()
        length = data.get("length")
        data["duration_days"] = None if length in (None, "permanent") else int(length)
        if data.get("kind") == EnforcementAction.Kind.SUSPEND and data["duration_days"] is None:
            self.add_error("length", "A suspension needs a length; a permanent one is a ban.")
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

    def __init__(
        self,
        *args,
        ask_password: bool = False,
        reauth_elsewhere: bool = False,
        reversal: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        # Someone who signs in only through single sign-on has no password to enter again:
        # approving then waits until they sign in again at the identity provider.
        self.reauth_elsewhere = reauth_elsewhere
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
        if self.reauth_elsewhere and data.get("decision") == "approve":
            self.add_error(
                None,
                "Sign in again through single sign-on to approve: you have not signed in "
                "in the last few minutes.",
            )
        if (
            "password" in self.fields
            and data.get("decision") == "approve"
            and not data.get("password")
        ):
            self.add_error("password", "Enter your password to approve.")
        return data


class ReversalForm(AccountScopeForm):
    """Reverse the action on all its accounts, or only some (an appeal upheld for them)."""

    field_order = ["scope", "picked", "pasted", "reason"]
    scope_choices = [
        ("all", "Every account still under the action"),
        ("selected", "Only the accounts I pick (an appeal)"),
    ]
    unknown_message = "Not under this action"

    reason = forms.CharField(
        widget=REASON_WIDGET,
        max_length=5000,
        help_text="Why the action should be undone for these accounts. Another approver decides.",
    )
