"""The account network: accounts linked through the things they share."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

import igraph
import numpy as np
import plotly.graph_objects as go

from detection.charts.base import (
    CAMPAIGN_COLOURS,
    KEY_KIND_LABELS,
    KEY_KIND_STYLES,
    chart_layout,
    safe_text,
)

# Risk from low to high on one sequential scale, for accounts and groups alike.
RISK_SCALE = "YlOrRd"


@dataclass(frozen=True)
class NetAccount:
    account_id: str
    risk: float = 0.0
    campaign: str = ""


@dataclass(frozen=True)
class SharedKey:
    """Something several accounts share: an IP, ASN, user agent, payment fingerprint, ..."""

    kind: str
    value: str
    note: str = ""  # e.g. "hosting" for an ASN in a hosting range


@contextmanager
def _seeded(seed: int = 7):
    """igraph's layouts and communities draw random numbers: seed them, so a snapshot's
    figure is the same every time it is computed from the same evidence."""
    igraph.set_random_number_generator(random.Random(seed))
    try:
        yield
    finally:
        igraph.set_random_number_generator(random)


def _positions(n_nodes: int, edges: list[tuple[int, int]], weights: list[float]) -> np.ndarray:
    """Force layout computed on the server with igraph, deterministic for the same input."""
    if n_nodes == 0:
        return np.zeros((0, 2))
    graph = igraph.Graph(n=n_nodes, edges=edges)
    seed = np.random.default_rng(7).random((n_nodes, 2)).tolist()
    niter = 500 if n_nodes <= 1500 else 200
    with _seeded():
        layout = graph.layout_fruchterman_reingold(
            weights=weights or None, seed=seed, niter=niter, grid="auto"
        )
    coords = np.asarray(layout.coords, dtype=float)
    span = np.ptp(coords, axis=0)
    span[span == 0] = 1
    return np.round((coords - coords.min(axis=0)) / span, 4)


def _edge_trace(pos: np.ndarray, edges: list[tuple[int, int]]):
    xs: list[float | None] = []
    ys: list[float | None] = []
    for a, b in edges:
        xs += [float(pos[a, 0]), float(pos[b, 0]), None]
        ys += [float(pos[a, 1]), float(pos[b, 1]), None]
    return go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        line={"width": 0.6, "color": "rgba(90,100,115,0.35)"},
        hoverinfo="skip",
        name="shared link",
        showlegend=False,
    )


def _key_label(key: SharedKey) -> str:
    kind = KEY_KIND_LABELS.get(key.kind, key.kind)
    note = f" ({safe_text(key.note, 20)})" if key.note else ""
    return f"{safe_text(kind, 30)}: {safe_text(key.value, 60)}{note}"


def network_figure(
    accounts: list[NetAccount],
    keys: list[SharedKey],
    memberships: list[tuple[int, int]],
    *,
    summarise_above: int = 400,
    links_above: int = 8_000,
    account_urls: list[str | None] | None = None,
    key_urls: list[str | None] | None = None,
) -> go.Figure:
    """Accounts linked through what they share, as a bipartite account-thing graph.

    Small fleets draw each account as a circle filled by its risk (a sequential scale with
    its colour bar; with several campaigns, a ring in each campaign's colour tells them apart)
    and each shared thing in its kind's shape; an account's links go to the things it uses.
    Above ``summarise_above`` accounts, or ``links_above`` account-thing links (a few hundred
    accounts each using hundreds of shared addresses and templates would be tens of thousands
    of lines, megabytes to send and seconds to draw), accounts are grouped into communities of
    the same graph (igraph's multilevel modularity) and each group is one node sized by its
    members, so a 3,000-account fleet is a few dozen nodes. Links are never drawn pairwise
    between accounts: one IP shared by thousands of accounts would be millions of links.

    Every trace is SVG (``Scatter``): the page's plotly.js is the cartesian bundle, which has
    no WebGL traces. What stays light enough for SVG is at most ``links_above`` lines: when
    the groups still have more links to what they share (a few hundred groups each using
    the same popular ASNs and clients), only the ``links_above`` that the most accounts
    share are drawn, each node stays where the whole graph put it, and the caption says how
    many lighter links were left out.

    Each kind of shared thing has its own shape and colour and legend entry
    (``KEY_KIND_STYLES``). ``account_urls`` and ``key_urls`` (parallel to ``accounts`` and
    ``keys``) become each node's ``customdata``: the page opens it when the node is clicked.
    """
    n_acc = len(accounts)
    used_keys = sorted({k for _, k in memberships if 0 <= k < len(keys)})
    members_of: dict[int, set[int]] = defaultdict(set)
    for a, k in memberships:
        if 0 <= a < n_acc and 0 <= k < len(keys):
            members_of[k].add(a)
    links = sum(len(members) for members in members_of.values())
    summarised = n_acc > summarise_above or links > links_above

    groups = _account_groups(n_acc, members_of) if summarised else [[i] for i in range(n_acc)]
    group_of = {a: g for g, members in enumerate(groups) for a in members}

    # Nodes: groups (or accounts) first, then the shared things.
    key_node = {k: len(groups) + i for i, k in enumerate(used_keys)}
    edge_weight: Counter = Counter()
    for k, members in members_of.items():
        for a in members:
            edge_weight[(group_of[a], key_node[k])] += 1
    edges = list(edge_weight)
    weights = [float(np.log1p(w)) for w in edge_weight.values()]
    pos = _positions(len(groups) + len(used_keys), edges, weights)
    heaviest = set(sorted(edges, key=lambda e: (-edge_weight[e], e))[:links_above])
    drawn = [e for e in edges if e in heaviest]

    traces = [_edge_trace(pos, drawn)]
    by_kind: dict[str, list[int]] = defaultdict(list)
    for k in used_keys:
        by_kind[keys[k].kind].append(k)
    for kind in sorted(by_kind, key=lambda k: (k not in KEY_KIND_STYLES, k)):
        members = by_kind[kind]
        symbol, colour = KEY_KIND_STYLES.get(kind, ("cross", "#6f6f6f"))
        xy = pos[[key_node[k] for k in members]]
        trace = go.Scatter(
            x=xy[:, 0].tolist(),
            y=xy[:, 1].tolist(),
            mode="markers",
            marker={
                "symbol": symbol,
                "size": 11,
                "color": colour,
                "line": {"width": 1, "color": "#fff"},
            },
            text=[
                f"{_key_label(keys[k])}<br>{len(members_of[k])} accounts in this case"
                + ("<br>click: every account sharing it" if key_urls and key_urls[k] else "")
                for k in members
            ],
            hovertemplate="%{text}<extra></extra>",
            name=f"{safe_text(KEY_KIND_LABELS.get(kind, kind), 30)} ({len(members)})",
        )
        if key_urls:
            trace.customdata = [key_urls[k] for k in members]
        traces.append(trace)
    campaigns = sorted({a.campaign for a in accounts if a.campaign})
    by_campaign = len(campaigns) > 1
    if summarised:
        traces += _group_traces(accounts, groups, pos, members_of, keys)
    elif by_campaign:
        for i, label in enumerate(campaigns + [""]):
            idx = [j for j, a in enumerate(accounts) if a.campaign == label]
            if idx:
                traces.append(_account_trace(accounts, idx, pos, label, i, account_urls))
    else:
        traces.append(_account_trace(accounts, list(range(n_acc)), pos, None, 0, account_urls))

    shown = f"{len(groups)} groups of {n_acc} accounts" if summarised else f"{n_acc} accounts"
    caption = (
        "Look for dense clusters of accounts (circles) hanging off the same addresses, "
        "ASNs, cards or templates (each its own shape): unrelated customers rarely share "
        "them. Click a node to open its account, or the accounts sharing that thing."
    )
    if summarised:
        caption += (
            f" With more than {summarise_above:,} accounts or {links_above:,} links, accounts "
            "are drawn as groups: each circle is accounts that share the same things, sized by "
            "how many; hover for what they share."
        )
    if len(drawn) < len(edges):
        caption += (
            f" Only the {len(drawn):,} links of {len(edges):,} that the most accounts share "
            "are drawn."
        )
    fig = go.Figure(traces)
    fig.update_layout(
        chart_layout(
            f"Account network: {shown}, {len(used_keys)} shared things",
            caption,
            # No axis titles: positions are a layout with no units, and at phone widths an x
            # title printed over the legend below it.
            "",
            "",
            height=520,
            showlegend=True,
            legend={"orientation": "h", "y": -0.08},
        )
    )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    return fig


def _account_groups(n_acc: int, members_of: dict[int, set[int]]) -> list[list[int]]:
    """Communities of the account-thing graph; accounts sharing nothing form one group."""
    key_ids = sorted(members_of)
    offset = {k: n_acc + i for i, k in enumerate(key_ids)}
    edges = [(a, offset[k]) for k in key_ids for a in members_of[k]]
    graph = igraph.Graph(n=n_acc + len(key_ids), edges=edges)
    with _seeded():
        membership = graph.community_multilevel().membership if edges else [0] * graph.vcount()
    linked = {a for members in members_of.values() for a in members}
    by_comm: dict[int, list[int]] = defaultdict(list)
    lonely: list[int] = []
    for a in range(n_acc):
        (by_comm[membership[a]] if a in linked else lonely).append(a)
    groups = sorted(by_comm.values(), key=len, reverse=True)
    return groups + ([lonely] if lonely else [])


def _account_trace(accounts, idx, pos, campaign, ring_index, urls=None):
    """Accounts as circles filled by risk on one sequential scale (its colour bar drawn once,
    with the first trace). With several campaigns each is a trace of its own, told apart by
    the colour of the ring round its circles and named in the legend."""
    risk = [round(float(accounts[j].risk), 3) for j in idx]
    hover = [
        f"account {safe_text(accounts[j].account_id, 60)}<br>risk {accounts[j].risk:.2f}"
        + (f"<br>campaign {safe_text(accounts[j].campaign, 60)}" if accounts[j].campaign else "")
        for j in idx
    ]
    marker = {
        "size": 9 if campaign is None else 10,
        "color": risk,
        "colorscale": RISK_SCALE,
        "cmin": 0,
        "cmax": 1,
        "showscale": ring_index == 0,
        "line": {"width": 0.5, "color": "#333"},
    }
    if ring_index == 0:
        marker["colorbar"] = {"title": {"text": "risk"}, "thickness": 12}
    if campaign is None:
        name = "accounts (colour: risk)"
    else:
        marker["line"] = {"width": 2, "color": CAMPAIGN_COLOURS[ring_index % len(CAMPAIGN_COLOURS)]}
        name = (safe_text(campaign, 40) if campaign else "no campaign") + " (ring; fill: risk)"
    trace = go.Scatter(
        x=pos[idx, 0].tolist(),
        y=pos[idx, 1].tolist(),
        mode="markers",
        marker={**marker, "symbol": "circle"},
        text=hover,
        hovertemplate="%{text}<extra></extra>",
        name=name,
    )
    if urls:
        trace.customdata = [urls[j] for j in idx]
    return trace


def _group_traces(accounts, groups, pos, members_of, keys):
    n = len(groups)
    sizes, colours, hover = [], [], []
    keys_of: dict[int, list[int]] = defaultdict(list)
    for k, members in members_of.items():
        for a in members:
            keys_of[a].append(k)
    for members in groups:
        risk = float(np.mean([accounts[a].risk for a in members]))
        shared = Counter(k for a in members for k in keys_of[a]).most_common(4)
        campaigns = Counter(accounts[a].campaign for a in members if accounts[a].campaign)
        lines = [f"{len(members)} accounts, mean risk {risk:.2f}"]
        if campaigns:
            lines.append(f"campaign {safe_text(campaigns.most_common(1)[0][0], 60)}")
        lines += [f"{_key_label(keys[k])} (x{c})" for k, c in shared]
        if not shared:
            lines.append("share nothing with the rest of the case")
        hover.append("<br>".join(lines))
        sizes.append(round(8 + 4 * float(np.sqrt(len(members))), 1))
        colours.append(round(risk, 3))
    return [
        go.Scatter(
            x=pos[:n, 0].tolist(),
            y=pos[:n, 1].tolist(),
            mode="markers",
            marker={
                "size": sizes,
                "color": colours,
                "colorscale": RISK_SCALE,
                "cmin": 0,
                "cmax": 1,
                "colorbar": {"title": {"text": "mean risk"}, "thickness": 12},
                "line": {"width": 0.5, "color": "#333"},
            },
            text=hover,
            hovertemplate="%{text}<extra></extra>",
            name="groups of accounts (size: members)",
        )
    ]
