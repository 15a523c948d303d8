"""The built-in evidence source: our own telemetry tables (Account, Exchange, AccountScore).

The case's exchanges are read once, grouped in the database (``case_traffic``,
``cases.evidence.aggregate``), and every section asks that grouped table for a capped list,
so a campaign of millions of exchanges costs one pass over its rows, never a pull of raw
rows; the template samples read only the day before each template's last use. "Outside the
case" counts come from the run's stored reach (or one scan of the window for the handful of
values shown, when the window is not a run's). Texts are stored as the accounts sent them
(truncated); they are escaped where they are shown (templates autoescape, figures go
through ``detection.charts.safe_text``).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import timedelta

import numpy as np
from django.db import connection, models
from django.db.models import F, Min, Q
from django.db.models.functions import RowNumber

from cases.evidence.accounts import account_details
from cases.evidence.aggregate import CaseTraffic
from cases.evidence.infrastructure import infrastructure, network, window_reach
from cases.evidence.registrations import bucket_starts, iso, registrations
from cases.evidence.sources import CaseAccounts, Window
from detection.charts.activity import activity_bands_ordered, band_rows, shift_order_from
from detection.models import AccountScore, Exchange
from detection.reach import reach_key
from detection.scoring import representative_signal
from detection.selectors import value_reach

TOP_TEMPLATES = 15
SAMPLES_PER_TEMPLATE = 3
SAMPLE_CANDIDATES = 60  # newest uses of a template looked at to pick the samples
SAMPLE_CHARS = 280
# How far before a template's last use its samples are looked for.
SAMPLE_SPAN = timedelta(days=1)
TOP_ACCOUNTS = 25
TOP_MODELS = 20
HEATMAP_DAYS = 14
HEATMAP_MAX_ROWS = 150


def case_exchanges(ca: CaseAccounts, window: Window):
    return Exchange.objects.filter(account_id__in=ca.pks, ts__gte=window.start, ts__lt=window.end)


class TelemetrySource:
    """Prompt templates, traffic, infrastructure, registrations, account details (changes and
    cleaned text), signals and the network."""

    name = "telemetry"

    def collect(self, case_accounts: CaseAccounts, window: Window) -> dict[str, dict]:
        scores = latest_scores(case_accounts)
        with case_traffic(case_accounts, window) as agg:
            return {
                "templates": templates(case_accounts, window, agg),
                "traffic": traffic(case_accounts, window, agg),
                "infrastructure": infrastructure(case_accounts, window, agg),
                "registrations": registrations(case_accounts),
                "accounts": account_details(case_accounts, window, agg),
                "signals": signals_section(case_accounts, scores),
                "network": network(case_accounts, window, scores, agg),
            }


def heatmap_start(window: Window):
    return max(window.start, window.end - timedelta(days=HEATMAP_DAYS))


def case_traffic(ca: CaseAccounts, window: Window) -> CaseTraffic:
    """The case's exchanges in ``window`` read once, grouped (``cases.evidence.aggregate``)."""
    return CaseTraffic(ca, window, bucket=_bucket_kind(window), heat_start=heatmap_start(window))


# ------------------------------------------------------------------------------ templates


def _samples(candidates: list[dict]) -> list[dict]:
    """Up to SAMPLES_PER_TEMPLATE distinct prompts, one per account first, then any."""
    picked: list[dict] = []
    texts: set[str] = set()
    for one_per_account in (True, False):
        accounts = {c["account__account_id"] for c in picked}
        for c in candidates:
            if len(picked) >= SAMPLES_PER_TEMPLATE:
                break
            if c["prompt"] in texts or (one_per_account and c["account__account_id"] in accounts):
                continue
            texts.add(c["prompt"])
            accounts.add(c["account__account_id"])
            picked.append(c)
    return [
        {
            "exchange": c["pk"],
            "account_id": c["account__account_id"],
            "ts": iso(c["ts"]),
            "text": c["prompt"][:SAMPLE_CHARS],
            "truncated": len(c["prompt"]) > SAMPLE_CHARS,
            "length": len(c["prompt"]),
        }
        for c in picked
    ]


def templates(ca: CaseAccounts, window: Window, agg: CaseTraffic) -> dict:
    totals = agg.totals()
    rows = agg.top("template", TOP_TEMPLATES)
    hashes = [int(r["value"]) for r in rows]
    everyone = window_reach(ca, window, "prompt_hash", hashes)
    # The newest uses of each template interleave the accounts that send it, so the samples
    # show different accounts (what makes a shared template evidence) and different
    # wordings; a template one account sends gives that account's samples. One read of the
    # case's exchanges for all the templates, and only of the SAMPLE_SPAN before each one's
    # last use, so the rows read and ranked do not grow with the case's whole traffic.
    recent = Q(pk__in=[])
    for r in rows:
        recent |= Q(prompt_hash=int(r["value"]), ts__gte=r["last"] - SAMPLE_SPAN)
    newest = (
        case_exchanges(ca, window)
        .filter(recent)
        .filter(ts__gte=min((r["last"] for r in rows), default=window.end) - SAMPLE_SPAN)
        .annotate(
            rank=models.Window(
                RowNumber(),
                partition_by=[F("prompt_hash")],
                order_by=[F("ts").desc(), F("pk").desc()],
            )
        )
        .filter(rank__lte=SAMPLE_CANDIDATES)
        .order_by("prompt_hash", "rank")
        .values("pk", "prompt", "ts", "account__account_id", "prompt_hash")
    )
    candidates: dict[int, list[dict]] = defaultdict(list)
    for c in newest if rows else []:
        candidates[c["prompt_hash"]].append(c)
    items = []
    for r, h in zip(rows, hashes, strict=True):
        items.append(
            {
                "hash": str(h),
                "exchanges": r["exchanges"],
                "accounts": r["accounts"],
                "outside_accounts": max(everyone(h, r["accounts"]) - r["accounts"], 0),
                "first": iso(r["first"]),
                "last": iso(r["last"]),
                "samples": _samples(candidates[h]),
            }
        )
    return {
        "exchanges": totals["exchanges"],
        "with_prompt": totals["hashed"],
        "distinct_templates": agg.distinct("template"),
        "top_share": (sum(i["exchanges"] for i in items) / totals["exchanges"])
        if totals["exchanges"]
        else 0.0,
        "templates": items,
    }


# -------------------------------------------------------------------------------- traffic


def _bucket_kind(window: Window) -> str:
    return "hour" if window.hours <= 72 else "day"


def traffic(ca: CaseAccounts, window: Window, agg: CaseTraffic) -> dict:
    grouped = agg.totals()
    totals = {k: grouped[k] for k in ("exchanges", "output_tokens", "input_tokens", "tool_use")}
    totals["active_accounts"] = grouped["active_accounts"]
    kind = agg.bucket
    buckets = bucket_starts(window.start, window.end, kind)
    index = {b: i for i, b in enumerate(buckets)}
    by_model: dict[str, list[int]] = defaultdict(lambda: [0] * len(buckets))
    output = [0] * len(buckets)
    for bucket, model, n, out in agg.volume():
        i = index.get(bucket)
        if i is None:
            continue
        by_model[model][i] += n
        output[i] += out
    models = agg.busiest("model", TOP_MODELS)
    late = [m["value"] for m in models if m["first"] >= window.start + timedelta(days=1)]
    first_seen = _first_seen(ca, window, late)
    per_account = agg.per_account()
    volumes = [n for _, n, _ in per_account]
    id_of = dict(zip(ca.pks, ca.account_ids, strict=True))
    return {
        "totals": {**totals, "tool_use_share": _share(totals["tool_use"], totals["exchanges"])},
        "bucket": kind,
        "bucket_starts": [iso(b) for b in buckets],
        "exchanges_by_model": dict(by_model),
        "output_tokens": output,
        "models": [
            {
                "model": m["value"],
                "exchanges": m["exchanges"],
                "accounts": m["accounts"],
                "first_use": iso(m["first"]),
                "first_seen_anywhere": iso(first_seen.get(m["value"])),
            }
            for m in models
        ],
        "per_account": {
            "median": statistics.median(volumes) if volumes else 0,
            "max": max(volumes) if volumes else 0,
            "top": [
                {"account_id": id_of.get(pk, str(pk)), "exchanges": n, "output_tokens": out}
                for pk, n, out in per_account[:TOP_ACCOUNTS]
            ],
        },
        "heatmap": heatmap(ca, window, agg),
    }


def _first_seen(ca: CaseAccounts, window: Window, models: list[str]) -> dict:
    """Each model's first use by anyone in the window: from the run's reach, or a scan."""
    stored = value_reach(ca.detection_run_id, (window.start, window.end), "model", models)
    if stored is not None:
        return {m: stored[reach_key(m)][1] for m in models if reach_key(m) in stored}
    return dict(
        Exchange.objects.filter(ts__gte=window.start, ts__lt=window.end, model__in=models)
        .values("model")
        .annotate(first=Min("ts"))
        .values_list("model", "first")
    )


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def heatmap(ca: CaseAccounts, window: Window, agg: CaseTraffic) -> dict:
    """Hourly exchanges per account over the window's last days, reduced to bands.

    The accounts are ordered by their daily shift from one row each (their hours of day
    summed in the database), and a band's hours are summed there too, so the rows read are
    the accounts plus at most ``HEATMAP_MAX_ROWS`` times the hours, whatever the traffic.
    """
    start = heatmap_start(window)
    buckets = bucket_starts(start, window.end, "hour")
    index = {b: i for i, b in enumerate(buckets)}
    row_of = {pk: i for i, pk in enumerate(ca.pks)}
    n, m = len(ca.pks), len(buckets)
    totals, cos, sin = np.zeros(n), np.zeros(n), np.zeros(n)
    first_active = np.full(n, m)
    for pk, total, c, s, first in agg.clock():
        i = row_of[pk]
        totals[i], cos[i], sin[i] = total, c, s
        first_active[i] = index.get(first, m)
    order = shift_order_from(totals, cos, sin, first_active)
    bands = band_rows(n, HEATMAP_MAX_ROWS)
    matrix = np.zeros((len(bands), m))
    if len(bands) == n:  # one account a row
        position = {ca.pks[j]: r for r, j in enumerate(order)}
        for pk, bucket, count in agg.hours():
            if (i := index.get(bucket)) is not None:
                matrix[position[pk], i] = count
    else:
        band_of = {}
        for b, rows in enumerate(bands):
            band_of.update({ca.pks[order[r]]: b for r in rows})
        for band, bucket, count in agg.band_hours(band_of):
            if (i := index.get(bucket)) is not None:
                matrix[band, i] = count
        matrix /= np.array([len(rows) for rows in bands], dtype=float)[:, None]
    result = activity_bands_ordered(matrix, [ca.account_ids[j] for j in order], bands)
    return {
        "bucket_starts": [iso(b) for b in buckets],
        "bucket_hours": 1,
        **result.as_dict(),
    }


# -------------------------------------------------------------------------------- signals


def latest_scores(ca: CaseAccounts) -> dict[int, dict]:
    """Each account's latest AccountScore (the last run that looked at it), by account pk."""
    qs = AccountScore.objects.filter(account_id__in=ca.pks).values(
        "account_id", "run_id", "risk_score", "flagged", "signals", "campaign__label"
    )
    latest: dict[int, dict] = {}
    if connection.vendor == "postgresql":
        for row in qs.order_by("account_id", "-run_id").distinct("account_id"):
            latest[row["account_id"]] = row
        return latest
    for row in qs.order_by("account_id", "-run_id"):
        latest.setdefault(row["account_id"], row)
    return latest


def signals_section(ca: CaseAccounts, scores: dict[int, dict]) -> dict:
    by_name: dict[str, list[dict]] = defaultdict(list)
    for row in scores.values():
        for sig in row["signals"] or []:
            if isinstance(sig, dict) and sig.get("name"):
                by_name[str(sig["name"])].append(sig)
    summary = []
    for name, sigs in by_name.items():
        values = [float(s["value"]) for s in sigs if _is_number(s.get("value"))]
        norms = [float(s["norm"]) for s in sigs if _is_number(s.get("norm"))]
        thresholds = [float(s["threshold"]) for s in sigs if _is_number(s.get("threshold"))]
        threshold = Counter(thresholds).most_common(1)[0][0] if thresholds else None
        median_value = statistics.median(values) if values else None
        median_norm = statistics.median(norms) if norms else None
        numeric = [s for s in sigs if _is_number(s.get("value")) and _is_number(s.get("norm"))]
        if numeric and median_value is not None and median_norm is not None:
            # Quoted beside the medians, so from a member whose figures match them (as the
            # case's explanation quotes one), not the strongest, who may be on another plan.
            example = representative_signal(numeric, value=median_value, norm=median_norm)
        else:
            example = max(sigs, key=lambda s: _num(s.get("contribution")))
        summary.append(
            {
                "name": name,
                "accounts": len(sigs),
                "mean": round(statistics.fmean(values), 4) if values else None,
                "median": round(median_value, 4) if median_value is not None else None,
                # The median, as the case's explanation states a campaign's typical value
                # (dashboard.pipeline): the two sections show one figure.
                "norm": round(median_norm, 4) if median_norm is not None else None,
                "threshold": threshold,
                "above_threshold": sum(
                    1 for v in values if threshold is not None and v >= threshold
                ),
                "mean_contribution": round(
                    statistics.fmean(_num(s.get("contribution")) for s in sigs), 4
                ),
                "is_share": bool(values) and all(0 <= v <= 1 for v in values + norms),
                "example_reason": str(example.get("reason", ""))[:300],
            }
        )
    summary.sort(key=lambda s: -s["mean_contribution"])
    ranked = sorted(scores.values(), key=lambda r: -r["risk_score"])
    id_of = dict(zip(ca.pks, ca.account_ids, strict=True))
    risks = [r["risk_score"] for r in scores.values()]
    return {
        "scored_accounts": len(scores),
        "flagged_accounts": sum(1 for r in scores.values() if r["flagged"]),
        "runs": sorted({r["run_id"] for r in scores.values()}),
        "mean_risk": round(statistics.fmean(risks), 4) if risks else None,
        "signals": summary,
        "top_accounts": [
            {
                "account_id": id_of.get(r["account_id"], str(r["account_id"])),
                "risk": round(r["risk_score"], 4),
                "flagged": r["flagged"],
                "campaign": r["campaign__label"] or "",
                "signals": [
                    {
                        "name": str(s.get("name", "")),
                        "value": s.get("value"),
                        "reason": str(s.get("reason", ""))[:300],
                    }
                    for s in (r["signals"] or [])[:3]
                    if isinstance(s, dict)
                ],
            }
            for r in ranked[:TOP_ACCOUNTS]
        ],
    }


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num(value) -> float:
    return float(value) if _is_number(value) else 0.0
