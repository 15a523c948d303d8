"""The PDF case report: what a case is, why it was flagged, its evidence, decisions and trail.

:func:`case_report_data` reads everything the report shows in a bounded number of queries
(lists are capped, and the report says so where it cuts), beginning with the case in
plain language (:mod:`cases.exports.plain`); :func:`render_pdf` turns the HTML
of ``cases/export_case_report.html`` into PDF bytes with WeasyPrint. Charts are server-drawn
SVG (:mod:`cases.exports.svg`) embedded as images.

The report is HTML rendered by Django's autoescaping templates, so text from investigated
accounts stays text. WeasyPrint is given a URL fetcher that serves ``data:`` URIs only: even
if some markup slipped through, the renderer would never fetch a remote or local file.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import datetime

from django.db.models import Count
from django.template.loader import render_to_string
from django.utils.dateparse import parse_datetime

from cases.exports import svg
from cases.exports.plain import case_plain_summary
from cases.models import Case, CaseAccount, EnforcementAction, Evidence, Note
from cases.selectors import case_timeline
from detection.config import signal_label
from detection.models import AccountScore

MAX_ACCOUNTS = 200
MAX_NOTES = 300
MAX_EVENTS = 1000
MAX_SCORED = 5000
CUSTOM_CHARS = 1500
KNOWN_KINDS = ("signals", "templates", "traffic", "infrastructure", "registrations")


def _signals_from_scores(case: Case) -> list[dict]:
    """The case's signals averaged over its accounts' scores in its last run, when detection
    left no explanation on the case itself."""
    if case.last_run_id is None:
        return []
    rows = (
        AccountScore.objects.filter(
            run_id=case.last_run_id,
            account__case_links__case=case,
            account__case_links__removed_at__isnull=True,
        )
        .order_by("-risk_score")
        .values_list("signals", flat=True)[:MAX_SCORED]
    )
    grouped: dict[str, list[dict]] = defaultdict(list)
    for signals in rows:
        for s in signals or []:
            if isinstance(s, dict) and s.get("name"):
                grouped[str(s["name"])].append(s)

    def mean(items, key):
        values = [float(i[key]) for i in items if isinstance(i.get(key), int | float)]
        return round(statistics.fmean(values), 4) if values else None

    out = [
        {
            "name": name,
            "value": mean(items, "value"),
            "threshold": mean(items, "threshold"),
            "norm": mean(items, "norm"),
            "contribution": mean(items, "contribution") or 0.0,
            "reason": str(
                max(items, key=lambda i: float(i.get("contribution") or 0)).get("reason", "")
            ),
            "accounts": len(items),
        }
        for name, items in grouped.items()
    ]
    return sorted(out, key=lambda s: -s["contribution"])


def _times(value):
    """Evidence stores times as ISO strings; give templates datetimes back, recursively."""
    if isinstance(value, dict):
        return {k: _times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_times(v) for v in value]
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        parsed = parse_datetime(value)
        return parsed if parsed is not None else value
    return value


def _evidence(case: Case) -> tuple[object, dict, list]:
    snapshot = case.snapshots.done().select_related("requested_by").first()
    if snapshot is None:
        return None, {}, []
    sections, custom = {}, []
    for item in Evidence.objects.filter(snapshot=snapshot).exclude(kind="network").defer("figures"):
        if item.kind in KNOWN_KINDS and item.kind not in sections:
            sections[item.kind] = _times(item.data)
        else:
            text = json.dumps(item.data, indent=1, ensure_ascii=False, default=str)
            custom.append({"kind": item.kind, "source": item.source, "text": text[:CUSTOM_CHARS]})
    return snapshot, sections, custom


def _charts(signals: list[dict], risks: list[float], traffic: dict | None) -> list[dict]:
    charts = []
    if signals:
        top = signals[:12]
        charts.append(
            {
                "src": svg.data_uri(
                    svg.horizontal_bars(
                        [signal_label(s["name"]) for s in top],
                        [float(s.get("contribution") or 0) for s in top],
                        title="Contribution of each signal to the risk score",
                    )
                ),
                "caption": "Longer bars moved the risk score more; the table above gives each "
                "signal's value against its threshold and the typical account.",
            }
        )
    if risks:
        bins = [0] * 10
        for r in risks:
            bins[min(int(max(r, 0.0) * 10), 9)] += 1
        charts.append(
            {
                "src": svg.data_uri(
                    svg.columns(
                        [f"{i / 10:.1f}" for i in range(10)],
                        {"accounts": bins},
                        title="Accounts on the case by risk score",
                        height=180,
                        every=1,
                    )
                ),
                "caption": "How many of the case's accounts fall in each risk band (0.0 to "
                "1.0); a fleet clusters at the high end.",
            }
        )
    starts = (traffic or {}).get("bucket_starts") or []
    by_model = (traffic or {}).get("exchanges_by_model") or {}
    if starts and by_model:
        totals = [
            sum(int(v[i]) for v in by_model.values() if i < len(v)) for i in range(len(starts))
        ]
        labels = [
            s.strftime("%d %b" if traffic.get("bucket") != "hour" else "%d %H:%M")
            if isinstance(s, datetime)
            else str(s)[:10]
            for s in starts
        ]
        charts.append(
            {
                "src": svg.data_uri(
                    svg.columns(labels, {"exchanges": totals}, title="Exchanges over time")
                ),
                "caption": "Exchanges by the case's accounts per "
                f"{traffic.get('bucket', 'bucket')} "
                "in the evidence window; shifts and bursts show as regular blocks.",
            }
        )
    return charts


def case_report_data(case: Case) -> dict:
    """Everything the report shows, as a template context."""
    explanation = case.explanation if isinstance(case.explanation, dict) else {}
    signals = [s for s in explanation.get("signals") or [] if isinstance(s, dict)]
    signals_source = "case"
    if not signals:
        signals = _signals_from_scores(case)
        signals_source = "scores"
    links = CaseAccount.objects.filter(case=case, removed_at__isnull=True)
    risks = list(links.values_list("risk_score", flat=True))
    accounts = list(links.select_related("account").order_by("-risk_score", "id")[:MAX_ACCOUNTS])
    snapshot, sections, custom = _evidence(case)
    actions = list(
        EnforcementAction.objects.filter(case=case)
        .select_related("proposed_by", "decided_by", "policy", "category")
        .annotate(account_total=Count("accounts"))
        .order_by("proposed_at", "id")
    )
    notes = list(
        Note.objects.filter(case=case).select_related("author").order_by("created_at")[:MAX_NOTES]
    )
    organisations = links.exclude(account__org_id="").values("account__org_id").distinct().count()
    events_qs = case_timeline(case)
    events = list(events_qs[:MAX_EVENTS])
    event_total = events_qs.count() if len(events) == MAX_EVENTS else len(events)
    return {
        "case": case,
        "summary": explanation.get("summary") or "",
        "plain_summary": case_plain_summary(
            case, signals=signals, organisations=organisations, actions=actions
        ),
        "signals": signals,
        "signals_source": signals_source,
        "account_total": len(risks),
        "accounts": accounts,
        "snapshot": snapshot,
        "sections": sections,
        "custom": custom,
        "actions": actions,
        "notes": notes,
        "note_total": Note.objects.filter(case=case).count()
        if len(notes) == MAX_NOTES
        else len(notes),
        "events": events,
        "event_total": event_total,
        "charts": _charts(signals, risks, sections.get("traffic")),
    }


def render_pdf(context: dict, template: str = "cases/export_case_report.html") -> bytes:
    """A report's PDF bytes: by default the case report, for a context from
    :func:`case_report_data` (plus who/when); other reports name their template."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_to_string(template, context)
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    return HTML(string=html, url_fetcher=fetcher, base_url=".").write_pdf()
