"""Reads of the API. A service token sees what a manager sees: every case, campaign and
account, never raw prompt text (evidence comes as figures, without sample prompts)."""

from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db.models import F, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from api.models import PushedBatch, ServiceToken
from cases.enforcement.models import BanListEntry, OutboxMessage
from cases.evidence.models import Evidence, EvidenceSnapshot
from cases.models import Case, CaseAccount, Tag
from detection.models import Account, AccountScore, Campaign


def cases_for_api() -> QuerySet[Case]:
    return (
        Case.objects.select_related("campaign", "assignee")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name").only("name")))
        .defer("explanation")
    )


def case_for_api(pk: int) -> Case:
    return Case.objects.select_related("campaign", "assignee").prefetch_related("tags").get(pk=pk)


def case_accounts_for_api(case: Case) -> QuerySet[CaseAccount]:
    """The accounts on a case now (not those taken off), by primary key."""
    return (
        CaseAccount.objects.filter(case=case, removed_at__isnull=True)
        .select_related("account")
        .order_by("id")
    )


def campaigns_for_api() -> QuerySet[Campaign]:
    return Campaign.objects.order_by("-id")


def _latest_score(field: str) -> Subquery:
    latest = AccountScore.objects.filter(account=OuterRef("pk")).order_by("-run_id")
    return Subquery(latest.values(field)[:1])


def accounts_for_api() -> QuerySet[Account]:
    """Accounts with their latest score: risk, flag and campaign."""
    return (
        Account.objects.defer("text_originals")
        .annotate(
            latest_risk=_latest_score("risk_score"),
            latest_flagged=_latest_score("flagged"),
            latest_campaign=_latest_score("campaign_id"),
        )
        .order_by("id")
    )


def account_for_api(account_id: str) -> Account:
    return accounts_for_api().get(account_id=account_id)


def account_latest_signals(account: Account) -> list:
    score = AccountScore.objects.filter(account=account).order_by("-run_id").first()
    return score.signals if score is not None else []


def account_case_ids(account: Account) -> list[int]:
    return list(
        CaseAccount.objects.filter(account=account, removed_at__isnull=True)
        .order_by("case_id")
        .values_list("case_id", flat=True)
    )


def evidence_summary(case: Case) -> dict | None:
    """The latest finished snapshot of a case, its sections as figures: every number at
    the top of a section's data. Sample prompts and other text stay in the
    console, where reading them is audited."""
    snapshot = (
        EvidenceSnapshot.objects.done()
        .filter(case=case)
        .order_by("-created_at", "-id")
        .prefetch_related(Prefetch("items", queryset=Evidence.objects.defer("figures")))
        .first()
    )
    if snapshot is None:
        return None
    return {
        "snapshot": snapshot.pk,
        "created_at": snapshot.created_at,
        "finished_at": snapshot.finished_at,
        "window_start": snapshot.window_start,
        "window_end": snapshot.window_end,
        "account_count": snapshot.account_count,
        "sections": [
            {"kind": item.kind, "source": item.source, "figures": _figures(item.data)}
            for item in snapshot.items.all()
        ],
    }


def _figures(data) -> dict:
    if not isinstance(data, dict):
        return {}
    return {
        str(key): value
        for key, value in data.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def _settled() -> datetime:
    """Rows written before this are in the feeds. A transaction that wrote a row with a
    lower id may still be committing when a later one is read; holding back the last
    few seconds lets it land before a client's cursor moves past it."""
    return timezone.now() - timedelta(seconds=settings.API_FEED_SETTLE_SECONDS)


def decisions_feed() -> QuerySet[OutboxMessage]:
    """Approved enforcement actions and reversals, oldest first, as the webhook receives
    them. Every approval writes a ban list message (webhook or not), so those are the feed."""
    return (
        OutboxMessage.objects.filter(
            backend=OutboxMessage.Backend.BANLIST, created_at__lte=_settled()
        )
        .select_related("action")
        .order_by("id")
    )


def banlist_feed() -> QuerySet[BanListEntry]:
    """Ban list entries by when they last changed (listed, or lifted), oldest first."""
    return (
        BanListEntry.objects.annotate(changed_at=Coalesce(F("lifted_at"), F("listed_at")))
        .filter(changed_at__lte=_settled())
        .select_related("account", "action")
        .order_by("changed_at", "id")
    )


def batches_of(token: ServiceToken) -> QuerySet[PushedBatch]:
    return PushedBatch.objects.filter(token=token).select_related("report").order_by("-id")


def batch_entries(batch: PushedBatch) -> tuple[list[dict], list[dict]]:
    """The batch's rejects and notices from its ingest's reject file, by record index."""
    rejects: list[dict] = []
    notices: list[dict] = []
    path = batch.report.reject_path
    if not path:
        return rejects, notices
    try:
        with open(path, "rb") as fh:
            for line in fh:
                entry = orjson.loads(line)
                row = {"index": entry["line"] - 1, "reason": entry["reason"]}
                if entry["type"] == "rejected":
                    rejects.append(row)
                else:
                    notices.append({**row, "type": entry["type"]})
    except FileNotFoundError:
        pass
    return rejects, notices
