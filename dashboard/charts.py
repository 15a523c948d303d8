"""Plotly figures for the overview. Pure: plain numbers in, a ``go.Figure`` out.

Each figure carries its caption in ``layout.meta.caption`` (the template prints it under
the chart) and, per bar, the queue URL of what that bar counts in ``customdata``, so the
numbers in the table beside each chart and the bars themselves lead to the same cases.
Campaign labels go through ``safe_text``: Plotly renders labels as HTML-like markup.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from detection.charts.base import FONT, safe_text

PRIORITY_COLOURS = {1: "#b3261e", 2: "#d1741d", 3: "#1d5fd1", 4: "#8c96a3"}
OPENED = "#1d5fd1"
CLOSED = "#1e7a3c"


def _layout(fig: go.Figure, *, title: str, caption: str, height: int = 300) -> go.Figure:
    fig.update_layout(
        # The page's heading names the chart; the title stays in meta for the PDF/alt text.
        font=FONT,
        height=height,
        margin={"l": 50, "r": 20, "t": 16, "b": 40},
        plot_bgcolor="#fff",
        paper_bgcolor="#fff",
        legend={"orientation": "h", "y": -0.2, "traceorder": "normal"},
        meta={"caption": caption, "title": title},
        bargap=0.25,
    )
    fig.update_yaxes(gridcolor="#e6e9ee", rangemode="tozero")
    return fig


def open_by_status_priority(
    statuses: Sequence[tuple[str, str]],
    priorities: Sequence[tuple[int, str]],
    counts: dict[tuple[str, int], int],
    urls: dict[tuple[str, int], str],
) -> go.Figure:
    """Open cases per status, stacked by priority."""
    labels = [label for _, label in statuses]
    fig = go.Figure()
    for priority, p_label in priorities:
        fig.add_bar(
            name=p_label,
            x=labels,
            y=[counts.get((status, priority), 0) for status, _ in statuses],
            customdata=[urls.get((status, priority), "") for status, _ in statuses],
            marker_color=PRIORITY_COLOURS.get(priority, "#6f6f6f"),
            hovertemplate="%{x}, " + p_label + ": %{y} cases<extra></extra>",
        )
    fig.update_layout(barmode="stack")
    return _layout(
        fig,
        title="Open cases by status and priority",
        caption="Where the open work sits: a tall 'New' or 'Triage' bar is untouched work; "
        "red is P1. Click a bar to open those cases in the queue.",
    )


def weekly_flow(
    weeks: Sequence[str],
    opened: Sequence[int],
    closed: Sequence[int],
    opened_urls: Sequence[str],
    closed_urls: Sequence[str],
) -> go.Figure:
    """Cases opened and decided per week."""
    fig = go.Figure()
    fig.add_bar(
        name="opened",
        x=list(weeks),
        y=list(opened),
        customdata=list(opened_urls),
        marker_color=OPENED,
        hovertemplate="week of %{x}: %{y} opened<extra></extra>",
    )
    fig.add_bar(
        name="closed",
        x=list(weeks),
        y=list(closed),
        customdata=list(closed_urls),
        marker_color=CLOSED,
        hovertemplate="week of %{x}: %{y} closed<extra></extra>",
    )
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category", title_text="week starting")
    return _layout(
        fig,
        title="Cases opened and closed per week",
        caption="Blue above green week after week means the backlog is growing; "
        "closed counts actioned and dismissed cases by the day of the decision.",
    )


def backlog_age(labels: Sequence[str], counts: Sequence[int], urls: Sequence[str]) -> go.Figure:
    """Open cases by how long ago they were opened."""
    fig = go.Figure(
        go.Bar(
            x=list(labels),
            y=list(counts),
            customdata=list(urls),
            marker_color=["#1d5fd1", "#b28600", "#d1741d", "#b3261e"][: len(labels)],
            hovertemplate="opened %{x} ago: %{y} open cases<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", title_text="opened")
    return _layout(
        fig,
        title="Age of the open backlog",
        caption="Open cases by how long ago they were opened: past one week a case has "
        "outlived the P1 to P3 deadlines, past two weeks every priority's.",
        height=260,
    )


def campaign_share(
    labels: Sequence[str], shares: Sequence[float], accounts: Sequence[int], urls: Sequence[str]
) -> go.Figure:
    """Active campaigns by share of all traffic."""
    names = [safe_text(label, 40) for label in labels]
    fig = go.Figure(
        go.Bar(
            x=[s * 100 for s in shares],
            y=names,
            orientation="h",
            customdata=list(urls),
            text=[f"{n:,} accounts" for n in accounts],
            textposition="auto",
            marker_color="#8a3ffc",
            hovertemplate="%{y}: %{x:.2f}% of traffic, %{text}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text="% of all exchanges", ticksuffix="%")
    return _layout(
        fig,
        title="Active campaigns by share of traffic",
        caption="The share of all exchanges in the detection window that each campaign's "
        "cases account for; a few points here is a large distillation effort.",
        height=max(220, 60 + 28 * len(names)),
    )


PREVIOUS = "#8c96a3"


def period_against_previous(
    labels: Sequence[str],
    now: Sequence[int],
    before: Sequence[int],
    urls: Sequence[str],
    *,
    period: str,
    previous: str,
) -> go.Figure:
    """The period report's counts beside the previous period's."""
    fig = go.Figure()
    fig.add_bar(
        name=previous,
        x=list(labels),
        y=list(before),
        marker_color=PREVIOUS,
        hovertemplate="%{x}: %{y} in " + previous + "<extra></extra>",
    )
    fig.add_bar(
        name=period,
        x=list(labels),
        y=list(now),
        customdata=list(urls),
        marker_color=OPENED,
        hovertemplate="%{x}: %{y} in " + period + "<extra></extra>",
    )
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    return _layout(
        fig,
        title="This period against the previous one",
        caption="Blue is this period, grey the same number of days before it. Click a blue "
        "bar to open the cases it counts.",
    )


def campaign_requests(
    labels: Sequence[str], requests: Sequence[int], urls: Sequence[str]
) -> go.Figure:
    """The period's largest campaigns by the requests their accounts made."""
    names = [safe_text(label, 40) for label in labels]
    fig = go.Figure(
        go.Bar(
            x=list(requests),
            y=names,
            orientation="h",
            customdata=list(urls),
            marker_color="#8a3ffc",
            hovertemplate="%{y}: %{x:,} requests<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text="requests (exchanges)")
    return _layout(
        fig,
        title="Largest campaigns by requests",
        caption="The campaigns found or stopped in the period with the most traffic; click a "
        "bar to open the case.",
        height=max(220, 60 + 28 * len(names)),
    )


def shadow_trend(
    dates: Sequence[str],
    series: dict[str, Sequence[float | None]],
    changes: dict[str, Sequence[int]],
    urls: Sequence[str],
) -> go.Figure:
    """A draft in shadow, run by run: each version's precision and recall against the labels
    (lines, left axis) and how many accounts the draft would newly flag or stop flagging
    (bars, right axis). Each point and bar carries the URL of that run's comparison."""
    fig = go.Figure()
    bar_colours = {"newly flagged": "#d1741d", "no longer flagged": "#8c96a3"}
    for name, counts in changes.items():
        fig.add_bar(
            name=name,
            x=list(dates),
            y=list(counts),
            yaxis="y2",
            customdata=list(urls),
            marker_color=bar_colours.get(name, PREVIOUS),
            opacity=0.45,
            hovertemplate="%{x}: %{y} accounts " + name + "<extra></extra>",
        )
    for name, values in series.items():
        fig.add_scatter(
            name=name,
            x=list(dates),
            y=list(values),
            mode="lines+markers",
            customdata=list(urls),
            line={
                "color": OPENED if "precision" in name else CLOSED,
                "dash": "dot" if "in force" in name else "solid",
            },
            connectgaps=False,
            hovertemplate="%{x}: " + name + " %{y:.3f}<extra></extra>",
        )
    fig.update_xaxes(type="category")
    fig.update_layout(
        yaxis={"range": [0, 1.05], "title": {"text": "precision, recall"}},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "title": {"text": "accounts"},
        },
    )
    return _layout(
        fig,
        title="The draft in shadow, run by run",
        caption="Solid lines are the draft, dotted the version in force (blue precision, green "
        "recall); bars count the accounts the draft would newly flag or stop flagging. Click a "
        "point or bar to open that run's comparison.",
    )
