"""A case in plain language: the few sentences a reader outside the team needs first.

Pure: it takes the case and what the report already read (signals, actions, the number of
organisations) and returns paragraphs of text; the PDF and the workbook print the same
words. Signal names are given in words with what they measure (``detection.config``'s
declaration), statuses and action kinds by their labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.template.defaultfilters import pluralize
from django.utils import timezone

from cases.models import Case, EnforcementAction
from detection.config import SignalWeights, signal_label

A = EnforcementAction.Status
TOP_SIGNALS = 3


def _day(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%-d %B %Y") if value else "an unknown date"


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{pluralize(n)}"


def signal_phrase(signal: dict) -> str:
    """One signal as words: its label and what it measures ("Shared payment: unrelated
    accounts paying with the same payment instrument")."""
    name = str(signal.get("name") or "")
    meaning = SignalWeights.described().get(name, ("", ""))[1].rstrip(".")
    label = signal_label(name)
    return f"{label.lower()} ({meaning[:1].lower()}{meaning[1:]})" if meaning else label.lower()


def _action_sentence(action: EnforcementAction) -> str:
    kind = action.get_kind_display().lower()
    accounts = _count(getattr(action, "account_total", 0) or 0, "account")
    who = action.proposed_by.get_username() if action.proposed_by_id else "someone"
    decider = action.decided_by.get_username() if action.decided_by_id else ""
    if action.status == A.PROPOSED:
        return f"A {kind} on {accounts}, proposed by {who}, awaits a second person's approval."
    if action.status == A.REJECTED:
        return f"A proposed {kind} on {accounts} was rejected by {decider or 'an approver'}."
    if action.status in (A.EXECUTED, A.REVERSED):
        line = (
            f"A {kind} on {accounts}, proposed by {who} and approved by "
            f"{decider or 'an approver'}, took effect on {_day(action.executed_at)}."
        )
        if action.status == A.REVERSED:
            line += " It was later reversed."
        return line
    if action.status == A.APPROVED:
        return f"A {kind} on {accounts} was approved by {decider} and is being delivered."
    if action.status == A.FAILED:
        return f"A {kind} on {accounts} was approved but could not be delivered."
    return ""


def case_plain_summary(
    case: Case,
    *,
    signals: Sequence[dict],
    organisations: int,
    actions: Sequence[EnforcementAction],
) -> list[str]:
    """The summary's paragraphs, in the order a reader asks: who, why, what was done."""
    who = f"This case covers {_count(case.account_count, 'account')}"
    if organisations:
        who += f" declaring {_count(organisations, 'organisation')}"
    who += f", which sent {_count(case.exchange_count, 'request')} to our models"
    if case.traffic_share:
        who += f" ({case.traffic_share:.2%} of all traffic in the detection window)"
    if case.campaign_id and case.campaign:
        who += f". Detection grouped them as one campaign, “{case.campaign.label}”"
    paragraphs = [who + "."]

    why = (
        f"It was opened on {_day(case.opened_at)} with a risk score of "
        f"{case.risk_score:.2f} out of 1"
    )
    strongest = [s for s in signals if isinstance(s, dict) and s.get("name")][:TOP_SIGNALS]
    if strongest:
        why += ". The strongest reasons: " + "; ".join(signal_phrase(s) for s in strongest)
    paragraphs.append(why + ".")

    done = f"Status: {case.get_status_display().lower()}"
    if case.resolution:
        done += f" ({case.get_resolution_display().lower()})"
    done += "."
    live = [a for a in actions if a.status != A.SUPERSEDED and not a.reverses_id]
    sentences = [s for s in (_action_sentence(a) for a in live) if s]
    if sentences:
        done += " " + " ".join(sentences)
    elif case.is_open:
        done += " No enforcement action has been proposed yet."
    if case.resolution_reason:
        done += f" Reason given: {case.resolution_reason}"
    paragraphs.append(done)
    return paragraphs
