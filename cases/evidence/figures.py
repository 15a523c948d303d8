"""Evidence data → cached chart figures: the adapter between snapshot sections and the pure
builders in ``detection.charts``. Runs in the snapshot task; the page only reads the result.

Figures are stored as plain JSON (``fig.to_json()`` parsed back) on the Evidence row they are
drawn from, keyed by chart name, beside the format they were drawn in (``FIGURES_FORMAT``).
The order of ``CHARTS`` is the order on the page.

Charts are derived, not evidence: a snapshot's data is the record and never changes, but its
figures are a cache of how this code draws that data. When the drawing changes (a figure
shows another statistic, a node another colour), ``FIGURES_FORMAT`` goes up and figures
cached under an older format are drawn again from the frozen data when next shown
(``cases.evidence.services.evidence_figures``), so an old snapshot never shows a chart that
disagrees with the sections beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson
import plotly.graph_objects as go

from cases.templatetags.account_links import account_url, pivot_url
from detection import charts
from detection.charts import ActivityBands, NetAccount, Share, SharedKey
from detection.charts.base import KEY_KIND_LABELS

# Raise whenever a change here or in ``detection.charts`` changes what a cached figure shows.
# 1 (unmarked): before formats; 2: shares at the median, the network filled by risk; 3: the
# network's table cached beside its figure, accounts grouped past a number of links too, and
# the caption saying when they are; 4: the network never WebGL (the page's plotly.js has no
# such traces), at most as many lines as links it draws accounts up to, the heaviest.
FIGURES_FORMAT = 4
FORMAT_KEY = "_format"
# The network's table (``network_table``) is cached with the network's figure under this
# name, so the page reads neither the network's data (every account of the case and who
# uses what) nor counts it again on each view.
NETWORK_TABLE = "network_table"
NETWORK_TABLE_ROWS = 50
# Up to this many accounts, and this many links between them and what they share, the
# network draws each account; above either, groups of them, and never more than that many
# lines, so what the page sends and draws stays bounded whatever the case's size (the
# caption says so).
NETWORK_ACCOUNTS_DRAWN = 400
NETWORK_LINKS_DRAWN = 8_000


def figures_stored(charts: dict[str, dict]) -> dict:
    """One Evidence row's figures as stored: its charts by name, marked with the format."""
    return {FORMAT_KEY: FIGURES_FORMAT, **charts}


def figures_current(stored: dict | None) -> bool:
    return isinstance(stored, dict) and stored.get(FORMAT_KEY) == FIGURES_FORMAT


def cached_of(stored: dict | None) -> dict[str, dict]:
    """What a row's stored figures (any format) cache, by name, without the marker: its
    charts and, on the network's row, the network's table (``NETWORK_TABLE``)."""
    if not isinstance(stored, dict):
        return {}
    return {name: fig for name, fig in stored.items() if name != FORMAT_KEY}


def charts_of(stored: dict | None) -> dict[str, dict]:
    """The charts by name in a row's stored figures (any format)."""
    return {name: fig for name, fig in cached_of(stored).items() if name != NETWORK_TABLE}


@dataclass(frozen=True)
class Chart:
    name: str
    kind: str  # the evidence kind it is drawn from
    title: str  # heading on the page
    build: Callable[[dict], go.Figure | None]


# The network's kinds of shared thing, as the account pages name them (cases.accounts).
PIVOT_KINDS = {
    "ip": "ip",
    "asn": "asn",
    "user_agent": "agent",
    "payment": "card",
    "org": "org",
    "template": "template",
}


def _network(data: dict) -> go.Figure | None:
    if not data.get("accounts"):
        return None
    keys = [SharedKey(k, v, n) for k, v, n in data.get("keys", [])]
    return charts.network_figure(
        [NetAccount(a, float(r), c) for a, r, c in data["accounts"]],
        keys,
        [(a, k) for a, k in data.get("memberships", [])],
        summarise_above=NETWORK_ACCOUNTS_DRAWN,
        links_above=NETWORK_LINKS_DRAWN,
        account_urls=[account_url(a) for a, _, _ in data["accounts"]],
        key_urls=[
            pivot_url(PIVOT_KINDS[key.kind], key.value) if key.kind in PIVOT_KINDS else None
            for key in keys
        ],
    )


@dataclass(frozen=True)
class NetworkTable:
    """The network chart's shared things as rows, most shared first: ``rows`` are the first
    ``limit`` of the ``total`` the chart draws."""

    rows: list[dict]
    total: int


def network_table(data: dict, limit: int = NETWORK_TABLE_ROWS) -> NetworkTable:
    """The network as rows for people who do not read the picture: each shared thing the
    chart draws (one at least one account uses), its kind, and how many of the case's
    accounts share it, as the node's hover says."""
    keys = data.get("keys") or []
    members: list[set[int]] = [set() for _ in keys]
    for a, k in data.get("memberships") or []:
        if 0 <= k < len(keys):
            members[k].add(a)
    rows = [
        {
            "kind": KEY_KIND_LABELS.get(kind, kind),
            "pivot": PIVOT_KINDS.get(kind),
            # Text the accounts wrote (organisations, clients) stays clipped, never a link
            # text; the count links to the accounts instead.
            "link_value": kind in ("ip", "asn", "payment", "template"),
            "value": value,
            "note": note,
            "accounts": len(members[i]),
        }
        for i, (kind, value, note) in enumerate(keys)
        if members[i]
    ]
    rows.sort(key=lambda r: (-r["accounts"], r["kind"], r["value"]))
    return NetworkTable(rows[:limit], len(rows))


def _heatmap(data: dict) -> go.Figure | None:
    heat = data.get("heatmap") or {}
    if not heat.get("labels"):
        return None
    bands = ActivityBands(heat["labels"], heat["sizes"], heat["z"], heat["n_accounts"])
    return charts.activity_heatmap_figure(
        bands, heat["bucket_starts"], bucket_hours=heat.get("bucket_hours", 1)
    )


def _volume(data: dict) -> go.Figure | None:
    if not data.get("bucket_starts") or not data.get("exchanges_by_model"):
        return None
    models = data.get("models", [])
    return charts.volume_figure(
        data["bucket_starts"],
        data["exchanges_by_model"],
        data["output_tokens"],
        model_first_use={m["model"]: m["first_use"] for m in models if m.get("first_use")},
        population_first_seen={
            m["model"]: m["first_seen_anywhere"] for m in models if m.get("first_seen_anywhere")
        },
        bucket_label=data.get("bucket", "day"),
    )


def _registrations(data: dict) -> go.Figure | None:
    if not data.get("bucket_starts"):
        return None
    return charts.registrations_figure(
        data["bucket_starts"],
        data.get("counts_by_plan", {}),
        bursts=data.get("bursts", []),
        bucket_label=data.get("bucket", "day"),
        outside=data.get("outside"),
    )


def shares_from(signals: dict, traffic: dict | None) -> list[Share]:
    """Share-valued signals (values and norms in 0..1) at the accounts' median, the figure the
    Why and Evidence sections show, plus tool use read from traffic."""
    shares = [
        Share(s["name"], s["median"], s.get("norm"), s.get("threshold"), s["accounts"])
        for s in signals.get("signals", [])
        if s.get("is_share") and s.get("median") is not None
    ]
    names = {s.name for s in shares}
    totals = (traffic or {}).get("totals") or {}
    if "tool_use" not in names and totals.get("exchanges"):
        shares.append(
            Share(
                "tool_use",
                totals.get("tool_use_share", 0.0),
                None,
                None,
                totals["active_accounts"],
                pooled=True,
            )
        )
    return shares


def _shares(data: dict, traffic: dict | None = None) -> go.Figure | None:
    shares = shares_from(data, traffic)
    return charts.shares_figure(shares) if shares else None


CHARTS = [
    Chart("network", "network", "Account network", _network),
    Chart("activity", "traffic", "Activity heatmap", _heatmap),
    Chart("volume", "traffic", "Volume and output over time", _volume),
    Chart("registrations", "registrations", "Registrations over time", _registrations),
    Chart("shares", "signals", "Shares against the typical", _shares),
]


def _plain(fig: go.Figure) -> dict:
    # to_json gives plotly's own encoding (dates, numpy); parse it back to store as JSON.
    return orjson.loads(fig.to_json())


def build_figures(sections: dict[str, dict]) -> dict[str, dict[str, dict]]:
    """``{kind: {chart name: figure JSON}}`` for the built-in sections present."""
    out: dict[str, dict[str, dict]] = {}
    for chart in CHARTS:
        data = sections.get(chart.kind)
        if data is None:
            continue
        if chart.name == "shares":
            fig = _shares(data, sections.get("traffic"))
        else:
            fig = chart.build(data)
        if fig is not None:
            out.setdefault(chart.kind, {})[chart.name] = _plain(fig)
            if chart.name == "network":
                table = network_table(data)
                out[chart.kind][NETWORK_TABLE] = {"rows": table.rows, "total": table.total}
    return out


def figures_size(figures: dict) -> int:
    return len(orjson.dumps(figures))
