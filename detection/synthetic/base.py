"""The plan of a data set: accounts, how each behaves, and the world they live in.

Generation has two phases. *Planning* (``cohorts.py``, ``campaigns.py``) decides every account,
its registration details, its exact number of exchanges and a ``Behaviour`` (rhythm, addresses,
user agents, prompt source, models, token sizes); plans are small (one object per account).
*Rendering* (``render``) turns one account's plan into its exchanges with numpy, from a
generator seeded by (seed, account), so the output does not depend on the order accounts are
rendered in and memory stays flat however many exchanges there are.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from detection.contract import ACCOUNT_FIELDS
from detection.synthetic import pools
from detection.synthetic.timing import DAY, HOUR

WINDOW_START = datetime(2026, 9, 1, tzinfo=UTC)
WINDOW_DAYS = 28
OLD_MODELS = {"model-small-3": "2026-03-10T16:00:00Z", "model-large-3": "2026-05-20T16:00:00Z"}
NEW_MODEL = "model-large-4"


@dataclass
class ModelPolicy:
    """Which model each request names: a base mix, then (maybe) a move to the new release.

    After ``release + delay`` the share of requests to the new model ramps linearly from 0 to
    ``share`` over ``ramp`` seconds. A pivoting campaign has a delay of hours and no ramp; an
    ordinary customer who upgrades takes days and keeps some traffic on the old model.
    """

    base: dict[str, float]
    release: int
    share: float = 0.0
    delay: float = 0.0
    ramp: float = 1.0

    def choose(self, rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
        names = list(self.base) + [NEW_MODEL]
        weights = np.array(list(self.base.values()), dtype=float)
        idx = rng.choice(len(weights), size=len(ts), p=weights / weights.sum())
        if self.share > 0:
            progress = np.clip((ts - self.release - self.delay) / max(self.ramp, 1.0), 0.0, 1.0)
            idx = np.where(rng.random(len(ts)) < self.share * progress, len(names) - 1, idx)
        return np.array(names, dtype=object)[idx]


@dataclass
class Behaviour:
    """How one account sends requests (shared objects inside a cohort are fine: read-only)."""

    times: Callable[[np.random.Generator, int, int, int], np.ndarray]
    ips: list[tuple[str, int]]
    user_agents: list[str]
    prompt: Callable[[random.Random], str]
    models: ModelPolicy
    ip_weights: list[float] | None = None
    # 0: an address per request (weighted); > 0: one address per period of this many seconds.
    sticky: int = 0
    tool_rate: float = 0.0
    context_tokens: tuple[float, float] = (4.0, 1.0)  # lognormal (mu, sigma) added to the prompt
    output_tokens: tuple[float, float] = (5.5, 0.7)
    # A second life from a time on: requests from ``then[0]`` are sent as ``then[1]`` says
    # (its addresses, clients, prompts, models and sizes; its times are not used). An aged
    # account that a fleet takes over changes everything but its rhythm's source.
    then: tuple[int, Behaviour] | None = None


@dataclass
class AccountSpec:
    """One account of the plan. Empty strings are optional fields left out of the output."""

    account_id: str
    created_at: int
    cohort: str
    campaign: str | None
    n: int
    lo: int
    hi: int
    behaviour: Behaviour
    email_domain: str = ""
    org_id: str = ""
    payment_fingerprint: str = ""
    country: str = ""
    plan: str = ""

    def account_row(self) -> dict:
        """The account as an ingest record: the contract's fields, those without a value
        left out (only optional ones can be empty)."""
        values = {f.name: getattr(self, f.name) for f in ACCOUNT_FIELDS}
        values["created_at"] = rfc3339(self.created_at)
        return {name: value for name, value in values.items() if value}


@dataclass
class World:
    """The data set's fixed facts and the planner's random source (one per seed)."""

    seed: int
    scale: float
    # Scales cohort volumes when set (else ``scale`` does): a preset's ordinary customers can
    # be as many as it needs with as much traffic each as it needs.
    volume_scale: float | None = None
    # Varied shapes (``variety.py``): fleets and companies drawn from wide ranges per seed.
    vary: bool = False
    rng: random.Random = field(init=False)
    start: int = field(init=False)
    end: int = field(init=False)
    release: int = field(init=False)
    # Infrastructure that unrelated cohorts meet on: carrier-grade NAT addresses (phones of
    # strangers, and residential-proxy exits running on phones), a commercial VPN's exits, and
    # the home addresses of ordinary customers (some host residential-proxy SDKs).
    carrier_nat: list[tuple[str, int]] = field(init=False)
    vpn_exits: list[tuple[str, int]] = field(init=False)
    homes: list[tuple[str, int]] = field(default_factory=list, init=False)
    # A commercial rotating-proxy network that customers and a hydra fleet both rent
    # (``lookalikes.proxy_network`` makes it once, after the ordinary customers' homes exist).
    proxy_exits: list[tuple[str, int]] = field(default_factory=list, init=False)
    _ids: set[str] = field(default_factory=set, init=False)

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.start = int(WINDOW_START.timestamp())
        self.end = self.start + WINDOW_DAYS * DAY
        # The new model ships on a weekday in the second half of the window, mid-morning UTC.
        day = self.rng.choice([d for d in range(14, 22) if (d + 1) % 7 not in (5, 6)])
        self.release = self.start + day * DAY + self.rng.randint(14, 18) * HOUR
        self.carrier_nat = pools.addresses(self.rng, pools.CARRIER_NAT, self.size(50, 70, 12))
        self.vpn_exits = pools.addresses(self.rng, pools.VPN, self.size(80, 120, 30))

    def reseed(self, part: str) -> None:
        """Give one part of the plan (a cohort, a campaign) its own random stream.

        Each part then draws the same choices for a seed whatever the scale and whatever the
        other parts drew, so a seed keeps its shape (cohort sizes, campaigns) across scales.
        """
        self.rng = random.Random(f"{self.seed}:{part}")

    def size(self, low: int, high: int, minimum: int = 1) -> int:
        """A cohort size drawn from [low, high] at scale 1, scaled, never below ``minimum``."""
        return max(minimum, round(self.rng.randint(low, high) * self.scale))

    def volume(self, low: int, high: int) -> int:
        """A cohort's total exchanges drawn from [low, high] at scale 1, scaled."""
        scale = self.scale if self.volume_scale is None else self.volume_scale
        return max(1, round(self.rng.randint(low, high) * scale))

    def account_id(self) -> str:
        while True:
            value = f"acct_{self.rng.getrandbits(64):016x}"
            if value not in self._ids:
                self._ids.add(value)
                return value

    def card(self) -> str:
        return f"pm_{self.rng.getrandbits(96):024x}"

    def split(
        self, total: int, accounts: int, sigma: float = 0.8, mult: list[float] | None = None
    ) -> list[int]:
        """Share ``total`` exchanges among accounts with lognormal weights (each gets >= 1).

        ``mult`` scales each account's weight (a paid plan sends more than a free one).
        """
        weights = [self.rng.lognormvariate(0.0, sigma) for _ in range(accounts)]
        if mult is not None:
            weights = [w * m for w, m in zip(weights, mult, strict=True)]
        scale = max(total - accounts, 0) / sum(weights)
        counts = [1 + int(w * scale) for w in weights]
        for i in range(total - sum(counts)):
            counts[i % accounts] += 1
        return counts

    def registered_before(self, days_low: int, days_high: int) -> int:
        return self.start - self.rng.randint(days_low * DAY, days_high * DAY)


def rfc3339(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_many(ts: np.ndarray) -> list[str]:
    """Vectorised RFC 3339 (UTC, ``Z``) for an array of epoch seconds."""
    text = np.datetime_as_string(ts.astype("datetime64[s]"), unit="s")
    return [t + "Z" for t in text.tolist()]


def render(spec: AccountSpec, seed: int, index: int) -> dict[str, list | np.ndarray]:
    """One account's exchanges as columns named by the ingest contract's exchange fields
    (all but ``exchange_id``, and ``account_id`` once); deterministic in (seed, index)."""
    rng = np.random.default_rng([seed, index])
    prng = random.Random(f"{seed}:{index}")
    b = spec.behaviour
    ts = b.times(rng, spec.n, spec.lo, spec.hi)
    if b.then is None:
        return {"account_id": spec.account_id, "ts": ts, **_columns(b, rng, prng, ts)}
    ts = np.sort(ts)
    cut = int(np.searchsorted(ts, b.then[0]))
    before, after = _columns(b, rng, prng, ts[:cut]), _columns(b.then[1], rng, prng, ts[cut:])
    joined = {
        k: np.concatenate([v, after[k]]) if isinstance(v, np.ndarray) else v + after[k]
        for k, v in before.items()
    }
    return {"account_id": spec.account_id, "ts": ts, **joined}


def _columns(b: Behaviour, rng: np.random.Generator, prng: random.Random, ts: np.ndarray) -> dict:
    """The columns of the exchanges at times ``ts`` sent as ``b`` says."""
    n = len(ts)
    if b.sticky:
        periods, inverse = np.unique(ts // b.sticky, return_inverse=True)
        ip_idx = rng.choice(len(b.ips), size=len(periods), p=_p(b.ip_weights))[inverse]
    else:
        ip_idx = rng.choice(len(b.ips), size=n, p=_p(b.ip_weights))
    ua_idx = rng.integers(0, len(b.user_agents), n)
    prompts = [b.prompt(prng) for _ in range(n)]
    lengths = np.fromiter((len(p) for p in prompts), dtype=np.int64, count=n)
    context = rng.lognormal(b.context_tokens[0], b.context_tokens[1], n).astype(np.int64)
    output = rng.lognormal(b.output_tokens[0], b.output_tokens[1], n).astype(np.int64) + 1
    addresses = [b.ips[i] for i in ip_idx.tolist()]
    return {
        "ip": [ip for ip, _ in addresses],
        "asn": [asn for _, asn in addresses],
        "user_agent": [b.user_agents[i] for i in ua_idx.tolist()],
        "model": b.models.choose(rng, ts),
        "prompt": prompts,
        "input_tokens": lengths // 4 + 1 + context,
        "output_tokens": output,
        "tool_use": rng.random(n) < b.tool_rate,
    }


def _p(weights: list[float] | None) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float)
    return w / w.sum()
