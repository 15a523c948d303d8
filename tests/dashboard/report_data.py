"""A period's worth of cases, built so that every figure of the period report can be worked
out by hand (the numbers are in ``EXPECTED``, with the working beside each)."""

import re
from datetime import timedelta

from django.utils import timezone

from cases import audit
from cases.models import Case, EnforcementAction
from dashboard.selectors import Period, day_start
from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    DetectionRunFactory,
    ExchangeFactory,
    NoteFactory,
)

S = Case.Status
# Per figure: (this period, previous period).
EXPECTED = {
    "campaigns_found": (2, 1),  # A, B | D
    "campaigns_stopped": (1, 0),  # A (C is a single-account case)
    "cases_opened": (2, 2),  # A, B | C, D
    "cases_closed": (2, 1),  # A, C decided | D dismissed
    "cases_actioned": (2, 0),  # A ban, C suspension
    "accounts_actioned": (4, 0),  # a0, a1, a2 | c0
    "exchanges_before_action": (45_500, 0),  # 45,000 (A) + 500 (C)
    "output_tokens_before_action": (6_700, 0),  # 1,000 + 2,000 + 3,000 (A) + 700 (C)
    "to_detection_days": (4.0, 3.0),  # median(A 3 days, B 5 days) | C 3 days (D: no account)
    "to_action_days": (3.5, None),  # median(A 2 days, C 5 days)
    "reversal_requests": (1, 0),  # C's suspension, asked to be undone
    "reversals_done": (1, 0),
}


def build(analyst, approver, approver2, *, end=None) -> dict:
    """Seven days ending ``end`` (today by default: the report's "chosen dates"; the last
    Sunday for the weekly email) and the seven before them. The audit events of the team's
    work are stamped now, so ``WORKLOAD`` holds for a period that ends today."""
    end = end or timezone.localdate()
    period = Period(end - timedelta(days=6), end)

    def at(day: int, hours: int = 0):
        return day_start(period.start + timedelta(days=day)) + timedelta(hours=hours)

    run = DetectionRunFactory()
    camp = CampaignFactory(label="Northwind reasoning harvest")
    a = CaseFactory(
        title="Northwind fleet", kind=Case.Kind.CAMPAIGN, campaign=camp, status=S.ACTIONED,
        resolution=Case.Resolution.ACTIONED, opened_at=at(1, 10), decided_at=at(3, 10),
        account_count=3, exchange_count=45_000, traffic_share=0.04, last_run=run,
        risk_score=0.93, explanation={"signals": [
            {"name": "reasoning_elicitation", "value": 0.7, "contribution": 0.4},
            {"name": "shared_payment", "value": 5, "contribution": 0.3},
        ]},
    )  # fmt: skip
    a_accounts = []
    for i, tokens in enumerate((1_000, 2_000, 3_000)):
        account = AccountFactory(account_id=f"nw-{i}", org_id=f"org-{i % 2}")
        CaseAccountFactory(case=a, account=account)
        AccountScoreFactory(run=run, account=account, output_tokens=tokens)
        a_accounts.append(account)
    # First activity: nw-1's, three days before A opened (nw-0's is one day before).
    ExchangeFactory(account=a_accounts[0], ts=at(0, 10))
    ExchangeFactory(account=a_accounts[1], ts=at(-2, 10))
    ExchangeFactory(account=a_accounts[1], ts=at(0, 12))
    # A removed account does not count, however early its traffic.
    gone = AccountFactory(account_id="nw-removed")
    CaseAccountFactory(case=a, account=gone, removed_at=at(2))
    ExchangeFactory(account=gone, ts=at(-5))
    ban = EnforcementAction.objects.create(
        case=a, kind="ban", status="executed", reason="fleet", proposed_by=analyst,
        decided_by=approver, decided_at=at(3, 9), executed_at=at(3, 10),
    )  # fmt: skip
    ban.accounts.add(*a_accounts)

    b = CaseFactory(title="Octo coding agents", kind=Case.Kind.CAMPAIGN, opened_at=at(4),
                    exchange_count=1_000, account_count=1)  # fmt: skip
    # No traffic at all: its first activity is its registration, five days before.
    CaseAccountFactory(case=b, account=AccountFactory(account_id="octo-0", created_at=at(-1)))

    c = CaseFactory(
        title="Lone harvester", kind=Case.Kind.ACCOUNT, status=S.ACTIONED,
        resolution=Case.Resolution.ACTIONED, opened_at=at(-3), decided_at=at(2),
        exchange_count=500, account_count=1, last_run=run,
    )  # fmt: skip
    c0 = AccountFactory(account_id="lone-0", created_at=at(-12))
    CaseAccountFactory(case=c, account=c0)
    AccountScoreFactory(run=run, account=c0, output_tokens=700)
    ExchangeFactory(account=c0, ts=at(-6))
    suspend = EnforcementAction.objects.create(
        case=c, kind="suspend", status="reversed", reason="one account", proposed_by=analyst,
        decided_by=approver, decided_at=at(2), executed_at=at(2),
    )  # fmt: skip
    suspend.accounts.add(c0)
    reverse = EnforcementAction.objects.create(
        case=c, kind="reverse", status="executed", reverses=suspend, reason="customer appeal",
        proposed_by=approver, decided_by=approver2, decided_at=at(5), executed_at=at(5),
    )  # fmt: skip
    # Asked for (the day the reversal counts in) the day before it was carried out.
    EnforcementAction.objects.filter(pk=reverse.pk).update(proposed_at=at(4, 12))

    CaseFactory(
        title="Campus NAT", kind=Case.Kind.CAMPAIGN, status=S.DISMISSED,
        resolution=Case.Resolution.LEGITIMATE, opened_at=at(-6), decided_at=at(-4),
    )  # fmt: skip
    # Outside both periods: counted nowhere.
    CaseFactory(title="Old news", opened_at=at(-30), decided_at=at(-29), status=S.DISMISSED)

    # What the case services write when accounts join a case (tests/cases check that they
    # do): A's first activity is nw-1's first request, B's octo-0's registration.
    Case.objects.all().refresh_first_activity()

    # The team's work (the audit log stamps events now, inside the period).
    CaseFactory(title="Open one", assignee=analyst, opened_at=at(-40))
    NoteFactory(case=a, author=analyst, body="**Same card** as Octo")
    audit.record("note.added", actor=analyst, case=a)
    audit.record("action.proposed", actor=analyst, case=a, data={"kind": "ban"})
    audit.record("action.approved", actor=approver, case=a, data={"kind": "ban"})
    audit.record("case.status_changed", actor=approver, case=c, data={"to": "actioned"})
    first_activity = {"a": at(-2, 10), "b": at(-1), "c": at(-6)}
    return {"period": period, "a": a, "b": b, "c": c, "first_activity": first_activity}


# (person, open now, cases worked, notes, status changes, proposals, decisions)
WORKLOAD = [
    ("ana", 1, 1, 1, 0, 1, 0),
    ("april", 0, 2, 0, 1, 0, 1),
]


def figures_in_pdf(text: str, labels: dict[str, str]) -> dict[str, tuple]:
    """Per figure key, the (this period, previous period) numbers a report PDF prints on the
    figure's row: its label, its explanation on the next line, then now, before, change."""
    found = {}
    for key, label in labels.items():
        start = text.index(label)
        window = " ".join(text[start : start + 400].split())
        numbers = re.findall(r"(?<![\w.])(—|[+-]?\d[\d,]*(?:\.\d+)?)(?![\w%])", window)
        found[key] = tuple(None if n == "—" else _number(n) for n in numbers[:2])
    return found


def _number(text: str) -> float | int:
    text = text.replace(",", "")
    return float(text) if "." in text else int(text)
