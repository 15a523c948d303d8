"""Small SVG charts for the PDF reports (case, overview, period), drawn on the server.
Pure: numbers in, SVG text out.

Why not Plotly's static export: kaleido (v1) drives a Chrome or Chromium, the system's or
one it downloads, so every web worker that makes a report would need a browser installed and
would start one per export, on servers that are often locked down to run no browser at all;
the figures a report needs are plain bar charts. WeasyPrint draws SVG natively, so these
stay vector in the PDF. Labels can come from telemetry (account ids, signal names, model
names): every string is XML-escaped here, and the report embeds the SVG as an ``<img>`` data
URI, never as markup.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"
BAR = "#1d5fd1"
ALT = "#d1491d"
GRID = "#d8dde3"
TEXT = "#1b1f24"
MUTED = "#5b6570"


def _clip(text: object, limit: int) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}"


def horizontal_bars(
    labels: Sequence[object],
    values: Sequence[float],
    *,
    title: str,
    width: int = 640,
    bar_height: int = 18,
    label_chars: int = 34,
) -> str:
    """One bar per label, longest first as given; the value printed at the end of each bar."""
    rows = list(zip(labels, values, strict=True))
    label_w = 230
    top = 28
    height = top + max(len(rows), 1) * (bar_height + 6) + 8
    span = max((abs(float(v)) for _, v in rows), default=0.0) or 1.0
    plot_w = width - label_w - 60
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT} font-size='11'>",
        f"<text x='0' y='14' font-size='12' font-weight='bold' fill='{TEXT}'>"
        f"{escape(_clip(title, 90))}</text>",
    ]
    if not rows:
        parts.append(f"<text x='0' y='{top + 12}' fill='{MUTED}'>No data.</text>")
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_height + 6)
        w = max(abs(float(value)) / span * plot_w, 1.0)
        parts.append(
            f"<text x='{label_w - 6}' y='{y + bar_height - 5}' text-anchor='end' fill='{TEXT}'>"
            f"{escape(_clip(label, label_chars))}</text>"
            f"<rect x='{label_w}' y='{y}' width='{w:.1f}' height='{bar_height}' fill='{BAR}'/>"
            f"<text x='{label_w + w + 4:.1f}' y='{y + bar_height - 5}' fill='{MUTED}'>"
            f"{escape(_number(float(value)))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def columns(
    labels: Sequence[object],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
    every: int | None = None,
) -> str:
    """Columns per label, one colour per series side by side, with a y axis and a legend.

    ``every`` labels only every n-th column on the x axis (long time series).
    """
    names = list(series)
    count = len(labels)
    left, right, top, bottom = 44, 10, 40, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((float(v) for values in series.values() for v in values), default=0.0) or 1.0
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT} font-size='10'>",
        f"<text x='0' y='14' font-size='12' font-weight='bold' fill='{TEXT}'>"
        f"{escape(_clip(title, 90))}</text>",
    ]
    for i, name in enumerate(names):
        colour = (BAR, ALT)[i % 2]
        x = left + i * 150
        parts.append(
            f"<rect x='{x}' y='20' width='10' height='10' fill='{colour}'/>"
            f"<text x='{x + 14}' y='29' fill='{TEXT}'>{escape(_clip(name, 24))}</text>"
        )
    for tick in (0, 0.5, 1):
        y = top + plot_h - tick * plot_h
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' stroke='{GRID}'/>"
            f"<text x='{left - 4}' y='{y + 3:.1f}' text-anchor='end' fill='{MUTED}'>"
            f"{escape(_number(peak * tick))}</text>"
        )
    if count:
        slot = plot_w / count
        bar_w = max(slot * 0.8 / max(len(names), 1), 0.5)
        step = every or max(1, count // 8)
        for j, label in enumerate(labels):
            for i, name in enumerate(names):
                value = float(series[name][j])
                h = value / peak * plot_h
                x = left + j * slot + slot * 0.1 + i * bar_w
                parts.append(
                    f"<rect x='{x:.1f}' y='{top + plot_h - h:.1f}' width='{bar_w:.1f}' "
                    f"height='{h:.1f}' fill='{(BAR, ALT)[i % 2]}'/>"
                )
            if j % step == 0:
                parts.append(
                    f"<text x='{left + j * slot + slot / 2:.1f}' y='{height - bottom + 14}' "
                    f"text-anchor='middle' fill='{MUTED}'>{escape(_clip(label, 12))}</text>"
                )
    else:
        parts.append(f"<text x='{left}' y='{top + 20}' fill='{MUTED}'>No data.</text>")
    parts.append("</svg>")
    return "".join(parts)


def data_uri(svg: str) -> str:
    """The SVG as a ``data:`` URI for an ``<img src>`` (the report never inlines markup)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
