"""Case summaries as rows, and the spreadsheet-formula neutralisation every export applies.

The writers (:mod:`cases.exports.csv`, :mod:`cases.exports.xlsx`, :mod:`cases.exports.pdf`)
take plain rows from here; the service (``cases.services.exports``) picks the cases, records
the export in the audit log and runs long ones as a task.

Titles, campaign labels, org names, notes and prompts come from (or are derived from) the
accounts we investigate. A spreadsheet treats a cell that begins with ``=``, ``+``, ``-`` or
``@`` (and, in some programs, a tab or carriage return) as a formula: ``=HYPERLINK(...)`` or a
DDE payload would run when a manager opens the file. :func:`neutralise` prefixes such text
with an apostrophe, which every spreadsheet program shows as text and does not evaluate
(OWASP, "CSV Injection").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from cases.models import EnforcementAction

# OWASP's list: the characters a spreadsheet may read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Padding some programs skip before deciding a cell is a formula (" =1+1" evaluates in some).
_LEADING_PADDING = " \n\x0b\x0c\u00a0"


def neutralise(value: object) -> object:
    """Return ``value`` made inert for a spreadsheet: text that could start a formula gets a
    leading apostrophe; numbers, dates and ``None`` pass through unchanged."""
    if not isinstance(value, str):
        return value
    if value.lstrip(_LEADING_PADDING).startswith(FORMULA_STARTS) or value.startswith(
        FORMULA_STARTS
    ):
        return "'" + value
    return value


# The columns of a case summary, in order: (key, header).
SUMMARY_COLUMNS: list[tuple[str, str]] = [
    ("id", "id"),
    ("title", "title"),
    ("campaign", "campaign"),
    ("status", "status"),
    ("priority", "priority"),
    ("assignee", "assignee"),
    ("risk", "risk"),
    ("accounts", "accounts"),
    ("exchanges", "exchanges"),
    ("opened", "opened (UTC)"),
    ("decided", "decided (UTC)"),
    ("decision", "decision"),
    ("approver", "approver"),
    ("link", "link"),
]
HEADERS = [header for _, header in SUMMARY_COLUMNS]


@dataclass(frozen=True)
class CaseSummary:
    """One exported case, as plain values (datetimes are aware, in UTC)."""

    id: int
    title: str
    campaign: str
    status: str
    priority: str
    assignee: str
    risk: float
    accounts: int
    exchanges: int
    opened: datetime | None
    decided: datetime | None
    decision: str
    approver: str
    link: str

    def values(self) -> list[object]:
        return [getattr(self, key) for key, _ in SUMMARY_COLUMNS]


def summary_from_case(case, *, site_url: str) -> CaseSummary:
    """A :class:`CaseSummary` from a ``Case`` annotated by ``cases_for_export``
    (``approver_name``, ``action_kind``, ``action_status``)."""
    decision = case.get_resolution_display() if case.resolution else ""
    action_kind = getattr(case, "action_kind", None)
    action_status = getattr(case, "action_status", None)
    if action_kind and action_status:
        kind = EnforcementAction.Kind(action_kind).label
        status = EnforcementAction.Status(action_status).label.split(",")[0].lower()
        action = f"{kind} {status}"
        decision = f"{decision} ({action})" if decision else action
    return CaseSummary(
        id=case.pk,
        title=case.title,
        campaign=case.campaign.label if case.campaign_id and case.campaign else "",
        status=case.get_status_display(),
        priority=case.get_priority_display(),
        assignee=case.assignee.get_username() if case.assignee_id and case.assignee else "",
        risk=round(float(case.risk_score), 4),
        accounts=case.account_count,
        exchanges=case.exchange_count,
        opened=case.opened_at,
        decided=case.decided_at,
        decision=decision,
        approver=getattr(case, "approver_name", None) or "",
        link=f"{site_url.rstrip('/')}{case.get_absolute_url()}",
    )


def summaries(cases: Iterable, *, site_url: str) -> Iterator[CaseSummary]:
    for case in cases:
        yield summary_from_case(case, site_url=site_url)
