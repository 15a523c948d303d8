"""The outcome and reason-code fields every deciding dialog adds to its form."""

from __future__ import annotations

from django import forms

from cases.labels.models import Outcome, ReasonCode
from cases.labels.selectors import reason_choices


class LabelFieldsMixin:
    """Adds ``outcome`` and ``reason_code``; call ``add_label_fields`` from ``__init__`` and
    ``clean_label`` from ``clean`` with whether this submission decides accounts."""

    def add_label_fields(self, *, outcomes=tuple(Outcome.values), initial=None, required=False):
        choices = [(o, Outcome(o).label) for o in outcomes]
        if not required or len(outcomes) > 1:
            choices = [("", "—"), *choices]
        self.fields["outcome"] = forms.ChoiceField(
            choices=choices,
            required=False,
            label="Outcome",
            help_text="What you conclude about the accounts; recorded as their label.",
        )
        self.fields["reason_code"] = forms.ChoiceField(
            choices=reason_choices(outcomes),
            required=False,
            label="Reason code",
            help_text="Why, from the team's list of reasons.",
        )
        for name, value in (initial or {}).items():
            self.fields[name].initial = value

    def clean_label(self, data: dict, *, deciding: bool) -> None:
        """Both fields or neither: with neither, the service records what the decision
        itself says (``cases.labels.services`` defaults); a code must fit the outcome."""
        outcome, code = data.get("outcome"), data.get("reason_code")
        if not deciding or not (outcome or code):
            return
        if not outcome:
            self.add_error("outcome", "Pick what you conclude about the accounts.")
        if not code:
            self.add_error("reason_code", "Pick a reason code.")
        if outcome and code:
            reason = ReasonCode.objects.active().filter(code=code).first()
            if reason is not None and reason.outcome and reason.outcome != outcome:
                self.add_error(
                    "reason_code",
                    f"“{reason.label}” explains {Outcome(reason.outcome).label.lower()}, "
                    f"not {Outcome(outcome).label.lower()}.",
                )
