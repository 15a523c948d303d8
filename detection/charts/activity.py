"""The activity heatmap: accounts by time, ordered so synchronised shifts show as bands."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from detection.charts.base import chart_layout, safe_text

# Below this mean resultant length an account's daily rhythm has no clear phase: it is busy
# around the clock (or barely active), and those accounts are put together at the bottom.
ROUND_THE_CLOCK_R = 0.25


@dataclass(frozen=True)
class ActivityBands:
    """Rows of the heatmap: single accounts, or consecutive groups of ordered accounts."""

    labels: list[str]  # escaped, unique
    sizes: list[int]  # accounts per row
    z: list[list[float]]  # mean exchanges per account per bucket
    n_accounts: int

    def as_dict(self) -> dict:
        return {
            "labels": self.labels,
            "sizes": self.sizes,
            "z": self.z,
            "n_accounts": self.n_accounts,
        }


def shift_order(matrix: np.ndarray, first_hour: float, bucket_hours: float) -> np.ndarray:
    """Row order that puts accounts with the same daily shift next to each other.

    Each account's activity is folded onto the 24-hour clock; the circular mean gives its
    shift's phase. Sorting by phase, then by when the account first became active, turns a
    fleet working synchronised shifts into bands. Accounts with no clear rhythm (busy round
    the clock) go last, together.
    """
    n, m = matrix.shape
    if n == 0:
        return np.zeros(0, dtype=int)
    hours = (first_hour + np.arange(m) * bucket_hours) % 24
    angle = hours / 24 * 2 * np.pi
    totals = matrix.sum(axis=1)
    safe = np.where(totals > 0, totals, 1)
    c = (matrix * np.cos(angle)).sum(axis=1) / safe
    s = (matrix * np.sin(angle)).sum(axis=1) / safe
    strength = np.hypot(c, s)
    phase = (np.degrees(np.arctan2(s, c)) % 360) / 15  # in hours, 0..24
    phase_bin = np.where(strength >= ROUND_THE_CLOCK_R, np.round(phase), 99)
    first_active = np.where(matrix > 0, np.arange(m), m).min(axis=1) if m else np.zeros(n)
    # lexsort: last key is primary.
    return np.lexsort((-totals, first_active, phase_bin))


def activity_bands(
    matrix: np.ndarray,
    account_ids: list[str],
    *,
    first_hour: float = 0.0,
    bucket_hours: float = 1.0,
    max_rows: int = 150,
) -> ActivityBands:
    """Order accounts by shift and, above ``max_rows``, average consecutive ones into bands."""
    matrix = np.asarray(matrix, dtype=float)
    n = matrix.shape[0]
    order = shift_order(matrix, first_hour, bucket_hours)
    ordered = matrix[order]
    ids = [account_ids[i] for i in order]
    if n <= max_rows:
        labels = [safe_text(a, 32) for a in ids]
        if len(set(labels)) < len(labels):
            labels = [f"{i + 1}. {label}" for i, label in enumerate(labels)]
        z = np.round(ordered, 1)
        return ActivityBands(labels, [1] * n, z.tolist(), n)
    chunks = np.array_split(np.arange(n), max_rows)
    labels, sizes, rows = [], [], []
    for i, chunk in enumerate(chunks):
        first, last = ids[chunk[0]], ids[chunk[-1]]
        labels.append(f"{i + 1}. {safe_text(first, 20)} … {safe_text(last, 20)} ({len(chunk)})")
        sizes.append(len(chunk))
        rows.append(ordered[chunk].mean(axis=0))
    z = np.round(np.vstack(rows), 1) if rows else np.zeros((0, matrix.shape[1]))
    return ActivityBands(labels, sizes, z.tolist(), n)


def activity_heatmap_figure(
    bands: ActivityBands, bucket_starts: list[str], *, bucket_hours: float = 1.0
) -> go.Figure:
    grouped = any(size > 1 for size in bands.sizes)
    unit = "mean exchanges per account" if grouped else "exchanges"
    # Row labels are the y categories, so the hover names the row without per-cell data.
    fig = go.Figure(
        go.Heatmap(
            x=list(bucket_starts),
            y=list(bands.labels),
            z=bands.z,
            colorscale="Blues",
            colorbar={"title": {"text": unit}, "thickness": 12},
            hovertemplate="%{y}<br>%{x}<br>%{z} " + unit + "<extra></extra>",
            zmin=0,
        )
    )
    if grouped:
        rows = f"{len(bands.labels)} bands of {bands.n_accounts} accounts"
    else:
        rows = f"{bands.n_accounts} accounts"
    fig.update_layout(
        chart_layout(
            f"Activity by {bucket_hours:g}-hour bucket: {rows}",
            "Look for horizontal bands that switch on and off together: a fleet working "
            "synchronised shifts; people keep their own hours.",
            "time (UTC)",
            "accounts, ordered by daily shift" + (" (grouped)" if grouped else ""),
            height=min(760, 220 + 6 * len(bands.labels)),
            margin={"l": 200, "r": 20, "t": 48, "b": 48},
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    return fig
