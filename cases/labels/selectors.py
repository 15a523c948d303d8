"""Reads of labels and reason codes, and labels set beside detection's flags."""

from __future__ import annotations

from cases.labels.models import Outcome, ReasonCode


def reason_choices(outcomes=None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Active reason codes grouped by the outcome they explain (blank: any), for a select."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for code in ReasonCode.objects.active():
        if outcomes is not None and code.outcome and code.outcome not in outcomes:
            continue
        name = Outcome(code.outcome).label if code.outcome else "Any outcome"
        groups.setdefault(name, []).append((code.code, code.label))
    return [("", "—"), *groups.items()]
