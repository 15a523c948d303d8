"""Risk scores, explanations and flags from signals: plain arrays in, plain results out.

Each signal's strength is 0 below its threshold and rises from 0.5 at the threshold to 1 at
its saturation; its contribution is ``weight x strength``; the account's risk is the noisy OR
of the contributions, ``1 - prod(1 - c)``: independent pieces of evidence add up, and none
reaches certainty alone. Weights, thresholds and saturations come from the configuration.

Flags need more than a score (see ``decide``): a campaign member is flagged through its
campaign (a community of unrelated accounts with a high median risk and at least two kinds of
shared evidence); a lone account needs a high risk *and* signals from several families.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detection.signals import COORDINATION, Signal


@dataclass
class Scores:
    signals: list[Signal]
    thresholds: np.ndarray  # (S,)
    strengths: np.ndarray  # (n, S)
    contributions: np.ndarray  # (n, S)
    risk: np.ndarray  # (n,)
    families: np.ndarray  # (n,) number of families with a signal over threshold
    behaviour: np.ndarray  # (n,) bool: a content, volume or rhythm signal over threshold


def strength(value: np.ndarray, threshold: float, saturation: float) -> np.ndarray:
    """0 below ``threshold``; 0.5 at it, rising linearly to 1 at ``saturation``."""
    value = np.nan_to_num(np.asarray(value, dtype=float))
    span = max(saturation - threshold, 1e-9)
    ramp = 0.5 + 0.5 * np.clip((value - threshold) / span, 0, 1)
    return np.where(value >= threshold, ramp, 0.0)


def score(signals: list[Signal], params: dict) -> Scores:
    specs = params["signals"]
    n = len(signals[0].value) if signals else 0
    strengths = np.zeros((n, len(signals)))
    weights = np.zeros(len(signals))
    thresholds = np.zeros(len(signals))
    for j, sig in enumerate(signals):
        spec = specs.get(sig.name, {})
        thresholds[j] = float(spec.get("threshold", 0))
        weights[j] = float(spec.get("weight", 0))
        strengths[:, j] = strength(sig.value, thresholds[j], float(spec.get("saturation", 1)))
    contributions = strengths * weights
    risk = 1 - np.prod(1 - contributions, axis=1) if n else np.zeros(0)
    family_names = sorted({s.family for s in signals})
    hit = np.zeros((n, len(family_names)), dtype=bool)
    behaviour = np.zeros(n, dtype=bool)
    for j, sig in enumerate(signals):
        if weights[j] > 0:
            hit[:, family_names.index(sig.family)] |= strengths[:, j] > 0
            if sig.family != COORDINATION:
                behaviour |= strengths[:, j] > 0
    return Scores(signals, thresholds, strengths, contributions, risk, hit.sum(axis=1), behaviour)


def explain(scores: Scores, i: int, top: int = 6) -> list[dict]:
    """The account's contributing signals, strongest first, each with value and reason."""
    order = np.argsort(-scores.contributions[i], kind="stable")
    out = []
    for j in order[:top]:
        if scores.contributions[i, j] <= 0:
            break
        sig = scores.signals[j]
        out.append(
            {
                "name": sig.name,
                "family": sig.family,
                "value": round(float(sig.value[i]), 4),
                "threshold": float(scores.thresholds[j]),
                "norm": round(float(sig.norm[i]), 4),
                "contribution": round(float(scores.contributions[i, j]), 4),
                "reason": sig.explain(i),
            }
        )
    return out


# Link kinds that on their own show coordination (not just a common template or client).
STRONG = {"ip", "payment", "activity"}


@dataclass
class Decision:
    flagged: np.ndarray  # (n,) bool
    campaign_of: np.ndarray  # (n,) community index of a flagged campaign, or -1
    campaigns: dict[int, dict]  # community index -> {"members": [...], "risk", "evidence"}


def decide(
    scores: Scores,
    membership: np.ndarray,
    evidence_kinds: dict[int, set[str]],
    params: dict,
) -> Decision:
    """Flag campaigns and lone accounts.

    ``membership`` is each account's community index (-1 for none); ``evidence_kinds`` the
    kinds of link (ip, ua, payment, template, activity) found inside each community. A
    community becomes a campaign when it has ``campaign_min_accounts`` members, its median
    member risk reaches ``campaign_threshold`` and it holds at least two kinds of evidence
    (templates alone are what unrelated researchers running one public benchmark share), and
    at least ``campaign_min_behaviour_share`` of its members show a content, volume or rhythm
    signal (coordination alone is what strangers behind one VPN or NAT show).
    """
    n = len(scores.risk)
    flagged = np.zeros(n, dtype=bool)
    campaign_of = np.full(n, -1)
    campaigns: dict[int, dict] = {}
    for community in np.unique(membership[membership >= 0]):
        idx = np.flatnonzero(membership == community)
        if len(idx) < params["campaign_min_accounts"]:
            continue
        kinds = evidence_kinds.get(int(community), set())
        median = float(np.median(scores.risk[idx]))
        # Templates and client strings are shared by honest strangers too; a fleet also shares
        # addresses, cards or shifts.
        if median < params["campaign_threshold"] or len(kinds) < 2 or not kinds & STRONG:
            continue
        # Coordination alone is a shared network (a VPN's exits, a campus NAT), not a
        # distillation campaign: enough members must also behave like harvesters.
        if scores.behaviour[idx].mean() < params.get("campaign_min_behaviour_share", 0.5):
            continue
        # A member needs ``member_threshold``; one with no harvesting behaviour of its own
        # (only shared addresses, clients, popular prompts) needs ``campaign_threshold``.
        bar = np.where(
            scores.behaviour[idx], params["member_threshold"], params["campaign_threshold"]
        )
        members = idx[scores.risk[idx] >= bar]
        if len(members) < params["campaign_min_accounts"]:
            continue
        flagged[members] = True
        campaign_of[members] = community
        campaigns[int(community)] = {
            "members": members,
            "risk": float(np.mean(scores.risk[members])),
            "median_risk": median,
            "evidence": sorted(kinds),
        }
    lone = (
        (campaign_of < 0)
        & (scores.risk >= params["lone_threshold"])
        & (scores.families >= params["lone_min_families"])
    )
    flagged |= lone
    return Decision(flagged, campaign_of, campaigns)
