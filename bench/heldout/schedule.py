"""When accounts act, and the table every exchange is collected in before it is written.

Exchanges are kept as columns of small integers (which address, which client, which prompt
maker and the seed it renders with), and the prompt text is made only when the row is
written, in time order: 700,000 rendered prompts would not fit in memory comfortably.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DAY = 86400.0
HOUR = 3600.0

# Weight of each local hour of the day (0..23) for kinds of routine.
PROFILES = {
    "evening": [
        1,
        0.5,
        0.3,
        0.2,
        0.2,
        0.3,
        0.6,
        1,
        1.5,
        2,
        2,
        2,
        2.5,
        2,
        2,
        2,
        2.5,
        3,
        3.5,
        4,
        4.5,
        4,
        3,
        2,
    ],
    "office": [
        0.1,
        0.05,
        0.05,
        0.05,
        0.05,
        0.1,
        0.3,
        1,
        3,
        5,
        5,
        4.5,
        3,
        4,
        5,
        5,
        4.5,
        3,
        1.5,
        0.8,
        0.5,
        0.4,
        0.3,
        0.2,
    ],
    "student": [
        2.5,
        1.8,
        1,
        0.4,
        0.2,
        0.1,
        0.1,
        0.3,
        0.8,
        1.5,
        2,
        2,
        2,
        2.5,
        2.5,
        2.5,
        3,
        3,
        3,
        3.5,
        4,
        4,
        4,
        3.5,
    ],
    "builder": [
        0.8,
        0.5,
        0.3,
        0.2,
        0.2,
        0.3,
        0.5,
        1,
        2.5,
        4,
        4.5,
        4,
        3,
        4,
        4.5,
        4.5,
        4,
        3,
        2,
        2.5,
        3,
        3,
        2.5,
        1.5,
    ],
    "flat": [1] * 24,
}


def profile(name: str) -> np.ndarray:
    weights = np.asarray(PROFILES[name], dtype=float)
    return weights / weights.sum()


def sessions(
    g: np.random.Generator,
    *,
    start: float,
    days: int,
    offset_h: float,
    hours: np.ndarray,
    p_day: float,
    weekend: float = 0.6,
    per_day: float = 1.5,
    length: float = 6.0,
    gap: float = 90.0,
    first_day: int = 0,
    last_day: int | None = None,
) -> list[np.ndarray]:
    """Sessions of activity: on each day the account is active (probability ``p_day``,
    times ``weekend`` on Saturdays and Sundays in local time), a Poisson number of sessions
    starting at hours drawn from ``hours`` (local time), each a run of about ``length``
    exchanges with log-normal gaps around ``gap`` seconds. Returns one array of epoch
    seconds per session."""
    out: list[np.ndarray] = []
    last = days if last_day is None else min(days, last_day)
    for day in range(first_day, last):
        day_start = start + day * DAY
        local_weekday = int((day_start + offset_h * HOUR) // DAY + 3) % 7  # 1970-01-01: Thu
        p = p_day * (weekend if local_weekday >= 5 else 1.0)
        if g.random() >= p:
            continue
        for _ in range(max(1, g.poisson(per_day))):
            hour = g.choice(24, p=hours)
            begin = day_start + (hour - offset_h) * HOUR + g.random() * HOUR
            n = max(1, int(g.geometric(1.0 / max(length, 1.0))))
            gaps = g.lognormal(np.log(gap), 0.8, n)
            gaps[0] = 0.0
            out.append(begin + np.cumsum(gaps))
    return out


class Traffic:
    """Column store of exchanges; strings are interned to small integers."""

    def __init__(self) -> None:
        self._tables: dict[str, dict] = {"ip": {}, "ua": {}, "model": {}}
        self.makers: list[Callable] = []
        self.chunks: list[dict[str, np.ndarray]] = []

    def intern(self, table: str, value) -> int:
        index = self._tables[table]
        if value not in index:
            index[value] = len(index)
        return index[value]

    def values(self, table: str) -> list:
        return list(self._tables[table])

    def maker(self, fn: Callable) -> int:
        self.makers.append(fn)
        return len(self.makers) - 1

    def add(self, account: int, ts, *, ip, ua, model, maker, seed, tokens_in, tokens_out, tool):
        ts = np.asarray(ts, dtype=float)
        n = len(ts)

        def col(value, dtype):
            arr = np.asarray(value, dtype=dtype)
            return np.full(n, arr, dtype=dtype) if arr.ndim == 0 else arr

        self.chunks.append(
            {
                "ts": ts,
                "account": col(account, np.int32),
                "ip": col(ip, np.int32),
                "ua": col(ua, np.int32),
                "model": col(model, np.int32),
                "maker": col(maker, np.int32),
                "seed": col(seed, np.int64),
                "tin": col(tokens_in, np.int64),
                "tout": col(tokens_out, np.int64),
                "tool": col(tool, np.int8),
            }
        )

    def columns(self) -> dict[str, np.ndarray]:
        cols = {k: np.concatenate([c[k] for c in self.chunks]) for k in self.chunks[0]}
        order = np.argsort(cols["ts"], kind="stable")
        return {k: v[order] for k, v in cols.items()}
