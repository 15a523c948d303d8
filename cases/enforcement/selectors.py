"""Reads for the enforcement screens: a case's actions with their deliveries, the approvals
queue. Each is a bounded number of queries whatever the number of actions or attempts."""

from django.db.models import Count, Prefetch, QuerySet

from cases.enforcement.models import DeliveryAttempt, EnforcementAction, OutboxMessage
from detection.models import Account

A = EnforcementAction.Status


def live_accounts_of(case):
    """The accounts on the case now (not removed)."""
    return Account.objects.filter(
        case_links__case=case, case_links__removed_at__isnull=True
    ).order_by("account_id")


def _with_details(actions: QuerySet) -> QuerySet:
    return (
        actions.select_related(
            "case", "proposed_by", "decided_by", "snapshot", "reverses", "policy", "category"
        )
        .annotate(account_total=Count("accounts"))
        .prefetch_related(
            Prefetch(
                "outbox",
                queryset=OutboxMessage.objects.order_by("backend").prefetch_related(
                    Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("-at", "-id"))
                ),
            ),
            Prefetch(
                "reversals",
                queryset=EnforcementAction.objects.select_related("proposed_by")
                .annotate(account_total=Count("accounts"))
                .order_by("-id"),
            ),
        )
    )


def actions_of_case(case) -> list[EnforcementAction]:
    """Every action on the case, newest first, with deliveries, attempts and reversals."""
    return list(_with_details(EnforcementAction.objects.filter(case=case)).order_by("-id"))


def action_of_case(case, pk: int) -> EnforcementAction:
    return _with_details(EnforcementAction.objects.filter(case=case)).get(pk=pk)


def actions_awaiting(user) -> QuerySet[EnforcementAction]:
    """Proposals and reversal requests ``user`` may decide, oldest first."""
    return (
        EnforcementAction.objects.awaiting_decision_by(user)
        .select_related("case", "proposed_by", "reverses", "snapshot", "policy", "category")
        .annotate(account_total=Count("accounts"))
        .order_by("proposed_at", "id")
    )


def actions_proposed_by(user) -> QuerySet[EnforcementAction]:
    """``user``'s own proposals still waiting for someone else."""
    return (
        EnforcementAction.objects.open_proposals()
        .filter(proposed_by=user)
        .select_related("case")
        .annotate(account_total=Count("accounts"))
        .order_by("proposed_at", "id")
    )


def dead_letters() -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.dead().select_related("action", "action__case").order_by("id")


def has_delivery_in_flight(actions: list[EnforcementAction]) -> bool:
    return any(a.status == A.APPROVED for a in actions)
