"""Adding accounts to a case and taking them off, each with a reason and an audit event.

Removal is soft (``CaseAccount.removed_*``) so the history of who was on a case survives;
adding a removed account back restores its row. Either change asks the evidence service
for a fresh snapshot, since what the evidence describes has changed.
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cases import audit
from cases.evidence.services import evidence_snapshot_request
from cases.labels.models import Outcome, Source
from cases.labels.services import labels_record
from cases.models import Case, CaseAccount
from cases.selectors import case_traffic
from detection.allowlist import known_good_add
from detection.models import Account, KnownGood


def _require_work(by) -> None:
    if not by.has_perm("cases.work_case"):
        raise PermissionDenied("your role cannot change the accounts on a case")


def _refresh_count(case: Case) -> None:
    """The case's account count, exchanges and traffic share after its accounts changed,
    counted as a proposal's blast radius counts them (``case_traffic``), and its first
    activity, which an account added can move earlier and one removed later."""
    count = CaseAccount.objects.filter(case=case, removed_at__isnull=True).count()
    exchanges, share = case_traffic(case)
    Case.objects.filter(pk=case.pk).update(
        account_count=count,
        exchange_count=exchanges,
        traffic_share=share,
        updated_at=timezone.now(),
    )
    case.account_count, case.exchange_count, case.traffic_share = count, exchanges, share
    case.refresh_first_activity()


def _request_evidence(case: Case, by) -> None:
    evidence_snapshot_request(case=case, requested_by=by, reason="accounts_changed")


def _add(case: Case, account: Account, by, reason: str) -> CaseAccount:
    """Put ``account`` on ``case`` (a locked row) and record it; the caller refreshes the
    count and asks for evidence once."""
    link = CaseAccount.objects.filter(case=case, account=account).first()
    if link is not None and link.removed_at is None:
        raise ValidationError(f"{account.account_id} is already on this case")
    if link is None:
        link = CaseAccount.objects.create(
            case=case, account=account, added_by=by, added_reason=reason
        )
    else:
        link.removed_at = None
        link.removed_by = None
        link.removed_reason = ""
        link.added_at = timezone.now()
        link.added_by = by
        link.added_reason = reason
        link.save()
    audit.record(
        "case.account_added",
        actor=by,
        case=case,
        target=account,
        data={"account": account.account_id, "reason": reason},
    )
    return link


@transaction.atomic
def case_account_add(*, case: Case, account_id: str, by, reason: str) -> CaseAccount:
    _require_work(by)
    account_id = account_id.strip()
    if not reason.strip():
        raise ValidationError("adding an account needs a reason")
    account = Account.objects.filter(account_id=account_id).first()
    if account is None:
        raise ValidationError(f"no account with id {account_id!r}")
    case = Case.objects.select_for_update().get(pk=case.pk)
    link = _add(case, account, by, reason)
    _refresh_count(case)
    _request_evidence(case, by)
    return link


# One bulk add puts at most this many accounts on a case: a page of a listing, selected.
MAX_BULK_ACCOUNTS = 500


@transaction.atomic
def case_accounts_add(*, case: Case, accounts: list[Account], by, reason: str) -> list[Account]:
    """Add several accounts at once (from a pivot or the related accounts): one audit event
    per account, as adding them one by one would write, one count and one evidence request.
    Accounts already on the case are skipped; returns those added."""
    _require_work(by)
    if not reason.strip():
        raise ValidationError("adding accounts needs a reason")
    if len(accounts) > MAX_BULK_ACCOUNTS:
        raise ValidationError(f"add at most {MAX_BULK_ACCOUNTS} accounts at once")
    case = Case.objects.select_for_update().get(pk=case.pk)
    if not case.is_open or case.merged_into_id is not None:
        raise ValidationError("accounts can only be added to an open case")
    on_case = set(
        CaseAccount.objects.filter(case=case, removed_at__isnull=True).values_list(
            "account_id", flat=True
        )
    )
    added = [a for a in accounts if a.pk not in on_case]
    for account in added:
        _add(case, account, by, reason)
    if added:
        _refresh_count(case)
        _request_evidence(case, by)
    return added


@transaction.atomic
def case_account_remove(
    *,
    link: CaseAccount,
    by,
    reason: str,
    outcome: str = "",
    reason_code: str = "",
    allow_scope: str = "",
    allow_days: int | None = None,
) -> CaseAccount:
    """Take an account off a case. With ``outcome`` the account is dismissed: labelled with
    it and ``reason_code``; dismissed as legitimate it can also go on the known-good list
    (``allow_scope``: the account or its organisation) for ``allow_days``."""
    _require_work(by)
    if not reason.strip():
        raise ValidationError("removing an account needs a reason")
    if allow_scope and outcome != Outcome.LEGITIMATE:
        raise ValidationError("only an account dismissed as legitimate goes on the allow-list")
    link = CaseAccount.objects.select_for_update().select_related("account", "case").get(pk=link.pk)
    if link.removed_at is not None:
        raise ValidationError(f"{link.account.account_id} is not on this case")
    link.removed_at = timezone.now()
    link.removed_by = by
    link.removed_reason = reason
    link.save(update_fields=["removed_at", "removed_by", "removed_reason"])
    _refresh_count(link.case)
    audit.record(
        "case.account_removed",
        actor=by,
        case=link.case,
        target=link.account,
        data={"account": link.account.account_id, "reason": reason},
    )
    if outcome:
        labels_record(
            account_ids=[link.account_id],
            outcome=outcome,
            reason_code=reason_code,
            source=Source.ACCOUNT_DISMISSED,
            by=by,
            case=link.case,
            note=reason,
        )
    if allow_scope:
        _allow_list(link, by, reason, allow_scope, allow_days)
    _request_evidence(link.case, by)
    return link


def _allow_list(link: CaseAccount, by, reason: str, scope: str, days: int | None) -> None:
    account = link.account
    value = account.account_id if scope == KnownGood.Scope.ACCOUNT else account.org_id
    if not value:
        raise ValidationError(f"{account.account_id} declares no organisation to allow-list")
    if not days or days < 1:
        raise ValidationError("say for how many days the allow-list entry holds")
    entry = known_good_add(
        scope=scope,
        value=value,
        reason=reason,
        expires_at=timezone.now() + timedelta(days=days),
        by=by,
        source=f"case {link.case_id}",
    )
    audit.record(
        "allowlist.added",
        actor=by,
        case=link.case,
        target=entry,
        data={
            "scope": scope,
            "value": value,
            "expires_at": entry.expires_at.isoformat(),
            "reason": reason,
        },
    )
