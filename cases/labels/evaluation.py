"""Flags against labels: precision and recall with their counts. Pure.

An account labelled a confirmed fleet member and flagged is a true positive; labelled
legitimate and flagged, a false positive; confirmed and not flagged, a false negative;
legitimate and not flagged, a true negative. Unsure labels and unlabelled accounts count
toward neither figure and are reported beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONFIRMED, LEGITIMATE = "confirmed", "legitimate"


@dataclass(frozen=True)
class Evaluation:
    flagged: int = 0
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    true_negatives: int = 0
    unsure: int = 0
    unlabelled_flagged: int = 0

    @property
    def precision(self) -> float | None:
        decided = self.true_positives + self.false_positives
        return self.true_positives / decided if decided else None

    @property
    def recall(self) -> float | None:
        confirmed = self.true_positives + self.false_negatives
        return self.true_positives / confirmed if confirmed else None

    @property
    def labelled(self) -> int:
        return (
            self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
        )


# Each cell of the comparison: which accounts it counts, by flag and label.
CELLS = {
    "tp": (True, CONFIRMED),
    "fp": (True, LEGITIMATE),
    "fn": (False, CONFIRMED),
    "tn": (False, LEGITIMATE),
}


def evaluate(flags: Iterable[tuple[int, bool]], labels: Mapping[int, str]) -> Evaluation:
    """``flags``: (account, flagged) for every account scored in the window; ``labels``:
    account -> outcome."""
    return evaluate_grouped((bool(flagged), labels.get(account), 1) for account, flagged in flags)


def evaluate_grouped(groups: Iterable[tuple[bool, str | None, int]]) -> Evaluation:
    """The same figures from counts already grouped: (flagged, outcome or None, accounts)."""
    counts = dict.fromkeys(("flagged", "tp", "fp", "fn", "tn", "unsure", "unlabelled_flagged"), 0)
    for flagged, outcome, n in groups:
        counts["flagged"] += n if flagged else 0
        if outcome == CONFIRMED:
            counts["tp" if flagged else "fn"] += n
        elif outcome == LEGITIMATE:
            counts["fp" if flagged else "tn"] += n
        elif outcome:
            counts["unsure"] += n
        elif flagged:
            counts["unlabelled_flagged"] += n
    return Evaluation(
        flagged=counts["flagged"],
        true_positives=counts["tp"],
        false_positives=counts["fp"],
        false_negatives=counts["fn"],
        true_negatives=counts["tn"],
        unsure=counts["unsure"],
        unlabelled_flagged=counts["unlabelled_flagged"],
    )
