"""Reads of labels and reason codes, and labels set beside detection's flags."""

from __future__ import annotations

from cases.labels.evaluation import Evaluation, evaluate
from cases.labels.models import AccountLabel, Outcome, ReasonCode
from cases.models.case import Case, CaseAccount
from detection.models import AccountScore, Backtest, BacktestAccount, DetectionRun


def reason_choices(outcomes=None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Active reason codes grouped by the outcome they explain (blank: any), for a select."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for code in ReasonCode.objects.active():
        if outcomes is not None and code.outcome and code.outcome not in outcomes:
            continue
        name = Outcome(code.outcome).label if code.outcome else "Any outcome"
        groups.setdefault(name, []).append((code.code, code.label))
    return [("", "—"), *groups.items()]


def label_outcomes(account_pks=None) -> dict[int, str]:
    """account pk -> current outcome, for these accounts (all labelled ones with None)."""
    labels = AccountLabel.objects.all()
    if account_pks is not None:
        labels = labels.filter(account_id__in=account_pks)
    return dict(labels.values_list("account_id", "outcome"))


def backtest_evaluations(backtest: Backtest) -> tuple[Evaluation, Evaluation]:
    """The version in force and the draft, each against the labels of the accounts the
    backtest scored (those active in its window)."""
    rows = list(
        BacktestAccount.objects.filter(backtest=backtest).values_list(
            "account_id", "base_flagged", "draft_flagged"
        )
    )
    labels = label_outcomes(BacktestAccount.objects.filter(backtest=backtest).values("account_id"))
    base = evaluate(((a, b) for a, b, _ in rows), labels)
    draft = evaluate(((a, d) for a, _, d in rows), labels)
    return base, draft


def live_cases_of(account_pks) -> dict[int, int]:
    """account pk -> the live case it is on (the newest), for links from detection's lists."""
    links = (
        CaseAccount.objects.filter(
            account_id__in=account_pks, removed_at=None, case__merged_into=None
        )
        .order_by("account_id", "-case__opened_at")
        .values_list("account_id", "case_id")
    )
    found: dict[int, int] = {}
    for account, case in links:
        found.setdefault(account, case)
    return found


def campaign_cases(campaign_pks) -> dict[int, int]:
    """campaign pk -> its live case."""
    rows = Case.objects.filter(campaign_id__in=campaign_pks, merged_into=None).order_by(
        "campaign_id", "-opened_at"
    )
    found: dict[int, int] = {}
    for campaign, case in rows.values_list("campaign_id", "pk"):
        found.setdefault(campaign, case)
    return found


# A signal whose firings on decided accounts are legitimate at least this often stands out.
NOISY_SHARE = 0.5
EXAMPLES = 3


def signal_quality(start, end) -> list[dict]:
    """Each signal's record against the labels, over the runs that finished in
    [``start``, ``end``): on how many confirmed, legitimate and unsure accounts it fired
    (in each labelled account's latest score of the period), its precision, and a few
    example accounts of each. Noisiest first."""
    runs = DetectionRun.objects.filter(
        status=DetectionRun.Status.SUCCEEDED, finished_at__gte=start, finished_at__lt=end
    )
    labels = label_outcomes()
    scores = (
        AccountScore.objects.filter(run__in=runs, account_id__in=list(labels))
        .order_by("account_id", "-run_id")
        .values_list("account_id", "account__account_id", "signals")
    )
    seen: set[int] = set()
    table: dict[str, dict] = {}
    for pk, account_id, signals in scores.iterator(chunk_size=2000):
        if pk in seen:
            continue
        seen.add(pk)
        outcome = labels[pk]
        for signal in signals or []:
            if not isinstance(signal, dict) or (signal.get("contribution") or 0) <= 0:
                continue
            row = table.setdefault(
                signal.get("name"),
                {"name": signal.get("name"), **dict.fromkeys(Outcome.values, 0), "examples": {}},
            )
            row[outcome] += 1
            examples = row["examples"].setdefault(outcome, [])
            if len(examples) < EXAMPLES:
                examples.append(account_id)
    rows = []
    for row in table.values():
        decided = row[Outcome.CONFIRMED] + row[Outcome.LEGITIMATE]
        row["precision"] = row[Outcome.CONFIRMED] / decided if decided else None
        row["noisy"] = bool(decided) and row[Outcome.LEGITIMATE] / decided >= NOISY_SHARE
        row["confirmed_examples"] = row["examples"].get(Outcome.CONFIRMED, [])
        row["legitimate_examples"] = row["examples"].get(Outcome.LEGITIMATE, [])
        rows.append(row)
    rows.sort(
        key=lambda r: (
            not r["noisy"],
            r["precision"] if r["precision"] is not None else 2,
            r["name"],
        )
    )
    return rows
