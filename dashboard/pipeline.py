"""From a detection run to cases: open or update one case per campaign and per lone account.

Detection knows nothing of cases; this module reads a finished ``DetectionRun`` and makes the
case list match it, idempotently:

- A subject (``campaign:<id>`` or ``account:<account_id>``) has at most one live case; a second
  sync of the same run, or a run that finds nothing new, changes nothing and writes nothing.
- Only detection-owned fields are written (risk, counts, traffic share, explanation, last run);
  status, priority, assignee, tags, notes and resolution stay as analysts left them. Priority
  and due date are set once, when a case opens.
- New campaign members get a ``CaseAccount`` row; members no longer detected keep theirs, marked
  ``detection_dropped_at``; accounts an analyst removed are never added back.
- A dismissed or actioned case is left alone unless the evidence has grown *materially* since
  the decision (``REOPEN_*`` below, see ``docs/detection.md``); then
  it reopens to investigating with the reason in the audit log.
- Every opened case, and every case whose accounts changed, gets an evidence snapshot request.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import median

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import audit
from cases.models import Case, CaseAccount
from cases.services.workflow import case_change_status
from detection.models import AccountScore, Campaign, DetectionRun

log = logging.getLogger(__name__)
# Case policy. Priority by risk: P1 at >= the first cut, P2 at >= the second, P3 at >= the
# third, else P4. A dismissed (or actioned) case reopens only when the evidence has grown
# materially since the decision: at least REOPEN_MIN_NEW_ACCOUNTS new accounts that are also
# REOPEN_ACCOUNT_GROWTH x the accounts at decision, or exchanges grown by
# REOPEN_EXCHANGE_GROWTH x, or risk up by REOPEN_RISK_INCREASE.
PRIORITY_RISK_CUTS = (0.9, 0.75, 0.55)
REOPEN_MIN_NEW_ACCOUNTS = 5
REOPEN_ACCOUNT_GROWTH = 0.25
REOPEN_EXCHANGE_GROWTH = 1.0
REOPEN_RISK_INCREASE = 0.15


@dataclass
class Subject:
    key: str
    kind: str
    title: str
    campaign: Campaign | None
    risk: float
    accounts: dict[int, float]  # account pk -> risk
    exchanges: int
    explanation: dict


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


def priority_for(risk: float) -> int:
    for level, cut in zip((1, 2, 3), PRIORITY_RISK_CUTS, strict=False):
        if risk >= cut:
            return level
    return Case.Priority.LOW


def campaign_explanation(campaign: Campaign, scores: list[AccountScore]) -> dict:
    """Per signal across the members: median value, mean contribution, a representative reason."""
    by_name: dict[str, list[dict]] = defaultdict(list)
    for score in scores:
        for sig in score.signals or []:
            by_name[sig["name"]].append(sig)
    n = max(len(scores), 1)
    signals = []
    for name, sigs in by_name.items():
        mid = median(s["value"] for s in sigs)
        representative = min(sigs, key=lambda s: abs(s["value"] - mid))
        signals.append(
            {
                "name": name,
                "value": mid,
                "threshold": representative["threshold"],
                "norm": median(s["norm"] for s in sigs),
                "contribution": round(sum(s["contribution"] for s in sigs) / n, 4),
                "reason": f"{len(sigs) / n:.0%} of the {n} accounts: {representative['reason']}",
            }
        )
    signals.sort(key=lambda s: -s["contribution"])
    summary = (campaign.evidence or {}).get("summary") or f"{n} linked accounts"
    return {"summary": summary, "signals": signals[:8], "campaign": campaign.label}


def run_subjects(run: DetectionRun) -> list[Subject]:
    """What ``run`` flagged: its campaigns, then its lone accounts."""
    flagged = list(
        AccountScore.objects.filter(run=run, flagged=True).select_related("account", "campaign")
    )
    members: dict[int, list[AccountScore]] = defaultdict(list)
    subjects = []
    for score in flagged:
        if score.campaign_id:
            members[score.campaign_id].append(score)
        else:
            top = score.signals[0]["reason"] if score.signals else ""
            subjects.append(
                Subject(
                    key=f"account:{score.account.account_id}",
                    kind=Case.Kind.ACCOUNT,
                    title=f"Account {score.account.account_id}"[:255],
                    campaign=None,
                    risk=score.risk_score,
                    accounts={score.account_id: score.risk_score},
                    exchanges=score.exchange_count,
                    explanation={"summary": top, "signals": score.signals},
                )
            )
    campaigns = []
    for scores in members.values():
        campaign = scores[0].campaign
        campaigns.append(
            Subject(
                key=f"campaign:{campaign.pk}",
                kind=Case.Kind.CAMPAIGN,
                title=f"{campaign.label}: {len(scores)} linked accounts"[:255],
                campaign=campaign,
                risk=campaign.risk_score,
                accounts={s.account_id: s.risk_score for s in scores},
                exchanges=sum(s.exchange_count for s in scores),
                explanation=campaign_explanation(campaign, scores),
            )
        )
    return campaigns + subjects


def materially_grown(case: Case, subject: Subject, new_accounts: int) -> bool:
    """Has the evidence grown enough since the decision to reopen a closed case?"""
    if new_accounts >= max(REOPEN_MIN_NEW_ACCOUNTS, REOPEN_ACCOUNT_GROWTH * case.account_count):
        return True
    if subject.exchanges >= (1 + REOPEN_EXCHANGE_GROWTH) * max(case.exchange_count, 1):
        return True
    return subject.risk >= case.risk_score + REOPEN_RISK_INCREASE


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


def _sync_accounts(case: Case, subject: Subject, run: DetectionRun) -> tuple[int, int]:
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
                    added_reason=f"Detection run {run.pk}",
                )
            )
        elif row.removed_at is None and (row.detection_dropped_at or row.risk_score != risk):
            added += row.detection_dropped_at is not None
            row.detection_dropped_at = None
            row.risk_score = risk
            row.save(update_fields=["detection_dropped_at", "risk_score"])
    CaseAccount.objects.bulk_create(new_rows)
    added += len(new_rows)
    dropped = CaseAccount.objects.filter(
        case=case, removed_at=None, detection_dropped_at=None
    ).exclude(account_id__in=list(subject.accounts))
    dropped_count = (
        dropped.update(detection_dropped_at=now) if case.kind == Case.Kind.CAMPAIGN else 0
    )
    return added, dropped_count


def _detection_fields(case: Case, subject: Subject, run: DetectionRun, total: int) -> list[str]:
    values = {
        "risk_score": round(subject.risk, 4),
        "account_count": len(subject.accounts),
        "exchange_count": subject.exchanges,
        "traffic_share": round(subject.exchanges / total, 6) if total else 0.0,
        "explanation": subject.explanation,
        "campaign": subject.campaign,
    }
    changed = [name for name, value in values.items() if getattr(case, name) != value]
    for name in changed:
        setattr(case, name, values[name])
    case.last_run = run
    return changed


def _request_evidence(case: Case, reason: str) -> None:
    from cases.services.evidence import evidence_snapshot_request

    evidence_snapshot_request(case=case, requested_by=None, reason=reason)


@transaction.atomic
def _sync_subject(subject: Subject, run: DetectionRun, result: SyncResult) -> None:
    total = int((run.counts or {}).get("exchanges") or 0)
    case = _live_case(subject.key)
    if case is None:
        case = Case(title=subject.title, kind=subject.kind, subject_key=subject.key)
        _detection_fields(case, subject, run, total)
        case.priority = priority_for(subject.risk)
        case.due_at = case.sla_due()
        try:
            with transaction.atomic():
                case.save()
        except IntegrityError:  # a concurrent sync opened it first
            result.unchanged += 1
            return
        _sync_accounts(case, subject, run)
        audit.record(
            "case.opened",
            case=case,
            target=case,
            data={"run": run.pk, "risk": case.risk_score, "accounts": case.account_count},
        )
        _request_evidence(case, "detection: case opened")
        result.opened.append(case.pk)
        return
    if case.last_run_id == run.pk:
        result.unchanged += 1
        return
    if not case.is_open:
        existing = set(case.case_accounts.values_list("account_id", flat=True))
        new_accounts = len(set(subject.accounts) - existing)
        if not materially_grown(case, subject, new_accounts):
            result.unchanged += 1
            return
        reason = (
            f"Detection run {run.pk}: evidence grew since the decision "
            f"({case.account_count} -> {len(subject.accounts)} accounts, "
            f"risk {case.risk_score:.2f} -> {subject.risk:.2f})"
        )
        case = case_change_status(
            case=case, to=Case.Status.INVESTIGATING, reason=reason, system=True
        )
        result.reopened.append(case.pk)
    before = {"risk": case.risk_score, "accounts": case.account_count}
    changed = _detection_fields(case, subject, run, total)
    case.save(update_fields=[*changed, "last_run", "updated_at"])
    added, dropped = _sync_accounts(case, subject, run)
    if added or dropped or "risk_score" in changed:
        audit.record(
            "case.detection_updated",
            case=case,
            target=case,
            data={"run": run.pk, "before": before, "added": added, "dropped": dropped},
        )
        result.updated.append(case.pk)
    else:
        result.unchanged += 1
    if added:
        _request_evidence(case, "detection: accounts changed")


def cases_sync(*, run: DetectionRun) -> SyncResult:
    """Open or update the cases for a succeeded run (idempotent; see the module docstring)."""
    result = SyncResult()
    if run.status != DetectionRun.Status.SUCCEEDED:
        return result
    for subject in run_subjects(run):
        _sync_subject(subject, run, result)
    log.info("run %s cases: %s", run.pk, result.as_dict())
    return result


def detection_start(*, triggered_by=None) -> DetectionRun:
    """Start a detection run on the workers; its cases are synced once it succeeds."""
    from dashboard.tasks import cases_sync_task
    from detection.services import detection_run_create
    from detection.tasks import detection_run_task

    run = detection_run_create(triggered_by=triggered_by)
    detection_run_task.delay_on_commit(run.pk, cases_sync_task.si(run.pk))
    return run


def detection_run_now(*, triggered_by=None) -> tuple[DetectionRun, SyncResult]:
    """A whole run and its case sync in this process (the ``detect`` command)."""
    from detection.services import detection_run_create, detection_run_execute

    run = detection_run_execute(run=detection_run_create(triggered_by=triggered_by))
    return run, cases_sync(run=run)
