"""Shared pieces of the chart builders: escaping, layout, colours.

Every builder gives its figure a title, axis labels, hover details and a one-line caption
(``layout.meta.caption``) saying what to look for. Telemetry strings (account ids, model
names, user agents, domains, org ids, prompts) are chosen by the accounts we investigate and
Plotly renders labels and hover text as HTML-like markup, so every such string goes through
:func:`safe_text` (truncate, then ``html.escape``) before it enters a figure; Plotly shows the
escaped entities as the original characters.

Sizes are bounded whatever the fleet: the network is summarised into groups above
``summarise_above`` accounts, the heatmap into at most ``max_rows`` bands, so the largest
campaign's figures stay well under 2 MB of JSON (see bench/evidence.py).
"""

from __future__ import annotations

import html

FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
CAMPAIGN_COLOURS = [
    "#1d5fd1", "#d1491d", "#1e7a3c", "#8a3ffc", "#b28600", "#007d79", "#da1e28", "#6f6f6f",
]  # fmt: skip
# How each kind of shared thing is drawn in the network: a shape and a colour of its own, so
# an address, an ASN, a card and a template never look alike (and the legend names each).
# Cool colours only: accounts are filled by risk on a yellow-to-red scale, and a red card or
# an orange template would read as a risky account.
KEY_KIND_STYLES = {
    "ip": ("square", "#007d79"),
    "asn": ("hexagon", "#8a3ffc"),
    "user_agent": ("triangle-up", "#5a6872"),
    "payment": ("star", "#0f62fe"),
    "org": ("pentagon", "#1e7a3c"),
    "template": ("diamond", "#1192e8"),
}
KEY_KIND_LABELS = {
    "ip": "IP",
    "asn": "ASN",
    "user_agent": "user agent",
    "payment": "payment fingerprint",
    "org": "organisation",
    "template": "prompt template",
}


def safe_text(value: object, limit: int = 80) -> str:
    """Truncate, then HTML-escape, a string that came from telemetry.

    ``<``, ``>`` and ``&`` become entities, so no tag (Plotly's ``<a href>``, ``<br>``,
    ``<span style>``) can be smuggled in. Quotes stay as they are: outside a tag they are
    harmless, and Plotly would show ``&quot;`` literally.
    """
    text = "" if value is None else str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def chart_layout(title: str, caption: str, x_title: str, y_title: str, **extra) -> dict:
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "font": FONT,
        "margin": {"l": 60, "r": 20, "t": 48, "b": 48},
        "height": 420,
        "hovermode": "closest",
        "meta": {"caption": caption},
        # No template: plotly.py would inline its default theme (~10 kB) into every figure.
        "template": None,
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        **extra,
    }
