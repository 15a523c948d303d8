"""``DetectionParams``: every parameter of a detection run, declared once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from detection.config.defaults import FREE_MAIL_DOMAINS, HOSTING_ASNS, REASONING_PATTERNS
from detection.config.fields import (
    COMMUNITIES,
    CONTENT,
    COORDINATION,
    FLAGGING,
    SIGNALS,
    WINDOW,
    FrozenStruct,
    Patterns,
    Share,
    param,
)
from detection.config.problems import ParamsError, Problem, problem_from, rust_regex_check
from detection.config.weights import CapabilityPatterns, SignalWeights


class DetectionParams(FrozenStruct):
    """Every parameter of a detection run, typed, bounded, documented and defaulted.

    Build one with ``from_stored`` (a stored version, or what the admin form posts); the
    defaults are ``DetectionParams()``. Fields appear in the admin in this order, grouped by
    their section.
    """

    # ---------------------------------------------------------------------------- window
    window_days: Annotated[
        int,
        param(
            "Days before the newest exchange that a run reads (not before now, so a run over "
            "an imported historical file reads that file's period).",
            WINDOW,
            ge=1,
        ),
    ] = 30
    chunk_size: Annotated[
        int,
        param(
            "Accounts per chunk task, the unit a run fans out in; 500 to 2,000 keeps the "
            "per-task overhead small.",
            WINDOW,
            ge=1,
        ),
    ] = 1000
    # A chunk's exchanges are held in one frame, prompt text included: its memory follows its
    # exchanges, and which accounts fall in a chunk decides how many those are.
    chunk_exchanges: Annotated[
        int,
        param(
            "Most exchanges in the window per chunk task: a chunk closes at chunk_size "
            "accounts or at this many exchanges, whichever comes first, so a worker's memory "
            "is bounded whatever the accounts' sizes (an account with more exchanges than this "
            "is a chunk of its own). Results do not depend on it.",
            WINDOW,
            ge=1,
        ),
    ] = 250_000
    # --------------------------------------------------------------------------- content
    reasoning_patterns: Annotated[
        Patterns,
        param(
            "One regular expression per line, matched case-insensitively against prompts (Rust "
            "regex syntax: no look-around or back-references): what counts as asking for chain "
            "of thought or full working.",
            CONTENT,
        ),
    ] = REASONING_PATTERNS
    capability_patterns: Annotated[
        CapabilityPatterns,
        param("Regular expressions per capability group, as for reasoning.", CONTENT),
    ] = CapabilityPatterns()
    # One step-by-step question out of four prompts is not a habit.
    share_min_exchanges: Annotated[
        int,
        param(
            "Exchanges in the window an account needs before its shares (of prompts, of "
            "traffic) count as signals.",
            CONTENT,
            ge=0,
        ),
    ] = 20
    minhash_prompts_per_account: Annotated[
        int,
        param(
            "Distinct prompts per account signed for near-duplicate detection, after collapsing "
            "exact repeats.",
            CONTENT,
            ge=1,
        ),
    ] = 24
    minhash_num_perm: Annotated[
        int,
        param("MinHash permutations per signature (prompts and activity).", CONTENT, ge=1),
    ] = 64
    # 16 bands of 4 rows make prompts about half alike (Jaccard 0.5) likely to share a band.
    minhash_bands: Annotated[
        int,
        param(
            "LSH bands per signature: more bands catch less alike prompts. At most the number "
            "of permutations.",
            CONTENT,
            ge=1,
        ),
    ] = 16
    # ---------------------------------------------------------------------- coordination
    free_mail_domains: Annotated[
        Patterns,
        param(
            "One domain per line: free-mail and throwaway-mail providers, whose addresses say "
            "nothing about an organisation.",
            COORDINATION,
        ),
    ] = FREE_MAIL_DOMAINS
    hosting_asns: Annotated[
        tuple[Annotated[int, Meta(ge=0)], ...],
        param(
            "Hosting, cloud, proxy and VPN networks (AS numbers, separated by commas or new "
            "lines); extend from your own feeds.",
            COORDINATION,
        ),
    ] = HOSTING_ASNS
    sync_bucket_minutes: Annotated[
        int,
        param("Activity is compared in time buckets of this many minutes.", COORDINATION, ge=1),
    ] = 10
    sync_min_lift: Annotated[
        float,
        param(
            "A pair is synchronised when its active buckets overlap this many times more than "
            "two independent accounts with their activity levels would.",
            COORDINATION,
            gt=0,
        ),
    ] = 3.0
    sync_min_jaccard: Annotated[
        Share,
        param(
            "Least overlap (Jaccard) of two accounts' active buckets to count as synchronised.",
            COORDINATION,
        ),
    ] = 0.2
    # A NAT, a VPN exit, a stock client or a stock phrase is shared by many strangers.
    hub_cap: Annotated[
        int,
        param(
            "An address, user agent or template shared by more accounts than this is a hub: it "
            "links its accounts sparsely and with less weight.",
            COORDINATION,
            ge=1,
        ),
    ] = 40
    hub_ring_neighbours: Annotated[
        int,
        param("Accounts of a hub each link to this many ring neighbours.", COORDINATION, ge=1),
    ] = 6
    # After SynchroTrap: a fleet's orchestrator hands out jobs in waves, so its accounts act
    # together within minutes, day after day; independent customers of one tool do not.
    coaction_minutes: Annotated[
        int,
        param(
            "Co-action: accounts working the same prompt template within a window of this many "
            "minutes act together.",
            COORDINATION,
            ge=1,
        ),
    ] = 10
    coaction_min_days: Annotated[
        int,
        param(
            "Co-action must be sustained: a pair acts together on at least this many distinct "
            "days (and each account works the template on as many).",
            COORDINATION,
            ge=1,
        ),
    ] = 3
    coaction_min_lift: Annotated[
        float,
        param(
            "A pair co-acts when it works the same templates in the same windows this many "
            "times more often than two independent accounts with its activity would.",
            COORDINATION,
            gt=0,
        ),
    ] = 3.0
    coaction_cell_cap: Annotated[
        int,
        param(
            "Co-action compares an account with everyone sharing its template windows while "
            "they hold at most this many other accounts' visits in all; a busier account (a "
            "popular tool's user at busy hours, a large fleet's member whose waves are crowds) "
            "with the quiet ones and at most this many others, those whose windows most "
            "resemble its own (a MinHash sketch), which keeps the cost linear.",
            COORDINATION,
            ge=2,
        ),
    ] = 60
    coaction_min_exit_overlap: Annotated[
        Share,
        param(
            "Least overlap (Jaccard) of two co-acting accounts' address sets: the same exit "
            "pool. 0 drops the condition.",
            COORDINATION,
        ),
    ] = 0.05
    # FRAUDAR down-weights popular columns: a template that thousands of unrelated payers
    # send (a popular agent's harness) says little about any one of them.
    popular_payers: Annotated[
        int,
        param(
            "A prompt template shared with more independent payers (distinct cards or "
            "organisations) than this counts (popular_payers / payers) squared in "
            "shared_templates.",
            COORDINATION,
            ge=1,
        ),
    ] = 8
    popular_exit_payers: Annotated[
        int,
        param(
            "An address used by more independent payers than this (an exit of a commercial "
            "proxy network or a NAT) is a hub, as one used by more than hub_cap accounts is.",
            COORDINATION,
            ge=1,
        ),
    ] = 16
    # A company's keys that do not declare it still pay with its card from its few exits.
    customer_exit_networks: Annotated[
        int,
        param(
            "An account of no declared organisation that pays with an organisation's card "
            "counts as one of its keys when most of its addresses are the organisation's and "
            "those lie in at most this many networks (/24 or /48: its team's office and cloud "
            "region; a company of many sites has many, each key a few); a fleet's account "
            "paying with one card fans out over a proxy pool. The holders of one card no "
            "organisation uses are likewise one customer when each one's addresses are mostly "
            "the card's own, in at most this many networks. 0 turns both off.",
            COORDINATION,
            ge=0,
        ),
    ] = 4
    burst_minutes: Annotated[
        int,
        param(
            "Registration bursts: unrelated accounts registered within this many minutes.",
            COORDINATION,
            ge=1,
        ),
    ] = 30
    new_model_min_age_days: Annotated[
        int,
        param(
            "A model first seen this many days after the window starts counts as newly released.",
            COORDINATION,
            ge=0,
        ),
    ] = 2
    rush_days: Annotated[
        int,
        param(
            "New-model rush: an account's first this many days on or after a release are "
            "compared with everyone's adoption of the new model on the same days.",
            COORDINATION,
            ge=1,
            le=7,
        ),
    ] = 2
    dormant_days: Annotated[
        int,
        param(
            "An account woke from dormancy at its first request in the window when that came "
            "at least this many days after its registration and after the window's first "
            "request.",
            COORDINATION,
            ge=1,
        ),
    ] = 5
    move_max_age_days: Annotated[
        int,
        param(
            "Starting together also holds young accounts (registered at most this many days "
            "before a model's release) that moved onto it within a day of the release, mostly "
            "stayed on it and work the same uncommon prompt templates; 0 turns this off.",
            COORDINATION,
            ge=0,
            le=365,
        ),
    ] = 21
    start_minutes: Annotated[
        int,
        param(
            "Starting together: unrelated accounts registered, or woken from dormancy, within "
            "this many minutes of each other.",
            COORDINATION,
            ge=1,
            le=1440,
        ),
    ] = 60
    start_min_templates: Annotated[
        int,
        param(
            "... that send at least this many uncommon prompt-template bands in common.",
            COORDINATION,
            ge=1,
        ),
    ] = 3
    start_outside_accounts: Annotated[
        int,
        param(
            "A band is uncommon when at most this many accounts send it besides the accounts "
            "that started together with someone (everyday phrases, a popular tool's harness "
            "or a public benchmark are sent by many who began long before).",
            COORDINATION,
            ge=0,
        ),
    ] = 10
    start_cell_cap: Annotated[
        int,
        param(
            "A start_minutes window in which more accounts began than this (a launch's "
            "sign-up crowd) pairs no one.",
            COORDINATION,
            ge=2,
        ),
    ] = 200
    # --------------------------------------------------------------------------- signals
    signals: Annotated[
        SignalWeights,
        param("Each signal's weight, threshold and saturation.", SIGNALS),
    ] = SignalWeights()
    # -------------------------------------------------------------------------- flagging
    campaign_threshold: Annotated[
        float,
        param("Median member risk that makes a linked group a campaign.", FLAGGING, gt=0, le=1),
    ] = 0.55
    # Two kinds of coordination at once (a card, shifts, co-action or a start, and the
    # group's own harness) are harder to come by honestly than either: a fleet whose
    # harvesting is quieter (agentic work scores lower than reasoning extraction) is still a
    # fleet. A shared address is not one of them: an office's regulars have it too.
    corroborated_campaign_threshold: Annotated[
        float,
        param(
            "Median member risk that makes a linked group a campaign when most of its "
            "harvesting accounts both share a card, shift, co-action or start with it (an "
            "address alone is not enough) and work its own templates (between "
            "member_threshold and campaign_threshold). Also the risk that carries a tie: "
            "inside a community a tie counts only where one of its two accounts reaches it.",
            FLAGGING,
            gt=0,
            le=1,
        ),
    ] = 0.45
    member_threshold: Annotated[
        float,
        param(
            "Risk at which a member of a flagged campaign is flagged with it (at most the "
            "campaign threshold).",
            FLAGGING,
            gt=0,
            le=1,
        ),
    ] = 0.35
    lone_threshold: Annotated[
        float,
        param(
            "Risk at which an account outside any campaign is flagged alone.", FLAGGING, gt=0, le=1
        ),
    ] = 0.85
    # A coding agent left running on a cloud box is content, volume and rhythm at once.
    lone_needs_tie: Annotated[
        bool,
        param(
            "A lone account is flagged only with a tie to other accounts (shared addresses, "
            "card, client, shifts, registration burst or co-action), whatever its families.",
            FLAGGING,
        ),
    ] = True
    campaign_min_accounts: Annotated[
        int,
        param(
            "Fewest linked accounts (of as many unrelated organisations) that can form a campaign.",
            FLAGGING,
            ge=1,
        ),
    ] = 3
    lone_min_families: Annotated[
        int,
        param(
            "Signal families (content, coordination, volume, rhythm) a lone account needs.",
            FLAGGING,
            ge=1,
            le=4,
        ),
    ] = 3
    # Strangers behind one VPN exit or campus NAT share addresses but not the behaviour.
    campaign_min_behaviour_share: Annotated[
        Share,
        param(
            "Share of a group's organisations that must harvest (a content, volume or rhythm "
            "signal over its threshold) for it to be a campaign.",
            FLAGGING,
        ),
    ] = 0.5
    # ----------------------------------------------------------------------- communities
    # CPM keeps a group while its links average more than the resolution per pair of members.
    leiden_objective: Annotated[
        Literal["CPM", "modularity"],
        param("Leiden's objective over the link graph.", COMMUNITIES),
    ] = "CPM"
    leiden_resolution: Annotated[
        float,
        param(
            "Leiden's resolution: with CPM, the least average link weight per pair of members.",
            COMMUNITIES,
            gt=0,
        ),
    ] = 0.02
    link_min_weight: Annotated[
        float,
        param("Links lighter than this are left out of the graph.", COMMUNITIES, ge=0),
    ] = 0.15
    # Chance is ``d_A d_B / 2m`` for two pieces with degrees d_A, d_B in a graph of weight m.
    campaign_merge_min_lift: Annotated[
        float,
        param(
            "Harvesting pieces of one sparse fleet that the clustering cut apart are joined "
            "when the links between them are this many times what chance would give.",
            COMMUNITIES,
            gt=0,
        ),
    ] = 2.0
    campaign_min_overlap: Annotated[
        Share,
        param(
            "A new group continues an earlier campaign when they share at least this share of "
            "the smaller one's members.",
            COMMUNITIES,
        ),
    ] = 0.5

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> DetectionParams:
        """The parameters a stored version (or a posted form) says, checked.

        Keys the version lacks take their defaults, and so do the parts a version's signal
        lacks; anything else wrong raises ``ParamsError`` naming each parameter at fault.
        """
        data = dict(stored or {})
        if isinstance(data.get("signals"), Mapping):
            defaults = cls().signals
            data["signals"] = {
                name: (
                    {**msgspec.to_builtins(defaults.spec(name)), **spec}
                    if name in SignalWeights.names() and isinstance(spec, Mapping)
                    else spec
                )
                for name, spec in data["signals"].items()
            }
        try:
            params = msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise ParamsError([problem_from(str(exc))]) from None
        problems = params.validate()
        if problems:
            raise ParamsError(problems)
        return params

    def validate(self) -> list[Problem]:
        """What the types and bounds cannot say: orderings between parameters, and patterns
        that both Python and polars (Rust ``regex``) compile. Empty when fine."""
        problems = []
        for name in SignalWeights.names():
            spec = self.signals.spec(name)
            if spec.saturation <= spec.threshold:
                problems.append(
                    Problem(f"signals.{name}.saturation", "must be above the threshold")
                )
        if self.member_threshold > self.campaign_threshold:
            problems.append(Problem("member_threshold", "must not be above campaign_threshold"))
        if not (
            self.member_threshold <= self.corroborated_campaign_threshold <= self.campaign_threshold
        ):
            problems.append(
                Problem(
                    "corroborated_campaign_threshold",
                    "must be between member_threshold and campaign_threshold",
                )
            )
        if self.minhash_bands > self.minhash_num_perm:
            problems.append(Problem("minhash_bands", "must not be above minhash_num_perm"))
        patterns = [("reasoning_patterns", p) for p in self.reasoning_patterns]
        for group in CapabilityPatterns.__struct_fields__:
            patterns += [
                (f"capability_patterns.{group}", p)
                for p in getattr(self.capability_patterns, group)
            ]
        for key, pattern in patterns:
            try:
                re.compile(pattern)
                rust_regex_check(pattern)
            except Exception as exc:
                problems.append(Problem(key, f"pattern {pattern!r} does not compile: {exc}"))
        return problems

    def to_stored(self) -> dict[str, Any]:
        """The JSON a ``DetectionConfig`` version stores."""
        return msgspec.json.decode(msgspec.json.encode(self))

    def replace(self, **changes: Any) -> DetectionParams:
        """These parameters with ``changes``, checked as a stored version is."""
        return DetectionParams.from_stored({**self.to_stored(), **msgspec.to_builtins(changes)})
