"""When requests happen: vectorised samplers of request times (epoch seconds, int64, sorted).

Every sampler takes the account's own generator and the number of requests it must produce,
so an account's volume is decided once at plan time and its rhythm here. ``lo`` and ``hi``
bound the times (an account never talks before it registered, nor after the window).
"""

from __future__ import annotations

import numpy as np

DAY = 86400
HOUR = 3600
# Relative activity of a person by local hour (0-23): asleep at night, a morning and an
# evening peak; the shape of consumer chat traffic, not a measured curve of any provider.
DIURNAL = np.array(
    [
        0.6,
        0.3,
        0.15,
        0.1,
        0.1,
        0.2,
        0.5,
        1.2,
        2.2,
        3.2,
        3.6,
        3.5,
        3.0,
        3.3,
        3.5,
        3.4,
        3.1,
        2.7,
        2.3,
        2.4,
        2.7,
        2.6,
        2.0,
        1.2,
    ]
)
DIURNAL = DIURNAL / DIURNAL.sum()
# Office hours: an integration or a team working 9-to-6 local time.
OFFICE = np.array(
    [0.1] * 7
    + [0.6, 2.5, 3.5, 3.5, 3.2, 2.2, 3.2, 3.5, 3.3, 2.8, 1.4]
    + [0.5, 0.3, 0.2, 0.2, 0.1, 0.1]
)
OFFICE = OFFICE / OFFICE.sum()


def _days(lo: int, hi: int) -> np.ndarray:
    """Midnight (UTC) of every day that overlaps [lo, hi)."""
    first = lo // DAY * DAY
    return np.arange(first, max(hi, first + 1), DAY, dtype=np.int64)


def _finish(ts: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.sort(np.clip(ts, lo, hi - 1).astype(np.int64))


def human(
    rng: np.random.Generator,
    n: int,
    lo: int,
    hi: int,
    tz_hours: int,
    *,
    profile: np.ndarray = DIURNAL,
    weekend: float = 0.6,
    active_share: float = 0.5,
    session_size: float = 4.0,
    gap_seconds: float = 150.0,
) -> np.ndarray:
    """A person: sessions on some days, in their local waking hours, requests minutes apart.

    ``weekend`` scales Saturday and Sunday; ``active_share`` is the fraction of days with any
    use; a session holds about ``session_size`` requests ``gap_seconds`` apart on average.
    """
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    days = _days(lo, hi)
    weekday = ((days // DAY) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    weight = np.where(weekday >= 5, weekend, 1.0) * rng.uniform(0.3, 1.0, len(days))
    k = max(1, min(len(days), round(len(days) * active_share)))
    active = rng.choice(len(days), size=k, replace=False, p=weight / weight.sum())
    sessions = max(1, round(n / session_size))
    day = days[rng.choice(active, size=sessions)]
    local_hour = rng.choice(24, size=sessions, p=profile)
    start = day + ((local_hour - tz_hours) % 24) * HOUR + rng.integers(0, HOUR, sessions)
    which = np.sort(rng.integers(0, sessions, n))
    gaps = rng.exponential(gap_seconds, n)
    gaps[np.r_[True, which[1:] != which[:-1]]] = 0.0  # each session starts at its start
    offset = np.cumsum(gaps)
    first = np.maximum.accumulate(np.where(gaps == 0.0, offset, 0.0))
    return _finish(start[which] + (offset - first).astype(np.int64), lo, hi)


def round_the_clock(
    rng: np.random.Generator,
    n: int,
    lo: int,
    hi: int,
    *,
    tz_hours: int = 0,
    business_bump: float = 0.5,
) -> np.ndarray:
    """A service: requests at every hour, somewhat busier in its customers' business hours."""
    hours = np.ones(24) + business_bump * OFFICE * 24
    hours = hours / hours.sum()
    days = _days(lo, hi)
    day = days[rng.integers(0, len(days), n)]
    hour = (rng.choice(24, size=n, p=hours) - tz_hours) % 24
    return _finish(day + hour * HOUR + rng.integers(0, HOUR, n), lo, hi)


def in_windows(
    rng: np.random.Generator, n: int, windows: np.ndarray, lo: int, hi: int, *, jitter: float = 0.0
) -> np.ndarray:
    """Requests spread evenly over the given (start, end) windows (shifts, benchmark runs).

    Windows outside [lo, hi) are ignored; ``jitter`` (seconds) blurs the edges so a fleet's
    accounts do not all start on the same second.
    """
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    starts = np.clip(windows[:, 0], lo, hi)
    ends = np.clip(windows[:, 1], lo, hi)
    length = (ends - starts).astype(float)
    if length.sum() <= 0:
        return _finish(rng.integers(lo, hi, n), lo, hi)
    pick = rng.choice(len(windows), size=n, p=length / length.sum())
    ts = starts[pick] + rng.random(n) * length[pick]
    if jitter:
        ts = ts + rng.normal(0.0, jitter, n)
    return _finish(ts, lo, hi)


def daily_shifts(
    lo: int, hi: int, start_hour: float, hours: float, *, skip_days: frozenset[int] = frozenset()
) -> np.ndarray:
    """A fleet's duty roster: the same hours (UTC) every day between ``lo`` and ``hi``."""
    days = _days(lo, hi)
    keep = np.array([i not in skip_days for i in range(len(days))], dtype=bool)
    start = days[keep] + int(start_hour * HOUR)
    return np.stack([start, start + int(hours * HOUR)], axis=1)


def in_waves(g, n, lo, hi, *, waves):
    """An account's share of the fleet's waves: 1-4 requests within minutes of each wave it
    is handed, the waves it gets drawn at random (so any two members meet in some of them)."""
    waves = waves[(waves >= lo) & (waves < hi)]
    if n <= 0 or not len(waves):
        return np.empty(0, dtype=np.int64)
    picked = g.choice(waves, size=max(1, round(n / 2.5)), replace=round(n / 2.5) > len(waves))
    ts = picked[g.integers(0, len(picked), n)] + g.integers(0, 240, n)
    return np.sort(np.clip(ts, lo, hi - 1))


def in_episodes(g, n, lo, hi, *, waves, steps=5.0, step_seconds=40.0, reach=300):
    """An agent's share of the fleet's waves, an episode per wave it is handed: the job
    reaches it within ``reach`` seconds of the wave, then about ``steps`` requests (a tool
    call, its result, the next call) ``step_seconds`` apart on average. A low-volume account
    takes part in few waves, but in each it works alongside the others handed the same wave."""
    waves = waves[(waves >= lo) & (waves < hi)]
    if n <= 0 or not len(waves):
        return np.empty(0, dtype=np.int64)
    k = max(1, round(n / steps))
    picked = np.sort(g.choice(waves, size=k, replace=k > len(waves)))
    start = picked + g.integers(0, reach, k)
    which = np.sort(g.integers(0, k, n))
    gaps = g.exponential(step_seconds, n)
    gaps[np.r_[True, which[1:] != which[:-1]]] = 0.0  # each episode starts at its start
    offset = np.cumsum(gaps)
    first = np.maximum.accumulate(np.where(gaps == 0.0, offset, 0.0))
    return _finish(start[which] + (offset - first).astype(np.int64), lo, hi)
