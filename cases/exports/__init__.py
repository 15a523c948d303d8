"""Case summaries as rows.

The writers (:mod:`cases.exports.spreadsheets`, :mod:`cases.exports.report`) take plain rows
from here and neutralise spreadsheet formulas with :func:`common.spreadsheets.neutralise`; the
service (``cases.services.exports``) picks the cases, records the export in the audit log and
runs long ones as a task.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from cases.models import EnforcementAction

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
    (``approver_name``, ``action_kind``, ``action_status``, ``action_policy``)."""
    decision = case.get_resolution_display() if case.resolution else ""
    action_kind = getattr(case, "action_kind", None)
    action_status = getattr(case, "action_status", None)
    if action_kind and action_status:
        kind = EnforcementAction.Kind(action_kind).label
        status = EnforcementAction.Status(action_status).label.split(",")[0].lower()
        action = f"{kind} {status}"
        policy = getattr(case, "action_policy", None)
        if policy:
            action = f"{action} under {policy}"
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
