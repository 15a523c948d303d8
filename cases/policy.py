"""Case policy: the priority a new case gets from its risk, and when a closed case reopens.

These numbers belong to the people who work cases, not to detection: detection says how risky
a campaign or an account is, the policy says what the console does about it. The defaults
below are the shipped policy; a deployment overrides any of them with a ``CASE_POLICY`` dict
in its Django settings (``CASE_POLICY = {"reopen_min_new_accounts": 3}``). ``case_policy()``
reads and validates that dict; ``CasesConfig.ready`` calls it once, so a bad value stops every
process (web, worker, command) at start-up instead of failing the first case sync.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _is_number(value: Any) -> bool:
    # ``True`` is an int to Python; a policy number given as a boolean is a typo.
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class CasePolicy:
    # Priority of a new case: P1 at or above the first cut, P2 the second, P3 the third, else
    # P4. Set once, when the case opens; after that priority is the analysts'.
    priority_risk_cuts: tuple[float, float, float] = (0.9, 0.75, 0.55)
    # A dismissed or actioned case stays closed until the evidence has grown materially since
    # the decision: at least ``reopen_min_new_accounts`` new accounts that are also at least
    # ``reopen_account_growth`` x the accounts at the decision, or exchanges grown by
    # ``reopen_exchange_growth`` x (1.0: doubled), or risk up by ``reopen_risk_increase``.
    # Anything less is the same evidence an analyst already judged.
    reopen_min_new_accounts: int = 5
    reopen_account_growth: float = 0.25
    reopen_exchange_growth: float = 1.0
    reopen_risk_increase: float = 0.15

    def __post_init__(self) -> None:
        problems = policy_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CasePolicy:
        """The defaults overlaid with ``values``; ``ValueError`` naming every problem."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown case policy setting(s): {', '.join(unknown)}")
        values = dict(values)
        cuts = values.get("priority_risk_cuts")
        if isinstance(cuts, list):
            values["priority_risk_cuts"] = tuple(cuts)
        return cls(**values)

    def priority_for(self, risk: float) -> int:
        """The ``Case.Priority`` value (1 to 4) for a new case of this risk."""
        for level, cut in enumerate(self.priority_risk_cuts, start=1):
            if risk >= cut:
                return level
        return len(self.priority_risk_cuts) + 1

    def evidence_grown(
        self,
        *,
        accounts_before: int,
        new_accounts: int,
        exchanges_before: int,
        exchanges_now: int,
        risk_before: float,
        risk_now: float,
    ) -> bool:
        """Has the evidence grown enough since a decision to reopen the closed case?"""
        needed = max(self.reopen_min_new_accounts, self.reopen_account_growth * accounts_before)
        if new_accounts >= needed:
            return True
        if exchanges_now >= (1 + self.reopen_exchange_growth) * max(exchanges_before, 1):
            return True
        return risk_now >= risk_before + self.reopen_risk_increase


def policy_problems(policy: CasePolicy) -> list[str]:
    """What is wrong with ``policy``, in words an operator can act on (empty when fine)."""
    problems = []
    cuts = policy.priority_risk_cuts
    if (
        not isinstance(cuts, tuple)
        or len(cuts) != 3
        or not all(_is_number(c) and 0 <= c <= 1 for c in cuts)
    ):
        problems.append("priority_risk_cuts must be three numbers in [0, 1] (P1, P2, P3)")
    elif not cuts[0] > cuts[1] > cuts[2]:
        problems.append("priority_risk_cuts must go down: P1's cut above P2's above P3's")
    minimum = policy.reopen_min_new_accounts
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
        problems.append("reopen_min_new_accounts must be a whole number, 1 or more")
    growth = policy.reopen_account_growth
    if not _is_number(growth) or growth < 0:
        problems.append("reopen_account_growth must be a number, 0 or more")
    # Zero would reopen a closed case on a run that found exactly what was decided on.
    if not _is_number(policy.reopen_exchange_growth) or policy.reopen_exchange_growth <= 0:
        problems.append("reopen_exchange_growth must be a positive number")
    increase = policy.reopen_risk_increase
    if not _is_number(increase) or not 0 < increase <= 1:
        problems.append("reopen_risk_increase must be a number in (0, 1]")
    return problems


def case_policy() -> CasePolicy:
    """The policy in force: the defaults overlaid with ``settings.CASE_POLICY``."""
    overrides = getattr(settings, "CASE_POLICY", None) or {}
    if not isinstance(overrides, dict):
        raise ImproperlyConfigured("CASE_POLICY must be a dict of case policy settings")
    try:
        return CasePolicy.from_dict(overrides)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"CASE_POLICY: {exc}") from exc
