"""What every cohort and fleet builder shares: the clock, the random sources, the accounts
made so far and the exchange table."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from bench.heldout.schedule import DAY, Traffic
from bench.heldout.world import Account, account_id

MODELS = ["kestrel-4", "kestrel-4-mini", "kestrel-4-think", "kestrel-code-2"]
NEW_MODEL = "kestrel-5"


@dataclass
class Ctx:
    rng: random.Random
    g: np.random.Generator
    start: float  # epoch seconds of the window's first midnight (UTC)
    days: int
    release_day: int  # the day the new model ships
    traffic: Traffic = field(default_factory=Traffic)
    accounts: list[Account] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)

    @property
    def release(self) -> float:
        return self.start + self.release_day * DAY

    def account(
        self, cohort: str, *, created_at: float, campaign: str | None = None, **details
    ) -> int:
        acct = Account(
            account_id(self.rng, self.taken), cohort, created_at, campaign=campaign, **details
        )
        self.accounts.append(acct)
        return len(self.accounts) - 1

    def created_before(self, max_days: float = 720, min_days: float = 1) -> float:
        return self.start - self.rng.uniform(min_days, max_days) * DAY

    def created_during(self, first: float = 0, last: float | None = None) -> float:
        return self.start + self.rng.uniform(first, self.days if last is None else last) * DAY

    def models(self, ts: np.ndarray, base: str, adopt: float | None, share: float = 0.8):
        """Model per exchange: ``base``, moving to the new model ``adopt`` days after release
        (``None``: never) for ``share`` of the exchanges after that."""
        idx = np.full(len(ts), self.traffic.intern("model", base), dtype=np.int32)
        if adopt is not None:
            moved = (ts >= self.release + adopt * DAY) & (self.g.random(len(ts)) < share)
            idx[moved] = self.traffic.intern("model", NEW_MODEL)
        return idx

    def seeds(self, n: int) -> np.ndarray:
        return self.g.integers(0, 2**62, n, dtype=np.int64)

    def clip(self, ts: np.ndarray) -> np.ndarray:
        end = self.start + self.days * DAY
        return ts[(ts >= self.start) & (ts < end)]
