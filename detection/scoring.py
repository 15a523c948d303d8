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
from typing import TYPE_CHECKING

import numpy as np

from detection.signals import COORDINATION, TARGETS, TIES, Signal

if TYPE_CHECKING:
    from detection.config import DetectionParams


@dataclass
class Scores:
    signals: list[Signal]
    thresholds: np.ndarray  # (S,)
    strengths: np.ndarray  # (n, S)
    contributions: np.ndarray  # (n, S)
    risk: np.ndarray  # (n,)
    families: np.ndarray  # (n,) number of families with a signal over threshold
    behaviour: np.ndarray  # (n,) bool: a content, volume or rhythm signal over threshold
    # (n,) families as for a lone account: coordination counts only with a tie (``TIES``)
    tied_families: np.ndarray


def strength(value: np.ndarray, threshold: float, saturation: float) -> np.ndarray:
    """0 below ``threshold``; 0.5 at it, rising linearly to 1 at ``saturation``."""
    value = np.nan_to_num(np.asarray(value, dtype=float))
    span = max(saturation - threshold, 1e-9)
    ramp = 0.5 + 0.5 * np.clip((value - threshold) / span, 0, 1)
    return np.where(value >= threshold, ramp, 0.0)


def score(signals: list[Signal], params: DetectionParams) -> Scores:
    """Strengths, contributions, risk and families per account.

    A signal whose *common* value (what three quarters of all accounts show, ``Signal.common``)
    already reaches the threshold is no evidence: when nearly everyone shares everyday prompts
    with strangers or sends a stock browser string, doing so says nothing.
    """
    n = len(signals[0].value) if signals else 0
    strengths = np.zeros((n, len(signals)))
    weights = np.zeros(len(signals))
    thresholds = np.zeros(len(signals))
    for j, sig in enumerate(signals):
        spec = params.signals.spec(sig.name)
        thresholds[j] = spec.threshold
        weights[j] = spec.weight
        typical = (
            np.zeros(n, dtype=bool)
            if sig.common is None
            else np.nan_to_num(np.asarray(sig.common, dtype=float)) >= thresholds[j]
        )
        strengths[:, j] = np.where(
            typical, 0.0, strength(sig.value, thresholds[j], spec.saturation)
        )
    contributions = strengths * weights
    risk = 1 - np.prod(1 - contributions, axis=1) if n else np.zeros(0)
    family_names = sorted({s.family for s in signals})
    hit = np.zeros((n, len(family_names)), dtype=bool)
    tied = np.zeros((n, len(family_names)), dtype=bool)
    behaviour = np.zeros(n, dtype=bool)
    for j, sig in enumerate(signals):
        if weights[j] > 0:
            on = strengths[:, j] > 0
            column = family_names.index(sig.family)
            hit[:, column] |= on
            if sig.family != COORDINATION or sig.name in TIES:
                tied[:, column] |= on
            if sig.family != COORDINATION:
                behaviour |= on
    return Scores(
        signals,
        thresholds,
        strengths,
        contributions,
        risk,
        hit.sum(axis=1),
        behaviour,
        tied.sum(axis=1),
    )


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


def community_rows(membership: np.ndarray) -> list[np.ndarray]:
    """Row indexes of each community (``membership`` >= 0), in one sort rather than one scan
    of every account per community."""
    order = np.argsort(membership, kind="stable")
    order = order[membership[order] >= 0]
    bounds = np.flatnonzero(np.diff(membership[order])) + 1
    return [rows for rows in np.split(order, bounds) if len(rows)]


def harvesting_organisations(
    behaviour: np.ndarray, rows: np.ndarray, organisation: np.ndarray
) -> tuple[int, int]:
    """(organisations among ``rows``, those with an account that shows harvesting behaviour)."""
    return len(np.unique(organisation[rows])), len(np.unique(organisation[rows[behaviour[rows]]]))


def campaign_signature(scores: Scores, harvesters: np.ndarray) -> np.ndarray:
    """What a campaign harvests: the signals of ``TARGETS`` (reasoning, capabilities) that at
    least half of its harvesting accounts show, as column indexes."""
    targets = [j for j, s in enumerate(scores.signals) if s.name in TARGETS]
    if not len(harvesters) or not targets:
        return np.zeros(0, dtype=int)
    share = (scores.strengths[np.ix_(harvesters, targets)] > 0).mean(axis=0)
    return np.asarray(targets, dtype=int)[share >= 0.5]


def decide(
    scores: Scores,
    membership: np.ndarray,
    evidence_kinds: dict[int, set[str]],
    params: DetectionParams,
    organisation: np.ndarray | None = None,
) -> Decision:
    """Flag campaigns and lone accounts.

    ``membership`` is each account's community index (-1 for none); ``evidence_kinds`` the
    kinds of link (ip, ua, payment, template, activity) found inside each community;
    ``organisation`` each account's organisation (``clustering.relatedness_groups``; by
    default every account is its own). A fleet is many *unrelated* accounts, so a community is
    counted in organisations: one customer's many keys are one customer, however alike they
    behave. A community becomes a campaign when

    - it spans ``campaign_min_accounts`` organisations and holds at least two kinds of
      evidence, one of them an address, a card or shifts (templates and client strings alone
      are what unrelated researchers running one public benchmark share);
    - at least ``campaign_min_behaviour_share`` of its organisations harvest (show a content,
      volume or rhythm signal): coordination alone is what strangers behind one VPN or NAT
      show;
    - the median risk of its harvesting accounts reaches ``campaign_threshold`` (bystanders
      that Leiden attached do not dilute it).

    Its members are the accounts at ``member_threshold`` that harvest; one with no harvesting
    behaviour of its own (a stranger on the fleet's proxy exits) needs ``campaign_threshold``.
    Not members at all: an account that harvests something other than the campaign does (it
    shows a ``TARGETS`` signal but none of the campaign's signature, those most of its
    harvesters show: a developer on the same phone carrier as a reasoning fleet), and an
    account of an organisation most of whose accounts are outside the community (a company's
    integration key on a cloud range a fleet also rents). The members must again span
    ``campaign_min_accounts`` organisations.
    """
    n = len(scores.risk)
    org = np.arange(n) if organisation is None else np.asarray(organisation)
    org_size = np.bincount(org)
    flagged = np.zeros(n, dtype=bool)
    campaign_of = np.full(n, -1)
    campaigns: dict[int, dict] = {}
    need = params.campaign_min_accounts
    for idx in community_rows(membership):
        community = membership[idx[0]]
        organisations, harvesting = harvesting_organisations(scores.behaviour, idx, org)
        if organisations < need:
            continue
        kinds = evidence_kinds.get(int(community), set())
        # Templates and client strings are shared by honest strangers too; a fleet also shares
        # addresses, cards or shifts.
        if len(kinds) < 2 or not kinds & STRONG:
            continue
        # Coordination alone is a shared network (a VPN's exits, a campus NAT), not a
        # distillation campaign: enough of its organisations must also behave like harvesters.
        if harvesting < params.campaign_min_behaviour_share * organisations:
            continue
        harvesters = idx[scores.behaviour[idx]]
        median = float(np.median(scores.risk[harvesters if len(harvesters) else idx]))
        if median < params.campaign_threshold:
            continue
        # An account that plainly harvests something else (a developer's coding agent beside a
        # reasoning fleet on the same phone carrier's addresses) is a bystander, however much
        # it shares with the fleet.
        signature = campaign_signature(scores, harvesters)
        targets = [j for j, sig in enumerate(scores.signals) if sig.name in TARGETS]
        elsewhere = np.zeros(len(idx), dtype=bool)
        if len(signature) and targets:
            elsewhere = (scores.strengths[np.ix_(idx, targets)] > 0).any(axis=1) & ~(
                scores.strengths[np.ix_(idx, signature)] > 0
            ).any(axis=1)
        alike = scores.behaviour[idx] & ~elsewhere
        # An organisation takes part as a whole: a key whose organisation's other keys are
        # mostly elsewhere is doing what that customer does (an integration on a cloud range
        # a fleet also rents), not what the fleet does.
        _, local, inside = np.unique(org[idx], return_inverse=True, return_counts=True)
        whole = inside[local] * 2 >= org_size[org[idx]]
        bar = np.where(alike, params.member_threshold, params.campaign_threshold)
        members = idx[(scores.risk[idx] >= bar) & whole & ~elsewhere]
        if len(np.unique(org[members])) < need:
            continue
        flagged[members] = True
        campaign_of[members] = community
        campaigns[int(community)] = {
            "members": members,
            "risk": float(np.mean(scores.risk[members])),
            "median_risk": median,
            "evidence": sorted(kinds),
            "signature": [scores.signals[j].name for j in signature],
        }
    # Alone, an account needs evidence from several families, and "coordination" then means a
    # tie to other accounts: a lab running a public benchmark from its cloud and trying a new
    # model the day it ships is busy, templated and reasoning-heavy, but tied to no one.
    lone = (
        (campaign_of < 0)
        & (scores.risk >= params.lone_threshold)
        & (scores.tied_families >= params.lone_min_families)
    )
    flagged |= lone
    return Decision(flagged, campaign_of, campaigns)
