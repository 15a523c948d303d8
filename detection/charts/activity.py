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
    first_active = np.where(matrix > 0, np.arange(m), m).min(axis=1) if m else np.zeros(n)
    return shift_order_from(
        matrix.sum(axis=1),
        (matrix * np.cos(angle)).sum(axis=1),
        (matrix * np.sin(angle)).sum(axis=1),
        first_active,
    )


def shift_order_from(
    totals: np.ndarray, cos_sums: np.ndarray, sin_sums: np.ndarray, first_active: np.ndarray
) -> np.ndarray:
    """``shift_order`` from each account's sums alone: its activity, the cosine and sine of
    its activity's hours of day summed (weighted by activity), and its first active bucket.
    These are a few numbers per account, so a database can sum them over any traffic."""
    n = len(totals)
    if n == 0:
        return np.zeros(0, dtype=int)
    totals = np.asarray(totals, dtype=float)
    safe = np.where(totals > 0, totals, 1)
    c = np.asarray(cos_sums, dtype=float) / safe
    s = np.asarray(sin_sums, dtype=float) / safe
    strength = np.hypot(c, s)
    phase = (np.degrees(np.arctan2(s, c)) % 360) / 15  # in hours, 0..24
    phase_bin = np.where(strength >= ROUND_THE_CLOCK_R, np.round(phase), 99)
    # lexsort: last key is primary.
    return np.lexsort((-totals, np.asarray(first_active), phase_bin))


def band_rows(n: int, max_rows: int = 150) -> list[list[int]]:
    """Positions (in shift order) of the accounts in each heatmap row: one account a row up
    to ``max_rows`` accounts, else ``max_rows`` consecutive groups of near-equal size."""
    if n <= max_rows:
        return [[i] for i in range(n)]
    return [chunk.tolist() for chunk in np.array_split(np.arange(n), max_rows)]


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
    bands = band_rows(n, max_rows)
    rows = [ordered[chunk].mean(axis=0) for chunk in bands]
    z = np.vstack(rows) if rows else np.zeros((0, matrix.shape[1]))
    return activity_bands_ordered(z, [account_ids[i] for i in order], bands)


def activity_bands_ordered(
    rows: np.ndarray, ordered_ids: list[str], bands: list[list[int]]
) -> ActivityBands:
    """The heatmap's rows from their values (mean exchanges per account of each band, in
    shift order), the account ids in that order, and each band's positions (``band_rows``)."""
    rows = np.asarray(rows, dtype=float).reshape(len(bands), -1) if bands else np.zeros((0, 0))
    n = len(ordered_ids)
    z = np.round(rows, 1)
    if all(len(chunk) == 1 for chunk in bands):
        labels = [safe_text(a, 32) for a in ordered_ids]
        if len(set(labels)) < len(labels):
            labels = [f"{i + 1}. {label}" for i, label in enumerate(labels)]
        return ActivityBands(labels, [1] * n, z.tolist(), n)
    labels = []
    for i, chunk in enumerate(bands):
        first, last = ordered_ids[chunk[0]], ordered_ids[chunk[-1]]
        labels.append(f"{i + 1}. {safe_text(first, 20)} … {safe_text(last, 20)} ({len(chunk)})")
    return ActivityBands(labels, [len(c) for c in bands], z.tolist(), n)


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
