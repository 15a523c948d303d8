"""Time series and shares: volume and output, registrations, shares against the norm."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from detection.charts.base import CAMPAIGN_COLOURS, chart_layout, safe_text
from detection.naming import signal_label

MAX_MODELS = 8
LABEL_ROWS, LABEL_STEP = 4, 0.07


def volume_figure(
    bucket_starts: list[str],
    exchanges_by_model: dict[str, list[int]],
    output_tokens: list[int],
    *,
    model_first_use: dict[str, str] | None = None,
    population_first_seen: dict[str, str] | None = None,
    bucket_label: str = "day",
) -> go.Figure:
    """Stacked exchanges by model with output tokens on a second axis.

    A dashed line marks each model's first use by the fleet after the window opened, so a
    pivot to a newly released model shows as the stack changing colour at the line; the
    hover says when that model was first seen anywhere.
    """
    model_first_use = model_first_use or {}
    population_first_seen = population_first_seen or {}
    ranked = sorted(exchanges_by_model, key=lambda m: -sum(exchanges_by_model[m]))
    shown, rest = ranked[:MAX_MODELS], ranked[MAX_MODELS:]
    series = {m: exchanges_by_model[m] for m in shown}
    if rest:
        series["other models"] = [
            sum(vals) for vals in zip(*(exchanges_by_model[m] for m in rest), strict=True)
        ]
    traces = []
    for i, (model, values) in enumerate(series.items()):
        name = safe_text(model, 40)
        traces.append(
            go.Bar(
                x=list(bucket_starts),
                y=list(values),
                name=name,
                marker={"color": CAMPAIGN_COLOURS[i % len(CAMPAIGN_COLOURS)]},
                hovertemplate=f"{name}<br>%{{x}}<br>%{{y}} exchanges<extra></extra>",
            )
        )
    traces.append(
        go.Scatter(
            x=list(bucket_starts),
            y=list(output_tokens),
            name="output tokens",
            mode="lines",
            yaxis="y2",
            line={"color": "#14213d", "width": 2},
            hovertemplate="%{x}<br>%{y:,} output tokens<extra></extra>",
        )
    )
    shapes, annotations = [], []
    # A model already in use during the first bucket was not a pivot inside the window.
    second_bucket = bucket_starts[1] if len(bucket_starts) > 1 else ""
    for model in shown:
        first = model_first_use.get(model)
        if not first or first < second_bucket:
            continue
        seen = population_first_seen.get(model)
        note = f"fleet's first use of {safe_text(model, 40)}"
        if seen:
            note += f"<br>first seen anywhere {safe_text(seen[:16], 20)}"
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": first,
                "x1": first,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dash", "color": "#b3261e", "width": 1.5},
            }
        )
        annotations.append(
            {
                "x": first,
                # Pivots close in time would print their labels over each other: each label
                # steps down a row from the last, cycling through LABEL_ROWS rows.
                "y": 1 - LABEL_STEP * (len(annotations) % LABEL_ROWS),
                "yanchor": "top",
                "xref": "x",
                "yref": "paper",
                "text": f"→ {safe_text(model, 30)}",
                "hovertext": note,
                "showarrow": False,
                "xanchor": "left",
                "font": {"color": "#b3261e"},
            }
        )
    fig = go.Figure(traces)
    fig.update_layout(
        chart_layout(
            f"Exchanges and output tokens per {bucket_label}, by model",
            "Look for volume that moves to a new model all at once (dashed line): a fleet "
            "pivots within hours of a release, customers drift over weeks.",
            "time (UTC)",
            "exchanges",
            barmode="stack",
            shapes=shapes,
            annotations=annotations,
            yaxis2={
                "title": {"text": "output tokens"},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
            },
            legend={"orientation": "h", "y": -0.15},
            hovermode="x unified",
            margin={"l": 60, "r": 80, "t": 48, "b": 48},
        )
    )
    return fig


def registrations_figure(
    bucket_starts: list[str],
    counts_by_plan: dict[str, list[int]],
    *,
    bursts: list[dict] | None = None,
    bucket_label: str = "day",
    outside: dict | None = None,
) -> go.Figure:
    """Registrations per bucket, stacked by plan, with bursts shaded.

    The buckets cover where most registrations fall; ``outside`` counts those left out
    (``before``, ``after``, with the ``earliest`` and ``latest`` times), and the chart says so
    rather than stretching its axis over months of nothing to reach them."""
    traces = []
    for i, (plan, values) in enumerate(sorted(counts_by_plan.items())):
        name = safe_text(plan or "no plan", 30)
        traces.append(
            go.Bar(
                x=list(bucket_starts),
                y=list(values),
                name=name,
                marker={"color": CAMPAIGN_COLOURS[i % len(CAMPAIGN_COLOURS)]},
                hovertemplate=f"{name}<br>%{{x}}<br>%{{y}} accounts registered<extra></extra>",
            )
        )
    shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": b["start"],
            "x1": b["end"],
            "y0": 0,
            "y1": 1,
            "fillcolor": "rgba(179,38,30,0.15)",
            "line": {"width": 0},
            "layer": "below",
        }
        for b in (bursts or [])
    ]
    burst_note = f"{len(bursts or [])} bursts shaded" if bursts else "no bursts"
    annotations = []
    notes = []
    for side, when in (("before", "earliest"), ("after", "latest")):
        n = int((outside or {}).get(side) or 0)
        if n:
            at = safe_text(str((outside or {}).get(when) or "")[:10], 12)
            notes.append(
                f"{n} registered {'earlier' if side == 'before' else 'later'} ({when} {at})"
            )
    if notes:
        annotations.append(
            {
                "text": "Not drawn: " + "; ".join(notes),
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 1,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": "#5b6570"},
            }
        )
    fig = go.Figure(traces)
    fig.update_layout(
        chart_layout(
            f"Registrations per {bucket_label}, by plan ({burst_note})",
            "Look for many accounts registered within minutes of each other (shaded): "
            "fleets are made in batches, customers sign up one by one.",
            "registration time (UTC)",
            "accounts registered",
            barmode="stack",
            shapes=shapes,
            annotations=annotations,
            legend={"orientation": "h", "y": -0.15},
            margin={"l": 60, "r": 20, "t": 64 if annotations else 48, "b": 48},
        )
    )
    return fig


@dataclass(frozen=True)
class Share:
    """A share (0..1) for the case's accounts and the typical value for it.

    ``value`` is the accounts' median, the figure the case's other sections show for the same
    signal; ``pooled`` marks a share of all the case's exchanges instead (tool use)."""

    name: str
    value: float
    norm: float | None = None
    threshold: float | None = None
    accounts: int = 0
    pooled: bool = False


def shares_figure(shares: list[Share]) -> go.Figure:
    labels = [safe_text(signal_label(s.name), 48) for s in shares]
    pct = [round(100 * s.value, 1) for s in shares]
    norm = [round(100 * s.norm, 1) if s.norm is not None else None for s in shares]
    hover = [
        f"{label}<br>this case: {p}% "
        + (
            f"(all exchanges of {s.accounts} accounts)"
            if s.pooled
            else f"(median of {s.accounts} accounts)"
        )
        + (f"<br>typical for their plans: {n}%" if n is not None else "")
        + (f"<br>flag threshold: {round(100 * s.threshold, 1)}%" if s.threshold else "")
        for label, p, n, s in zip(labels, pct, norm, shares, strict=True)
    ]
    fig = go.Figure(
        [
            go.Bar(
                y=labels,
                x=pct,
                orientation="h",
                name="this case",
                marker={"color": "#b3261e"},
                text=hover,
                hovertemplate="%{text}<extra></extra>",
            ),
            go.Bar(
                y=labels,
                x=norm,
                orientation="h",
                name="typical for their plans",
                marker={"color": "#8d96a0"},
                text=hover,
                hovertemplate="%{text}<extra></extra>",
                textposition="none",
            ),
        ]
    )
    fig.update_traces(textposition="none")
    fig.update_layout(
        chart_layout(
            "Reasoning, tool use and capability shares against the typical",
            "Look for bars far longer than the grey typical one: a fleet concentrates on what is "
            "worth distilling (step-by-step reasoning, coding, tool use).",
            "share of exchanges (%)",
            "",
            barmode="group",
            height=max(260, 90 + 46 * len(shares)),
            margin={"l": 200, "r": 20, "t": 48, "b": 48},
            legend={"orientation": "h", "y": -0.2},
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig
