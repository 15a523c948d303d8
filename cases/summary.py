"""A case's figures, read once: the summary card at the top of the case page and the sections
below it show these same values, so no two places on the page can disagree.

``case_signals`` is the explanation the Why section lists; ``case_summary`` adds what the card
says in words: what the campaign harvests, its accounts and organisations, since when, its
strongest ties and its look-alikes. Each figure a page shows carries ``data-figure="<name>"``
and ``tests/cases/test_summary.py`` checks that every place showing a name shows one value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, Min, Q

from cases.lookalikes import lookalike_q
from cases.models import Case, CaseAccount
from detection.naming import signal_label
from detection.signals import TARGETS

# Volume and model signals that say what a fleet takes, beside the content ones (TARGETS).
HARVEST_SIGNALS = TARGETS | {"output_harvesting", "model_pivot", "new_model_rush"}
# The campaign's shared evidence (``Campaign.evidence["links"]``) in words, strongest first.
TIE_WORDS = {
    "coaction": ("pair acting together", "pairs acting together"),
    "start": ("pair that began together", "pairs that began together"),
    "payment": ("shared-card pair", "shared-card pairs"),
    "ip": ("shared-address pair", "shared-address pairs"),
    "activity": ("synchronised pair", "synchronised pairs"),
    "template": ("account sharing prompt templates", "accounts sharing prompt templates"),
    "ua": ("shared-client pair", "shared-client pairs"),
}
MAX_TIES = 3


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class SignalFigure:
    name: str
    label: str
    value: float | None
    threshold: float | None
    norm: float | None
    contribution: float
    reason: str

    @property
    def above_norm(self) -> bool:
        return self.value is not None and self.norm is not None and self.value > self.norm


def case_signals(case: Case) -> list[SignalFigure]:
    """The case's explanation, signal by signal, strongest first; anything in the stored JSON
    that is not a signal is skipped (older runs and bad data shaped it differently)."""
    explanation = case.explanation if isinstance(case.explanation, dict) else {}
    found = []
    for item in explanation.get("signals") or []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        name = str(item["name"])
        found.append(
            SignalFigure(
                name=name,
                label=signal_label(name),
                value=_number(item.get("value")),
                threshold=_number(item.get("threshold")),
                norm=_number(item.get("norm")),
                contribution=_number(item.get("contribution")) or 0.0,
                reason=str(item.get("reason") or ""),
            )
        )
    return sorted(found, key=lambda s: -abs(s.contribution))


@dataclass(frozen=True)
class Tie:
    kind: str
    count: int

    @property
    def words(self) -> str:
        one, many = TIE_WORDS.get(self.kind, (self.kind, self.kind))
        return f"{self.count:,} {one if self.count == 1 else many}"


@dataclass
class CaseSummary:
    name: str
    accounts: int
    lookalikes: int
    organisations: int
    without_organisation: int
    # How many unrelated owners detection grouped the accounts into (declared organisations,
    # company e-mail domains, one card's holders at one site, or accounts on their own), as
    # the Why summary's sentence says.
    owners: int | None
    first_registered: datetime | None
    last_registered: datetime | None
    exchanges: int
    traffic_share: float
    summary: str
    signals: list[SignalFigure] = field(default_factory=list)
    harvests: list[SignalFigure] = field(default_factory=list)
    ties: list[Tie] = field(default_factory=list)


def case_summary(case: Case) -> CaseSummary:
    """Everything the summary card says, in one query over the case's live accounts (their
    look-alikes, organisations and registration dates) whatever the case's size."""
    live = CaseAccount.objects.filter(case=case, removed_at__isnull=True)
    facts = live.aggregate(
        lookalikes=Count("pk", filter=lookalike_q("account__")),
        organisations=Count("account__org_id", distinct=True, filter=~Q(account__org_id="")),
        without_organisation=Count("pk", filter=Q(account__org_id="")),
        first=Min("account__created_at"),
        last=Max("account__created_at"),
    )
    signals = case_signals(case)
    evidence = (case.campaign.evidence if case.campaign_id and case.campaign else None) or {}
    links = evidence.get("links") if isinstance(evidence.get("links"), dict) else {}
    ties = sorted(
        (Tie(str(k), int(n)) for k, n in links.items() if isinstance(n, int) and n > 0),
        key=lambda t: (-t.count, t.kind),
    )
    explanation = case.explanation if isinstance(case.explanation, dict) else {}
    owners = evidence.get("organisations")
    return CaseSummary(
        name=case.campaign.label if case.campaign_id and case.campaign else case.title,
        accounts=case.account_count,
        lookalikes=facts["lookalikes"],
        organisations=facts["organisations"],
        without_organisation=facts["without_organisation"],
        owners=owners if isinstance(owners, int) and not isinstance(owners, bool) else None,
        first_registered=facts["first"],
        last_registered=facts["last"],
        exchanges=case.exchange_count,
        traffic_share=case.traffic_share,
        summary=str(explanation.get("summary") or ""),
        signals=signals,
        harvests=[s for s in signals if s.name in HARVEST_SIGNALS and s.above_norm],
        ties=ties[:MAX_TIES],
    )
