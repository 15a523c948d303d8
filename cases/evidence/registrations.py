"""Registrations of the case's accounts: over time by plan, bursts, plan mix (built-in source)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from cases.evidence.sources import CaseAccounts
from detection.models import Account

BURST_GAP = timedelta(minutes=10)
BURST_MIN = 5
# The chart's range: registrations within this many interquartile distances of the middle
# half, and never narrower than CORE_MIN around it.
CORE_FENCE = 3
CORE_MIN = timedelta(days=2)


def iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def bucket_starts(start: datetime, end: datetime, kind: str) -> list[datetime]:
    """Hour or day bucket starts (UTC) covering ``[start, end)``."""
    step = timedelta(hours=1) if kind == "hour" else timedelta(days=1)
    t = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if kind == "day":
        t = t.replace(hour=0)
    out = []
    while t < end:
        out.append(t)
        t += step
    return out


def find_bursts(times: list[datetime], gap=BURST_GAP, minimum=BURST_MIN) -> list[dict]:
    """Runs of registrations each within ``gap`` of the previous one, at least ``minimum``."""
    times = sorted(t for t in times if t is not None)
    bursts, run = [], times[:1]
    for t in times[1:]:
        if t - run[-1] <= gap:
            run.append(t)
            continue
        if len(run) >= minimum:
            bursts.append(run)
        run = [t]
    if len(run) >= minimum:
        bursts.append(run)
    bursts.sort(key=len, reverse=True)
    return [
        {
            "start": iso(r[0]),
            "end": iso(r[-1]),
            "count": len(r),
            "minutes": round((r[-1] - r[0]).total_seconds() / 60, 1),
        }
        for r in bursts
    ]


def core_range(times: list[datetime]) -> tuple[datetime, datetime]:
    """The span most registrations fall in: the quartiles widened by ``CORE_FENCE`` times
    their distance (at least ``CORE_MIN``), then shrunk to the registrations inside. A few
    accounts made months before the fleet would otherwise stretch the chart until the burst
    is a sliver; the chart says how many it leaves out."""
    ordered = sorted(times)
    n = len(ordered)
    q1, q3 = ordered[n // 4], ordered[(3 * n) // 4 if n > 1 else 0]
    fence = max((q3 - q1) * CORE_FENCE, CORE_MIN)
    inside = [t for t in ordered if q1 - fence <= t <= q3 + fence]
    return inside[0], inside[-1]


def registrations(ca: CaseAccounts) -> dict:
    rows = list(Account.objects.filter(pk__in=ca.pks).values_list("created_at", "plan"))
    times = [t for t, _ in rows if t is not None]
    plan_mix = Counter(plan or "" for _, plan in rows)
    if not times:
        return {"accounts": len(rows), "plan_mix": dict(plan_mix), "bursts": [], "buckets": []}
    first, last = min(times), max(times)
    core_first, core_last = core_range(times)
    outside = {
        "before": sum(1 for t in times if t < core_first),
        "after": sum(1 for t in times if t > core_last),
        "earliest": iso(first),
        "latest": iso(last),
    }
    kind = "hour" if core_last - core_first <= timedelta(days=3) else "day"
    # Some quiet time either side, so a burst stands out against its surroundings.
    pad = timedelta(hours=12) if kind == "hour" else timedelta(days=3)
    buckets = bucket_starts(core_first - pad, core_last + pad, kind)
    if len(buckets) > 400:  # a year and more of sign-ups: weeks read better than days
        step = 7
        buckets = buckets[::step]
        kind = "week"
    index = {b: i for i, b in enumerate(buckets)}
    by_plan: dict[str, list[int]] = defaultdict(lambda: [0] * len(buckets))
    for t, plan in rows:
        if t is None or not core_first <= t <= core_last:
            continue
        b = t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if kind != "hour":
            b = b.replace(hour=0)
        if kind == "week":
            b = buckets[min((b - buckets[0]).days // 7, len(buckets) - 1)]
        by_plan[plan or ""][index[b]] += 1
    bursts = find_bursts(times)
    return {
        "accounts": len(rows),
        "first": iso(first),
        "last": iso(last),
        "bucket": kind,
        "bucket_starts": [iso(b) for b in buckets],
        "counts_by_plan": dict(by_plan),
        "outside": outside,
        "plan_mix": dict(plan_mix.most_common()),
        "bursts": bursts[:10],
        "in_bursts": sum(b["count"] for b in bursts),
    }
