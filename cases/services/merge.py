"""Merging two cases of one campaign into one, keeping everything each had.

The case merged away (``source``) is closed as a duplicate pointing at the one kept
(``target``) and gives up its subject key. Its notes move to the target, its live accounts
and tags are added there, and its audit history stays where it is: the append-only log is
never rewritten, and the target's timeline reads the events of every case merged into it
(``selectors.case_timeline``).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cases import audit
from cases.models import Case, CaseAccount, Note


@transaction.atomic
def case_merge(*, source: Case, target: Case, by, reason: str) -> Case:
    if not by.has_perm("cases.work_case"):
        raise PermissionDenied("your role cannot merge cases")
    if not reason.strip():
        raise ValidationError("merging cases needs a reason")
    locked = {
        c.pk: c for c in Case.objects.select_for_update().filter(pk__in=[source.pk, target.pk])
    }
    source, target = locked.get(source.pk), locked.get(target.pk)
    if source is None or target is None or source.pk == target.pk:
        raise ValidationError("pick two different cases")
    if source.campaign_id is None or source.campaign_id != target.campaign_id:
        raise ValidationError("only cases of the same campaign can be merged")
    if source.merged_into_id or target.merged_into_id:
        raise ValidationError("a case that was merged away cannot be merged again")
    if (
        source.status == Case.Status.PENDING_APPROVAL
        or source.actions.filter(status__in=["proposed", "approved"]).exists()
    ):
        raise ValidationError(
            f"case #{source.pk} has an enforcement action in flight; decide it before merging"
        )

    moved_notes = list(Note.objects.filter(case=source).values_list("pk", flat=True))
    Note.objects.filter(case=source).update(case=target)

    already = set(CaseAccount.objects.filter(case=target).values_list("account_id", flat=True))
    added = []
    for link in CaseAccount.objects.filter(case=source, removed_at__isnull=True).select_related(
        "account"
    ):
        if link.account_id in already:
            CaseAccount.objects.filter(
                case=target, account_id=link.account_id, removed_at__isnull=False
            ).update(removed_at=None, removed_by=None, removed_reason="")
        else:
            CaseAccount.objects.create(
                case=target,
                account_id=link.account_id,
                risk_score=link.risk_score,
                added_by=by,
                added_reason=f"merged from case #{source.pk}",
            )
        added.append(link.account.account_id)
    target.tags.add(*source.tags.all())

    target.account_count = CaseAccount.objects.filter(case=target, removed_at__isnull=True).count()
    # Detection-owned totals: summed until the next run recounts the merged fleet.
    target.exchange_count += source.exchange_count
    target.traffic_share += source.traffic_share
    target.risk_score = max(target.risk_score, source.risk_score)
    target.priority = min(target.priority, source.priority)
    dues = [d for d in (target.due_at, source.due_at) if d is not None]
    target.due_at = min(dues) if dues else None
    target.save(
        update_fields=[
            "account_count",
            "exchange_count",
            "traffic_share",
            "risk_score",
            "priority",
            "due_at",
            "updated_at",
        ]
    )
    target.refresh_first_activity()

    frm = source.status
    source.merged_into = target
    source.status = Case.Status.DISMISSED
    source.resolution = Case.Resolution.DUPLICATE
    source.resolution_reason = reason
    source.decided_at = timezone.now()
    source.save(
        update_fields=[
            "merged_into",
            "status",
            "resolution",
            "resolution_reason",
            "decided_at",
            "updated_at",
        ]
    )
    audit.record(
        "case.merged_away",
        actor=by,
        case=source,
        target=target,
        data={"into": target.pk, "from": frm, "reason": reason},
    )
    audit.record(
        "case.merged",
        actor=by,
        case=target,
        target=source,
        data={
            "from_case": source.pk,
            "reason": reason,
            "notes": len(moved_notes),
            "accounts": len(added),
        },
    )
    return target
