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


def evaluate(flags: Iterable[tuple[int, bool]], labels: Mapping[int, str]) -> Evaluation:
    """``flags``: (account, flagged) for every account scored in the window; ``labels``:
    account -> outcome."""
    counts = dict.fromkeys(("flagged", "tp", "fp", "fn", "tn", "unsure", "unlabelled_flagged"), 0)
    for account, flagged in flags:
        outcome = labels.get(account)
        counts["flagged"] += flagged
        if outcome == CONFIRMED:
            counts["tp" if flagged else "fn"] += 1
        elif outcome == LEGITIMATE:
            counts["fp" if flagged else "tn"] += 1
        elif outcome:
            counts["unsure"] += 1
        elif flagged:
            counts["unlabelled_flagged"] += 1
    return Evaluation(
        flagged=counts["flagged"],
        true_positives=counts["tp"],
        false_positives=counts["fp"],
        false_negatives=counts["fn"],
        true_negatives=counts["tn"],
        unsure=counts["unsure"],
        unlabelled_flagged=counts["unlabelled_flagged"],
    )
