"""Reads of labels and reason codes, and labels set beside detection's flags."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Subquery

from cases.labels.evaluation import CELLS, Evaluation, evaluate_grouped
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


def _label_outcome() -> Subquery:
    return Subquery(AccountLabel.objects.filter(account=OuterRef("account")).values("outcome")[:1])


def backtests_evaluations(backtest_pks) -> dict[int, tuple[Evaluation, Evaluation]]:
    """backtest pk -> the version in force and the draft, each against the current labels of
    the accounts the backtest scored (those active in its window). One grouped query."""
    rows = (
        BacktestAccount.objects.filter(backtest__in=backtest_pks)
        .annotate(outcome=_label_outcome())
        .values_list("backtest_id", "base_flagged", "draft_flagged", "outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    groups: dict[int, tuple[list, list]] = {pk: ([], []) for pk in backtest_pks}
    for backtest, base, draft, outcome, n in rows:
        groups[backtest][0].append((base, outcome, n))
        groups[backtest][1].append((draft, outcome, n))
    return {
        pk: (evaluate_grouped(base), evaluate_grouped(draft))
        for pk, (base, draft) in groups.items()
    }


def backtest_evaluations(backtest: Backtest) -> tuple[Evaluation, Evaluation]:
    """The version in force and the draft, each against the labels of the accounts the
    backtest scored (those active in its window)."""
    return backtests_evaluations([backtest.pk])[backtest.pk]


# The figures behind which a list of accounts can be asked for, as ``<side>-<cell>``.
FIGURES = {f"{side}-{cell}" for side in ("base", "draft") for cell in CELLS}


def backtest_accounts_behind(backtest: Backtest, figure: str):
    """The scored accounts one figure of the comparison counts (``draft-fp``: flagged by the
    draft and labelled legitimate), for the list a figure links to."""
    side, cell = figure.split("-")
    flagged, outcome = CELLS[cell]
    return BacktestAccount.objects.filter(
        backtest=backtest,
        **{f"{side}_flagged": flagged},
        account_id__in=AccountLabel.objects.filter(outcome=outcome).values("account_id"),
    ).order_by("account__account_id")


def shadow_history(config) -> list[dict]:
    """A draft's shadow comparisons, one per scheduled run, oldest first: the run, what
    changed and, for those that finished, each version against the labels."""
    shadows = list(
        Backtest.objects.filter(config=config, run__isnull=False)
        .select_related("run", "baseline")
        .order_by("run__started_at", "run_id")
    )
    done = [b.pk for b in shadows if b.status == Backtest.Status.SUCCEEDED]
    evaluations = backtests_evaluations(done)
    history = []
    for backtest in shadows:
        base, draft = evaluations.get(backtest.pk, (None, None))
        history.append({"backtest": backtest, "run": backtest.run, "base": base, "draft": draft})
    return history


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
