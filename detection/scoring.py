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

from dataclasses import dataclass, field
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
    # (n,) bool: a tie (``TIES``) over its threshold, to particular other accounts
    tied: np.ndarray | None = None


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
    any_tie = np.zeros(n, dtype=bool)
    for j, sig in enumerate(signals):
        if weights[j] > 0:
            on = strengths[:, j] > 0
            column = family_names.index(sig.family)
            hit[:, column] |= on
            tie = on if sig.ties is None else on & sig.ties
            if sig.family != COORDINATION:
                tied[:, column] |= on
            elif sig.name in TIES:
                tied[:, column] |= tie
            if sig.name in TIES:
                any_tie |= tie
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
        any_tie,
    )


def explain(scores: Scores, i: int, top: int = 6) -> list[dict]:
    """The account's contributing signals, strongest first, each with value and reason."""
    order = np.argsort(-scores.contributions[i], kind="stable")
    # A flag alone rests on a tie, so every tie is named, however weak beside the rest.
    shown = [j for j in order[:top] if scores.contributions[i, j] > 0]
    shown += [
        j for j in order[top:] if scores.contributions[i, j] > 0 and scores.signals[j].name in TIES
    ]
    out = []
    for j in shown:
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
STRONG = {"ip", "payment", "activity", "coaction", "start"}
# A bit per kind of tie, for ``decide``'s ``tie_kinds``. "template" is not a link between two
# accounts but working the community's own templates (``analysis.own_template_ties``): it
# counts toward membership only beside another kind of tie (``_ties_like``).
TIE_BITS = {"ip": 1, "payment": 2, "activity": 4, "coaction": 8, "start": 16, "template": 32}
# Ties that cannot make a member on their own: honest strangers ask alike.
CORROBORATING = TIE_BITS["template"]
# Ties that the community's own templates corroborate into two kinds of coordination
# (``_campaign``'s lower threshold). Not a shared address: the regulars of an office or a
# coworking space share one, and their everyday phrasing, sent by few outside, passes for
# templates of their own.
CORROBORATED = TIE_BITS["payment"] | TIE_BITS["activity"] | TIE_BITS["coaction"] | TIE_BITS["start"]


def tie_signature(kinds: np.ndarray) -> int:
    """The kinds of tie (``TIE_BITS``) at least half of these accounts have."""
    if not len(kinds):
        return 0
    return sum(bit for bit in TIE_BITS.values() if ((kinds & bit) > 0).mean() >= 0.5)


def member_ties(kinds: np.ndarray, need: int) -> int:
    """The kinds of tie a campaign's member needs (``_ties_like``): its tie signature; but
    when that is addresses alone and at least ``need`` of these accounts (enough for a
    campaign of their own, ``campaign_min_accounts``) are tied two ways, every kind those
    tied two ways have, so that a member is tied two ways too. Addresses are the one tie a
    fleet shares with the customers of a proxy network it rents, and those customers can
    outnumber it in its community (they also run the popular agent, whose harness reads as
    templated, capability-seeking work): the fleet's accounts are also tied by its own
    harness, its shifts or its co-action, the customers by the exits alone. So are two fleets
    on one network, one tied by its harness and the other by its shifts, neither second kind
    held by half. A card, shifts or co-action are not shared with strangers that way, and
    stay enough on their own where they are the signature."""
    mask = tie_signature(kinds)
    if mask != TIE_BITS["ip"]:
        return mask
    count = sum(((kinds & bit) > 0).astype(int) for bit in TIE_BITS.values())
    two = count >= 2
    if two.sum() < need:
        return mask
    return mask | int(np.bitwise_or.reduce(kinds[two]))


# Ties that are two coincidences in one, so enough on their own when the campaign's members
# have them: beginning in the same hour *and* sending the same uncommon templates.
SELF_SUFFICIENT = TIE_BITS["start"]
SELF_SUFFICIENT_KINDS = {"start"}


def _ties_like(kinds: np.ndarray, mask: int) -> np.ndarray:
    """Accounts with at least two of ``mask``'s kinds of tie, or the one if it has one, or a
    self-sufficient one (``SELF_SUFFICIENT``) of the mask's. A corroborating tie
    (``CORROBORATING``: the community's own templates) counts as one of the two, never alone:
    a fleet's quiet account that met no partner often enough to co-act, but leaves through
    its exits and works its harness, is tied like its members; a customer on the same exits
    who asks its own questions is not. Where the members work the harness (the mask holds
    it), an account that works it too is tied like them beside *any* other kind of tie to
    them, in the mask or not: the fleet's account that shares its card, its shifts or an
    address with it, where most of the fleet is tied by co-action or by starting together
    (two coincidences at once, as the mask's two are)."""
    need = min(2, bin(mask).count("1"))
    shared = np.zeros(len(kinds), dtype=int)
    for bit in TIE_BITS.values():
        if mask & bit:
            shared += (kinds & bit) > 0
    if not mask & ~CORROBORATING:
        return np.ones(len(kinds), dtype=bool)
    strong = (kinds & mask & ~CORROBORATING) > 0
    tied = ((shared >= need) & strong) | ((kinds & mask & SELF_SUFFICIENT) > 0)
    if mask & CORROBORATING:
        tied |= ((kinds & CORROBORATING) > 0) & ((kinds & ~CORROBORATING) > 0)
    return tied


@dataclass
class Decision:
    flagged: np.ndarray  # (n,) bool
    campaign_of: np.ndarray  # (n,) community index of a flagged campaign, or -1
    campaigns: dict[int, dict]  # community index -> {"members": [...], "risk", "evidence"}
    # Each community ``decide`` did not make a campaign -> the first of its tests it failed
    # (``HELD``), for whoever tunes the detector: which gate a fleet that was missed met.
    held: dict[int, str] = field(default_factory=dict)
    # Each account of a campaign's community that is not its member -> why (``LEFT_OUT``).
    left_out: dict[int, str] = field(default_factory=dict)


# Why a community is no campaign (``Decision.held``), in the order ``decide`` asks.
HELD = {
    "organisations": "fewer organisations than campaign_min_accounts",
    "evidence": "no address, card, shifts, co-action or start among its links, or one kind "
    "of link only",
    "split": "a second fleet taken out of a community, with fewer than two strong kinds of link",
    "harvesting": "fewer of its organisations harvest than campaign_min_behaviour_share",
    "untied": "no kind of tie (address, card, shifts, co-action, start) held by half its "
    "harvesters",
    "risk": "its harvesters' median risk is under the campaign threshold",
    "members": "its members span fewer organisations than campaign_min_accounts",
}


# Why an account of a campaign's community is not its member (``Decision.left_out``), in
# the order ``_campaign`` asks.
LEFT_OUT = {
    "elsewhere": "harvests something other than the campaign's signature",
    "organisation": "most of its organisation's accounts are outside the community",
    "untied": "not tied to the campaign the way its harvesters are",
    "risk": "its risk is under its bar (member_threshold if it harvests alike or works the "
    "campaign's templates, campaign_threshold otherwise)",
}


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


def split_fleets(
    scores: Scores, membership: np.ndarray, organisation: np.ndarray, need: int
) -> tuple[np.ndarray, np.ndarray]:
    """(``membership`` with each community's second fleet a community of its own, the
    community each row was in before).

    Two fleets that rent the same proxy exits can land in one community, and the campaign
    decided there would be the larger's: the other's accounts harvest something outside its
    signature (``campaign_signature``), so they are no members of it, nor of any campaign.
    The harvesters that harvest something else are taken out into a new community when they
    are of at least ``need`` organisations and most of them harvest alike (a signature of
    their own); a developer or two beside a fleet on a carrier's addresses stay bystanders.
    The new community is then decided on its own ties and evidence (``decide`` with
    ``parent``)."""
    out = membership.copy()
    targets = [j for j, s in enumerate(scores.signals) if s.name in TARGETS]
    if not targets:
        return out, membership
    fresh = int(membership.max(initial=-1)) + 1
    for idx in community_rows(membership):
        harvesters = idx[scores.behaviour[idx]]
        signature = campaign_signature(scores, harvesters)
        if not len(signature):
            continue
        on = scores.strengths[np.ix_(harvesters, targets)] > 0
        mine = np.isin(targets, signature)
        other = harvesters[on[:, ~mine].any(axis=1) & ~on[:, mine].any(axis=1)]
        if len(np.unique(organisation[other])) < need or not len(campaign_signature(scores, other)):
            continue
        out[other] = fresh
        fresh += 1
    return out, membership


def both_fleets(
    whole: Decision, split: Decision, parent: np.ndarray, membership: np.ndarray
) -> Decision:
    """``whole`` (communities as found), with each community that ``split_fleets`` cut in
    two decided as in ``split`` when both of its parts are campaigns there, and as in
    ``whole`` otherwise: a mixed fleet whose capability-only accounts were cut away from
    its reasoning ones is one campaign, or two half-fleets that each fail alone."""
    flagged = whole.flagged.copy()
    campaign_of = whole.campaign_of.copy()
    campaigns = dict(whole.campaigns)
    for p in np.unique(parent[membership != parent]).tolist():
        rows = np.flatnonzero(parent == p)
        parts = np.unique(membership[rows]).tolist()
        if not all(part in split.campaigns for part in parts):
            continue
        flagged[rows] = split.flagged[rows]
        campaign_of[rows] = split.campaign_of[rows]
        campaigns.pop(p, None)
        campaigns.update({part: split.campaigns[part] for part in parts})
    return Decision(flagged, campaign_of, campaigns)


def _campaign(
    scores: Scores,
    idx: np.ndarray,
    kinds: set[str],
    params: DetectionParams,
    org: np.ndarray,
    org_size: np.ndarray,
    tie_kinds: np.ndarray | None,
) -> tuple[dict | None, str]:
    """The campaign the accounts ``idx`` of one community make (``decide``), or None and
    the ``HELD`` reason it is none."""
    harvesters = idx[scores.behaviour[idx]]
    tie_mask = member_mask = 0
    if tie_kinds is not None:
        tied = tie_kinds[harvesters if len(harvesters) else idx]
        tie_mask = tie_signature(tied)
        member_mask = member_ties(tied, params.campaign_min_accounts)
        # A fleet's harvesters are tied to one another (addresses, cards, shifts,
        # co-action, starting together); a community where most of them have no such tie
        # is strangers Leiden put together on a few links between a few of them.
        if not tie_mask & ~CORROBORATING:
            return None, "untied"
    median = float(np.median(scores.risk[harvesters if len(harvesters) else idx]))
    # Most harvesters tied (by more than an address) *and* working the community's own
    # harness: two kinds of coordination, so quieter harvesting (agentic work) is enough.
    corroborated = bool(tie_mask & CORROBORATING) and bool(tie_mask & CORROBORATED)
    if median < (
        params.corroborated_campaign_threshold if corroborated else params.campaign_threshold
    ):
        return None, "risk"
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
    # Working the community's own templates is harvesting of one's own too: a fleet account
    # with too few requests for a share signal (``share_min_exchanges``) that sends the
    # fleet's harness is doing the fleet's work, not a stranger's on its exits.
    harvests = scores.behaviour[idx].copy()
    if tie_kinds is not None:
        harvests |= (tie_kinds[idx] & TIE_BITS["template"]) > 0
    alike = harvests & ~elsewhere
    # An organisation takes part as a whole: a key whose organisation's other keys are
    # mostly elsewhere is doing what that customer does (an integration on a cloud range
    # a fleet also rents), not what the fleet does.
    _, local, inside = np.unique(org[idx], return_inverse=True, return_counts=True)
    whole = inside[local] * 2 >= org_size[org[idx]]
    bar = np.where(alike, params.member_threshold, params.campaign_threshold)
    tied_like = np.ones(len(idx), dtype=bool)
    if tie_kinds is not None:
        tied_like = _ties_like(tie_kinds[idx], member_mask)
    low = scores.risk[idx] < bar
    members = idx[~low & whole & ~elsewhere & tied_like]
    if len(np.unique(org[members])) < params.campaign_min_accounts:
        return None, "members"
    # Why each of the community's other accounts is not a member (``LEFT_OUT``), the first
    # test it fails in that order.
    out = elsewhere | ~whole | ~tied_like | low
    reason = np.array(list(LEFT_OUT))[np.select([elsewhere, ~whole, ~tied_like], [0, 1, 2], 3)]
    return {
        "members": members,
        "risk": float(np.mean(scores.risk[members])),
        "median_risk": median,
        "evidence": sorted(kinds),
        "signature": [scores.signals[j].name for j in signature],
        "ties": tie_mask,
        "member_ties": member_mask,
        "left_out": dict(zip(idx[out].tolist(), reason[out].tolist(), strict=True)),
    }, ""


def decide(
    scores: Scores,
    membership: np.ndarray,
    evidence_kinds: dict[int, set[str]],
    params: DetectionParams,
    organisation: np.ndarray | None = None,
    tie_kinds: np.ndarray | None = None,
    parent: np.ndarray | None = None,
) -> Decision:
    """Flag campaigns and lone accounts.

    ``membership`` is each account's community index (-1 for none); ``evidence_kinds`` the
    kinds of link (ip, ua, payment, template, activity) found inside each community;
    ``organisation`` each account's organisation (``clustering.relatedness_groups``; by
    default every account is its own); ``parent`` each account's community before a second
    fleet was taken out of it (``split_fleets``). A fleet is many *unrelated* accounts, so a
    community is counted in organisations: one customer's many keys are one customer, however
    alike they behave. A community becomes a campaign when

    - it spans ``campaign_min_accounts`` organisations and holds at least two kinds of
      evidence, one of them an address, a card or shifts (templates and client strings alone
      are what unrelated researchers running one public benchmark share), or starting
      together, two coincidences in one (``SELF_SUFFICIENT``): a rush fleet on exits, cards
      and hours of its own is held together by nothing else;
    - at least ``campaign_min_behaviour_share`` of its organisations harvest (show a content,
      volume or rhythm signal; counted over its ``parent``): coordination alone is what
      strangers behind one VPN or NAT show;
    - the median risk of its harvesting accounts reaches ``campaign_threshold`` (bystanders
      that Leiden attached do not dilute it), or ``corroborated_campaign_threshold`` when
      most of them are both tied to it by more than an address (``CORROBORATED``) and work
      its own templates (``tie_kinds``).

    Its members are the accounts at ``member_threshold`` that harvest; one with no harvesting
    behaviour of its own (a stranger on the fleet's proxy exits) needs ``campaign_threshold``.
    Not members at all: an account that harvests something other than the campaign does (it
    shows a ``TARGETS`` signal but none of the campaign's signature, those most of its
    harvesters show: a developer on the same phone carrier as a reasoning fleet), and an
    account of an organisation most of whose accounts are outside the community (a company's
    integration key on a cloud range a fleet also rents). And with ``tie_kinds`` (per
    account, a bit per kind of tie, ``TIE_BITS``, it has to others of its community), a member
    is tied to the campaign the way most of its harvesters are: at least two of those kinds of
    tie, or the one there is (a stranger on one of a fleet's exits, or a customer whose "uncommon"
    client string a fleet also sends, is not), two where the signature is addresses alone and
    enough harvesters are tied two ways (``member_ties``). The members must again span
    ``campaign_min_accounts`` organisations.
    """
    n = len(scores.risk)
    org = np.arange(n) if organisation is None else np.asarray(organisation)
    org_size = np.bincount(org)
    flagged = np.zeros(n, dtype=bool)
    campaign_of = np.full(n, -1)
    campaigns: dict[int, dict] = {}
    need = params.campaign_min_accounts
    # Each community a second fleet was taken out of, whole (``split_fleets``).
    around_of = (
        {} if parent is None else {int(parent[rows[0]]): rows for rows in community_rows(parent)}
    )
    held: dict[int, str] = {}
    left_out: dict[int, str] = {}
    for idx in community_rows(membership):
        community = int(membership[idx[0]])
        if len(np.unique(org[idx])) < need:
            held[community] = "organisations"
            continue
        kinds = evidence_kinds.get(community, set())
        # Templates and client strings are shared by honest strangers too; a fleet also shares
        # addresses, cards or shifts, or began together (a start tie is two coincidences).
        if not kinds & STRONG or (len(kinds) < 2 and not kinds & SELF_SUFFICIENT_KINDS):
            held[community] = "evidence"
            continue
        # A second fleet taken out of a community (``split_fleets``) shares two strong kinds
        # of evidence among its own accounts: customers of a proxy network who harvest
        # something else and meet on a few of its exits share only those addresses.
        split = parent is not None and int(parent[idx[0]]) != community
        if split and len(kinds & STRONG) < 2:
            held[community] = "split"
            continue
        # Coordination alone is a shared network (a VPN's exits, a campus NAT), not a
        # distillation campaign: enough of its organisations must also behave like harvesters
        # (counted over the community a second fleet was taken out of, ``split_fleets``).
        around = idx if parent is None else around_of[int(parent[idx[0]])]
        organisations, harvesting = harvesting_organisations(scores.behaviour, around, org)
        if harvesting < params.campaign_min_behaviour_share * organisations:
            held[community] = "harvesting"
            continue
        campaign, why = _campaign(scores, idx, kinds, params, org, org_size, tie_kinds)
        if campaign is None:
            held[community] = why
        else:
            flagged[campaign["members"]] = True
            campaign_of[campaign["members"]] = community
            left_out.update(campaign.pop("left_out"))
            campaigns[community] = campaign
    # Alone, an account needs evidence from several families, and "coordination" then means a
    # tie to other accounts: a lab running a public benchmark from its cloud and trying a new
    # model the day it ships is busy, templated and reasoning-heavy, but tied to no one. And
    # it needs a tie at all: a coding agent left running all night on a cloud box is content,
    # volume and rhythm at once, and still one customer doing its own work.
    tied = (
        np.ones(n, dtype=bool) if scores.tied is None or not params.lone_needs_tie else scores.tied
    )
    lone = (
        (campaign_of < 0)
        & (scores.risk >= params.lone_threshold)
        & (scores.tied_families >= params.lone_min_families)
        & tied
    )
    flagged |= lone
    return Decision(flagged, campaign_of, campaigns, held, left_out)


def _off_signature(scores: Scores, rows: np.ndarray, signature: list[str]) -> np.ndarray:
    """Rows that harvest something other than ``signature`` (a ``TARGETS`` signal, none of
    the signature's)."""
    targets = [j for j, s in enumerate(scores.signals) if s.name in TARGETS]
    own = [j for j, s in enumerate(scores.signals) if s.name in signature]
    if not signature or not targets or not len(rows):
        return np.zeros(len(rows), dtype=bool)
    return (scores.strengths[np.ix_(rows, targets)] > 0).any(axis=1) & ~(
        scores.strengths[np.ix_(rows, own)] > 0
    ).any(axis=1)


def _harvests_like(scores: Scores, row: int, signature: list[str]) -> bool:
    """The account harvests (a content, volume or rhythm signal), and what the campaign does:
    one of its signature signals when it has any, and nothing else that it targets."""
    if not scores.behaviour[row] or _off_signature(scores, np.array([row]), signature)[0]:
        return False
    own = [j for j, s in enumerate(scores.signals) if s.name in signature]
    return not own or bool((scores.strengths[row, own] > 0).any())


def join_by_signature(
    scores: Scores,
    decision: Decision,
    a: np.ndarray,
    b: np.ndarray,
    bits: np.ndarray,
    params: DetectionParams,
    organisation: np.ndarray | None = None,
    template_ties: set[tuple[int, int]] | None = None,
) -> Decision:
    """Campaign membership decided by each campaign's own signature, not by where the
    community detection happened to cut.

    ``a``, ``b`` are row indexes of the ties (addresses that are not hubs, cards, shifts,
    co-action), ``bits`` each one's kind (``TIE_BITS``). Two passes:

    - a flagged campaign most of whose members are tied to a larger campaign with the same
      signature and tie signature, about as densely (per pair of accounts) as they are tied
      among themselves, is part of it (a fleet that Leiden cut in two, whose halves act
      together, is one fleet, not a second one; two fleets that rent a few of the same exits
      are two);
    - an account outside every campaign whose strongest ties lead to one campaign joins it
      when it harvests what the campaign harvests (``_harvests_like``), is tied to it the way
      its members are (``decide``), reaches ``member_threshold`` and its organisation is not
      mostly elsewhere: a stranger with nothing but shared addresses stays out.
      ``template_ties`` (row, campaign): rows that work the campaign's own templates
      (``analysis.own_template_senders``), the corroborating tie (``CORROBORATING``) that its
      members inside have, so a fleet's account Leiden cut off with a few of its exits is
      tied like them; on its own it ties no one.

    An account flagged alone whose ties all lead to campaigns that harvest something else
    (``_bystanders``) is not flagged: those ties are the campaigns' infrastructure.
    """
    if not decision.campaigns or not len(a):
        return decision
    n = len(scores.risk)
    org = np.arange(n) if organisation is None else np.asarray(organisation)
    campaign_of = decision.campaign_of.copy()
    campaigns = {c: dict(info) for c, info in decision.campaigns.items()}
    # Pass 1: campaigns tied to a larger one with the same signature merge into it.
    for c in sorted(campaigns, key=lambda k: len(campaigns[k]["members"])):
        info = campaigns[c]
        members = np.asarray(info["members"])
        in_a, in_b = campaign_of[a] == c, campaign_of[b] == c
        inside = int((in_a & in_b).sum())
        density = inside / max(len(members) * (len(members) - 1) / 2, 1)
        cross = np.concatenate([campaign_of[b[in_a & ~in_b]], campaign_of[a[in_b & ~in_a]]])
        tied_rows = np.concatenate([a[in_a & ~in_b], b[in_b & ~in_a]])
        for other in np.unique(cross[cross >= 0]).tolist():
            target = campaigns.get(other)
            links = int((cross == other).sum())
            rows = len(np.unique(tied_rows[cross == other]))
            if (
                target is None
                or len(target["members"]) < len(members)
                or sorted(target.get("signature", [])) != sorted(info.get("signature", []))
                or target.get("ties", 0) != info.get("ties", 0)
                or 2 * rows < len(members)
                # Halves of one fleet are tied across as densely as within; two fleets that
                # rent a few of the same exits meet on a handful of pairs.
                or links / (len(members) * len(target["members"])) < density / 2
            ):
                continue
            campaign_of[members] = other
            target["members"] = np.concatenate([np.asarray(target["members"]), members])
            target["evidence"] = sorted(set(target["evidence"]) | set(info["evidence"]))
            del campaigns[c]
            break
    # Pass 2: accounts outside every campaign, by the campaign their ties lead to.
    outside = campaign_of < 0
    weight: dict[tuple[int, int], int] = {}
    kinds: dict[tuple[int, int], int] = {}
    for x, y in ((a, b), (b, a)):
        keep = outside[x] & (campaign_of[y] >= 0)
        for row, c, bit in zip(
            x[keep].tolist(), campaign_of[y[keep]].tolist(), bits[keep].tolist(), strict=True
        ):
            weight[(row, c)] = weight.get((row, c), 0) + 1
            kinds[(row, c)] = kinds.get((row, c), 0) | bit
    best: dict[int, tuple[int, int]] = {}
    # In order of campaign, so that of two campaigns tied to a row as strongly the first
    # wins, whatever order the ties came in (pieces of one fleet often are).
    for (row, c), w in sorted(weight.items()):
        if w > best.get(row, (0, -1))[0]:
            best[row] = (w, c)
    org_size = np.bincount(org)
    joined: dict[int, list[int]] = {}
    for row, (w, c) in sorted(best.items()):
        info = campaigns[c]
        if w < 2 or not _harvests_like(scores, row, info.get("signature", [])):
            continue
        tie = kinds[(row, c)]
        if template_ties and (row, c) in template_ties:
            tie |= CORROBORATING
        if not _ties_like(np.array([tie]), info["member_ties"])[0]:
            continue
        members = np.asarray(info["members"])
        inside = int((org[members] == org[row]).sum()) + 1
        if scores.risk[row] < params.member_threshold or inside * 2 < org_size[org[row]]:
            continue
        joined.setdefault(c, []).append(row)
    for c, rows in joined.items():
        campaign_of[rows] = c
        campaigns[c]["members"] = np.concatenate([np.asarray(campaigns[c]["members"]), rows])
    flagged = (decision.flagged & ~_bystanders(scores, campaign_of, campaigns, a, b)) | (
        campaign_of >= 0
    )
    for info in campaigns.values():
        members = np.asarray(info["members"], dtype=np.int64)
        info["members"] = np.sort(members)
        info["risk"] = float(np.mean(scores.risk[members]))
    return Decision(flagged, campaign_of, campaigns)


# Ties that ``join_by_signature`` does not see as pairs: they always keep a lone flag.
_UNPAIRED_TIES = ("registration_burst", "user_agent_reuse")


def _bystanders(
    scores: Scores, campaign_of: np.ndarray, campaigns: dict, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Accounts outside every campaign whose ties all lead to campaigns that harvest something
    else (``_off_signature``): a researcher whose cloud box has an address a fleet's proxy
    network also rents. The campaign already judged that tie (it makes no member of an account
    that harvests something else), so it makes no lone flag either."""
    n = len(campaign_of)
    tied_to_fleet = np.zeros(n, dtype=bool)
    other_tie = np.zeros(n, dtype=bool)
    for j, sig in enumerate(scores.signals):
        if sig.name in _UNPAIRED_TIES:
            other_tie |= scores.strengths[:, j] > 0
    outside = campaign_of < 0
    for x, y in ((a, b), (b, a)):
        keep = outside[x]
        rows, partners = x[keep], campaign_of[y[keep]]
        for c in np.unique(partners[partners >= 0]).tolist():
            at = rows[partners == c]
            off = _off_signature(scores, at, campaigns[c].get("signature", []))
            tied_to_fleet[at[off]] = True
            other_tie[at[~off]] = True
        other_tie[rows[partners < 0]] = True
    return tied_to_fleet & ~other_tie


def representative_signal(signals: list[dict], *, value: float, norm: float) -> dict:
    """The member's signal to quote beside a group's ``value`` and ``norm`` (its medians).

    Norms are per plan, so a member on another plan would say "typical for this plan: 4%"
    beside a group figure of 6%: the quote comes from a member whose norm is nearest the
    group's, and among those one on whom the signal fired (above its norm), nearest the
    median value (a member below the norm would explain the flag with a figure under it).
    """

    def _key(s: dict) -> tuple:
        return (
            abs(float(s.get("norm") or 0.0) - norm),
            not float(s.get("value") or 0.0) > float(s.get("norm") or 0.0),
            abs(float(s.get("value") or 0.0) - value),
        )

    return min(signals, key=_key)
