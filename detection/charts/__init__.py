"""Cluster charts: plain data in, a Plotly figure out. No models, no request.

Callers pass plain data (the dataclasses below) and get a figure back; whoever stores the
figures caches them, and the one initialiser in static/app.js draws them.
"""

from detection.charts.activity import (
    ActivityBands,
    activity_bands,
    activity_heatmap_figure,
    shift_order,
)
from detection.charts.base import safe_text
from detection.charts.network import NetAccount, SharedKey, network_figure
from detection.charts.series import Share, registrations_figure, shares_figure, volume_figure

__all__ = [
    "ActivityBands",
    "NetAccount",
    "Share",
    "SharedKey",
    "activity_bands",
    "activity_heatmap_figure",
    "network_figure",
    "registrations_figure",
    "safe_text",
    "shares_figure",
    "shift_order",
    "volume_figure",
]
