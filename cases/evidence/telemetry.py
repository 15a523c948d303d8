"""The built-in evidence source: our own telemetry tables (Account, Exchange, AccountScore).

Every query aggregates in the database and returns a capped list, so a 3,000-account
campaign with millions of exchanges costs a few grouped scans through the
``(account, ts)`` index, never a pull of raw rows. "Outside the case" counts scan the window
once per kind for the handful of values shown. Texts are stored as the accounts sent them
(truncated); they are escaped where they are shown (templates autoescape, figures go
through ``detection.charts.safe_text``).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, timedelta

import numpy as np
from django.db import connection, models
from django.db.models import Count, F, Max, Min, Q, Sum
from django.db.models.functions import RowNumber, Trunc

from cases.evidence.accounts import account_details
from cases.evidence.infrastructure import infrastructure, network, window_reach
from cases.evidence.registrations import bucket_starts, iso, registrations
from cases.evidence.sources import CaseAccounts, Window
from detection.charts import activity_bands
from detection.models import AccountScore, Exchange
from detection.reach import reach_key
from detection.scoring import representative_signal
from detection.selectors import value_reach

TOP_TEMPLATES = 15
SAMPLES_PER_TEMPLATE = 3
SAMPLE_CANDIDATES = 60  # newest uses of a template looked at to pick the samples
SAMPLE_CHARS = 280
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
        return {
            "templates": templates(case_accounts, window),
            "traffic": traffic(case_accounts, window),
            "infrastructure": infrastructure(case_accounts, window),
            "registrations": registrations(case_accounts),
            "accounts": account_details(case_accounts, window),
            "signals": signals_section(case_accounts, scores),
            "network": network(case_accounts, window, scores),
        }


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


def templates(ca: CaseAccounts, window: Window) -> dict:
    ex = case_exchanges(ca, window)
    totals = ex.aggregate(
        exchanges=Count("id"),
        hashed=Count("prompt_hash"),
        distinct=Count("prompt_hash", distinct=True),
    )
    rows = list(
        ex.exclude(prompt_hash=None)
        .values("prompt_hash")
        .annotate(
            exchanges=Count("id"),
            accounts=Count("account_id", distinct=True),
            first=Min("ts"),
            last=Max("ts"),
        )
        .order_by("-accounts", "-exchanges", "prompt_hash")[:TOP_TEMPLATES]
    )
    hashes = [r["prompt_hash"] for r in rows]
    everyone = window_reach(ca, window, "prompt_hash", hashes)
    # The newest uses of each template interleave the accounts that send it, so the samples
    # show different accounts (what makes a shared template evidence) and different
    # wordings; a template one account sends gives that account's samples. One read of the
    # case's exchanges for all the templates, not one per template.
    newest = (
        ex.filter(prompt_hash__in=hashes)
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
    for c in newest:
        candidates[c["prompt_hash"]].append(c)
    items = []
    for r in rows:
        samples = _samples(candidates[r["prompt_hash"]])
        items.append(
            {
                "hash": str(r["prompt_hash"]),
                "exchanges": r["exchanges"],
                "accounts": r["accounts"],
                "outside_accounts": max(
                    everyone(r["prompt_hash"], r["accounts"]) - r["accounts"], 0
                ),
                "first": iso(r["first"]),
                "last": iso(r["last"]),
                "samples": samples,
            }
        )
    return {
        "exchanges": totals["exchanges"],
        "with_prompt": totals["hashed"],
        "distinct_templates": totals["distinct"],
        "top_share": (sum(i["exchanges"] for i in items) / totals["exchanges"])
        if totals["exchanges"]
        else 0.0,
        "templates": items,
    }


# -------------------------------------------------------------------------------- traffic


def _bucket_kind(window: Window) -> str:
    return "hour" if window.hours <= 72 else "day"


def traffic(ca: CaseAccounts, window: Window) -> dict:
    ex = case_exchanges(ca, window)
    totals = ex.aggregate(
        exchanges=Count("id"),
        output_tokens=Sum("output_tokens"),
        input_tokens=Sum("input_tokens"),
        tool_use=Count("id", filter=Q(tool_use=True)),
        active_accounts=Count("account_id", distinct=True),
    )
    kind = _bucket_kind(window)
    buckets = bucket_starts(window.start, window.end, kind)
    index = {b: i for i, b in enumerate(buckets)}
    by_model: dict[str, list[int]] = defaultdict(lambda: [0] * len(buckets))
    output = [0] * len(buckets)
    for row in (
        ex.annotate(b=Trunc("ts", kind, tzinfo=UTC))
        .values("b", "model")
        .annotate(n=Count("id"), out=Sum("output_tokens"))
        .order_by()
    ):
        i = index.get(row["b"].astimezone(UTC))
        if i is None:
            continue
        by_model[row["model"]][i] += row["n"]
        output[i] += row["out"] or 0
    models = list(
        ex.values("model")
        .annotate(
            exchanges=Count("id"), accounts=Count("account_id", distinct=True), first=Min("ts")
        )
        .order_by("-exchanges")[:TOP_MODELS]
    )
    late = [m["model"] for m in models if m["first"] >= window.start + timedelta(days=1)]
    first_seen = _first_seen(ca, window, late)
    per_account = list(
        ex.values("account_id", "account__account_id")
        .annotate(exchanges=Count("id"), output_tokens=Sum("output_tokens"))
        .order_by("-exchanges")
    )
    volumes = [a["exchanges"] for a in per_account]
    return {
        "totals": {**totals, "tool_use_share": _share(totals["tool_use"], totals["exchanges"])},
        "bucket": kind,
        "bucket_starts": [iso(b) for b in buckets],
        "exchanges_by_model": dict(by_model),
        "output_tokens": output,
        "models": [
            {
                "model": m["model"],
                "exchanges": m["exchanges"],
                "accounts": m["accounts"],
                "first_use": iso(m["first"]),
                "first_seen_anywhere": iso(first_seen.get(m["model"])),
            }
            for m in models
        ],
        "per_account": {
            "median": statistics.median(volumes) if volumes else 0,
            "max": max(volumes) if volumes else 0,
            "top": [
                {
                    "account_id": a["account__account_id"],
                    "exchanges": a["exchanges"],
                    "output_tokens": a["output_tokens"] or 0,
                }
                for a in per_account[:TOP_ACCOUNTS]
            ],
        },
        "heatmap": heatmap(ca, window),
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


def heatmap(ca: CaseAccounts, window: Window) -> dict:
    """Hourly exchanges per account over the window's last days, reduced to bands."""
    start = max(window.start, window.end - timedelta(days=HEATMAP_DAYS))
    buckets = bucket_starts(start, window.end, "hour")
    index = {b: i for i, b in enumerate(buckets)}
    row_of = {pk: i for i, pk in enumerate(ca.pks)}
    matrix = np.zeros((len(ca.pks), len(buckets)), dtype=np.float32)
    rows = (
        Exchange.objects.filter(account_id__in=ca.pks, ts__gte=start, ts__lt=window.end)
        .annotate(b=Trunc("ts", "hour", tzinfo=UTC))
        .values_list("account_id", "b")
        .annotate(n=Count("id"))
        .order_by()
    )
    for account_pk, bucket, n in rows:
        i = index.get(bucket.astimezone(UTC))
        if i is not None:
            matrix[row_of[account_pk], i] = n
    first_hour = buckets[0].hour if buckets else 0
    bands = activity_bands(
        matrix, ca.account_ids, first_hour=first_hour, bucket_hours=1, max_rows=HEATMAP_MAX_ROWS
    )
    return {"bucket_starts": [iso(b) for b in buckets], "bucket_hours": 1, **bands.as_dict()}


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
