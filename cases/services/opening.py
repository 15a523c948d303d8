"""Opening cases from what detection flagged: one case per campaign and per lone account.

The caller describes each flagged subject in plain data (``FlaggedSubject``) and says which
run found them (``RunRef``); this module makes the case list match, idempotently:

- A subject (``campaign:<id>`` or ``account:<account_id>``) has at most one live case; a
  merged-away case's subject goes to the case it was merged into. A second sync of the same
  run, or a run that finds nothing new, changes nothing and writes nothing.
- A case remembers the last run that updated it; a sync of that run or an older one (a
  redelivered or late task) leaves the case alone, so a case never goes back to older figures.
- Only detection-owned fields are written (risk, counts, traffic share, explanation, last run,
  first activity);
  status, priority, assignee, tags, notes and resolution stay as analysts left them. Priority
  and due date are set once, when a case opens.
- New members get a ``CaseAccount`` row; members no longer flagged keep theirs, marked
  ``detection_dropped_at``; accounts an analyst removed are never added back.
- A dismissed or actioned case is left alone unless the evidence has grown *materially* since
  the decision (``CasePolicy.evidence_grown``); then it reopens to investigating with the
  reason in the audit log.
- Every opened case, and every case whose accounts changed, gets an evidence snapshot request.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from cases import audit
from cases.evidence.services import evidence_snapshot_request
from cases.models import Case, CaseAccount
from cases.policy import CasePolicy, case_policy
from cases.services.accounts import MAX_BULK_ACCOUNTS
from cases.services.workflow import case_change_status
from detection.models import Account, AccountScore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlaggedSubject:
    """One thing a detection run flagged: a campaign or a lone account."""

    key: str  # the case's natural key: "campaign:<id>" or "account:<account_id>"
    kind: str  # a ``Case.Kind`` value
    title: str
    risk: float
    accounts: Mapping[int, float]  # ``Account`` pk -> that account's risk
    exchanges: int
    explanation: dict[str, Any]
    campaign_id: int | None = None


@dataclass(frozen=True)
class RunRef:
    """The detection run that flagged the subjects."""

    id: int
    # Exchanges in the run's window: the denominator of a case's traffic share.
    exchanges: int


@dataclass
class SyncResult:
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict:
        return {
            "opened": len(self.opened),
            "updated": len(self.updated),
            "reopened": len(self.reopened),
            "unchanged": self.unchanged,
        }


def cases_open_for_subjects(
    *, subjects: Iterable[FlaggedSubject], run: RunRef, policy: CasePolicy | None = None
) -> SyncResult:
    """Open, update or reopen the case of each subject (idempotent; see the module docstring).

    Each subject is its own transaction: a sync cut short (a lost worker) keeps the cases it
    finished, and running it again skips them, because they already name this run.
    """
    policy = policy or case_policy()
    result = SyncResult()
    for subject in subjects:
        _case_sync(subject, run, policy, result)
    log.info("run %s cases: %s", run.id, result.as_dict())
    return result


def _live_case(key: str) -> Case | None:
    case = (
        Case.objects.select_for_update().filter(subject_key=key, merged_into__isnull=True).first()
    )
    if case is not None:
        return case
    merged = Case.objects.filter(subject_key=key).exclude(merged_into=None).first()
    seen = set()
    while merged is not None and merged.merged_into_id and merged.pk not in seen:
        seen.add(merged.pk)
        merged = Case.objects.select_for_update().get(pk=merged.merged_into_id)
    return merged


def _accounts_sync(case: Case, subject: FlaggedSubject, run: RunRef) -> tuple[int, int]:
    """Add new members, mark departed ones. Returns (added or returned, dropped)."""
    now = timezone.now()
    rows = {ca.account_id: ca for ca in case.case_accounts.all()}
    added = 0
    new_rows = []
    for account, risk in subject.accounts.items():
        row = rows.get(account)
        if row is None:
            new_rows.append(
                CaseAccount(
                    case=case,
                    account_id=account,
                    risk_score=risk,
                    added_reason=f"Detection run {run.id}",
                )
            )
        elif row.removed_at is None and (row.detection_dropped_at or row.risk_score != risk):
            added += row.detection_dropped_at is not None
            row.detection_dropped_at = None
            row.risk_score = risk
            row.save(update_fields=["detection_dropped_at", "risk_score"])
    CaseAccount.objects.bulk_create(new_rows)
    added += len(new_rows)
    # A lone-account case keeps its one account whatever a later run says.
    if case.kind != Case.Kind.CAMPAIGN:
        return added, 0
    dropped = CaseAccount.objects.filter(
        case=case, removed_at=None, detection_dropped_at=None
    ).exclude(account_id__in=list(subject.accounts))
    return added, dropped.update(detection_dropped_at=now)


def _detection_fields(case: Case, subject: FlaggedSubject, run: RunRef) -> list[str]:
    """Copy the detection-owned figures onto ``case``; the names of those that changed."""
    values = {
        "risk_score": round(subject.risk, 4),
        "account_count": len(subject.accounts),
        "exchange_count": subject.exchanges,
        "traffic_share": round(subject.exchanges / run.exchanges, 6) if run.exchanges else 0.0,
        "explanation": subject.explanation,
        "campaign_id": subject.campaign_id,
    }
    changed = [name for name, value in values.items() if getattr(case, name) != value]
    for name in changed:
        setattr(case, name, values[name])
    case.last_run_id = run.id
    return changed


@transaction.atomic
def _case_sync(
    subject: FlaggedSubject, run: RunRef, policy: CasePolicy, result: SyncResult
) -> None:
    case = _live_case(subject.key)
    if case is None:
        _case_open(subject, run, policy, result)
        return
    if case.last_run_id is not None and case.last_run_id >= run.id:
        result.unchanged += 1
        return
    if not case.is_open:
        existing = set(case.case_accounts.values_list("account_id", flat=True))
        grown = policy.evidence_grown(
            accounts_before=case.account_count,
            new_accounts=len(set(subject.accounts) - existing),
            exchanges_before=case.exchange_count,
            exchanges_now=subject.exchanges,
            risk_before=case.risk_score,
            risk_now=subject.risk,
        )
        if not grown:
            result.unchanged += 1
            return
        reason = (
            f"Detection run {run.id}: evidence grew since the decision "
            f"({case.account_count} -> {len(subject.accounts)} accounts, "
            f"risk {case.risk_score:.2f} -> {subject.risk:.2f})"
        )
        case = case_change_status(
            case=case, to=Case.Status.INVESTIGATING, reason=reason, system=True
        )
        result.reopened.append(case.pk)
    before = {"risk": case.risk_score, "accounts": case.account_count}
    changed = _detection_fields(case, subject, run)
    case.save(update_fields=[*changed, "last_run", "updated_at"])
    added, dropped = _accounts_sync(case, subject, run)
    # Also when no account joined: traffic ingested late can start before what was known.
    case.refresh_first_activity()
    if added or dropped or "risk_score" in changed:
        audit.record(
            "case.detection_updated",
            case=case,
            target=case,
            data={"run": run.id, "before": before, "added": added, "dropped": dropped},
        )
        result.updated.append(case.pk)
    else:
        result.unchanged += 1
    if added:
        evidence_snapshot_request(
            case=case, requested_by=None, reason="detection: accounts changed"
        )


def _case_open(
    subject: FlaggedSubject, run: RunRef, policy: CasePolicy, result: SyncResult
) -> None:
    case = Case(title=subject.title[:255], kind=Case.Kind(subject.kind), subject_key=subject.key)
    _detection_fields(case, subject, run)
    case.priority = policy.priority_for(subject.risk)
    case.due_at = case.sla_due()
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError:  # a concurrent sync opened it first
        result.unchanged += 1
        return
    _accounts_sync(case, subject, run)
    case.refresh_first_activity()
    audit.record(
        "case.opened",
        case=case,
        target=case,
        data={"run": run.id, "risk": case.risk_score, "accounts": case.account_count},
    )
    evidence_snapshot_request(case=case, requested_by=None, reason="detection: case opened")
    result.opened.append(case.pk)


# A case an analyst opens by hand is named by a fresh key: detection never flags it, so no
# run updates, reopens or merges into it, and two such cases never collide.
MANUAL_KEY_PREFIX = "manual:"


@transaction.atomic
def case_open_manual(*, title: str, accounts: list[Account], by, reason: str) -> Case:
    """Open a case on ``accounts`` chosen by an analyst (from a pivot, say), with its audit
    event and an evidence snapshot request, as detection's cases get. Its risk is the highest
    latest risk of its accounts; its priority follows from that as for a detected case."""
    if not by.has_perm("cases.work_case"):
        raise PermissionDenied("your role cannot open cases")
    if not title.strip() or not reason.strip():
        raise ValidationError("a new case needs a title and a reason")
    if not accounts:
        raise ValidationError("select at least one account")
    if len(accounts) > MAX_BULK_ACCOUNTS:
        raise ValidationError(f"open a case on at most {MAX_BULK_ACCOUNTS} accounts")
    latest = AccountScore.objects.filter(account=OuterRef("pk")).order_by("-run_id")
    risks = dict(
        Account.objects.filter(pk__in=[a.pk for a in accounts])
        .annotate(risk=Subquery(latest.values("risk_score")[:1]))
        .values_list("pk", "risk")
    )
    risk = round(max((r or 0.0 for r in risks.values()), default=0.0), 4)
    case = Case(
        title=title.strip()[:255],
        kind=Case.Kind.CAMPAIGN,
        subject_key=f"{MANUAL_KEY_PREFIX}{uuid.uuid4().hex}",
        risk_score=risk,
        account_count=len(accounts),
        priority=case_policy().priority_for(risk),
    )
    case.save()
    CaseAccount.objects.bulk_create(
        CaseAccount(
            case=case,
            account=a,
            risk_score=risks.get(a.pk) or 0.0,
            added_by=by,
            added_reason=reason,
        )
        for a in accounts
    )
    case.refresh_first_activity()
    audit.record(
        "case.opened",
        actor=by,
        case=case,
        target=case,
        data={"manual": True, "reason": reason, "risk": risk, "accounts": len(accounts)},
    )
    for account in accounts:
        audit.record(
            "case.account_added",
            actor=by,
            case=case,
            target=account,
            data={"account": account.account_id, "reason": reason},
        )
    evidence_snapshot_request(case=case, requested_by=by, reason="opened by hand")
    return case
