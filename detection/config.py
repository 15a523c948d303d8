"""Detection parameters: their typed declaration, and the versions stored in the database.

``DetectionParams`` declares every parameter once: its type, its range, its default and a
short help text (the admin's config form is built from it, and shows that text). It is
frozen: a run reads one set of parameters from start to end. Loading a stored version and
checking it happen in one place, ``DetectionParams.from_stored``, which refuses unknown keys
and values of the wrong type or out of range, naming the parameter.

A ``DetectionConfig`` row is one version of these parameters, stored as JSON. Rows are never
edited: the admin writes a new version with its author and reason, and every run records the
version it used. "current" is the highest version; with none in the database, version 1 is
written from the defaults the first time it is asked for. A stored version that predates a
parameter reads that parameter from the defaults, so adding a knob never breaks an old
version. ``docs/detection.md`` explains each parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from django.db import IntegrityError, transaction
from msgspec import Meta

# Patterns are regular expressions matched case-insensitively against the prompt text
# (Rust ``regex`` syntax as polars runs them; no look-around or back-references).
# They name the request for the working in the ways people write it, formal ("show your full
# reasoning") and casual ("break down your logic", "don't skip steps"): reworded asks are still
# asks for the reasoning.
REASONING_PATTERNS = (
    r"step[- ]by[- ]step",
    r"chain[- ]of[- ]thought",
    r"show (me )?(all |your |the )?(full |complete |entire |whole )?"
    r"(work|working|reasoning|derivation|steps|logic)",
    r"(show|explain|list|write( out)?|give|include|justify|go through) (me )?(all|each|every)"
    r"( (of )?(the|your))?( intermediate| single)? steps?",
    r"(explain|walk (me |us )?through|talk (me |us )?through|go through|write out|spell out|"
    r"lay out|break down) (all |each |every )?(of )?(your|the) "
    r"(reasoning|thinking|thought process|logic|steps|working)",
    r"(walk|talk|take) (me |us )?through how you",
    r"explain how you (got|get|arrived|arrive|reached|reach|came|come) (to|at|there)",
    r"think(ing)? (it )?(through )?(carefully|aloud|out loud)",
    r"(full|complete|detailed|entire|whole|internal) "
    r"(reasoning|derivation|thought process|rationale|working|logic|chain of reasoning)",
    r"reason(ing)? (before|then) (answer|respond)",
    r"<\s*(think|thinking|reasoning|scratchpad|thought)\s*>",
    r"(before|prior to) (giving|stating) (the|your) (final )?answer",
    r"(do not|don'?t|never) skip (any )?(of the )?steps",
)
CAPABILITY_PATTERNS = {
    "coding": (
        r"\b(python|javascript|typescript|rust|golang|java|c\+\+|sql|bash)\b",
        r"\b(function|refactor|unit tests?|debug|stack trace|compile|regex|api endpoint)\b",
        r"\b(implement|write) (a |an |the )?(function|class|script|program|module)",
        r"```",
    ),
    "agentic": (
        r"\b(tool call|function call|call the tool|use the tools?|agent|plan and execute)\b",
        r"\b(browse|navigate to|click|execute the command|terminal|shell command)\b",
        r"\b(multi-step task|subtasks?|json schema|observation:|action:)\b",
    ),
    "reasoning": (
        r"\b(prove|proof|theorem|lemma|derive|integral|equation|probability)\b",
        r"\b(puzzle|logic problem|olympiad|competition math|riddle)\b",
        r"\b(solve|calculate|compute) (for|the|this)\b",
    ),
}
# Free-mail and throwaway-mail providers: a shared email domain among these says nothing about
# an organisation (and a throwaway address even less: strangers, and fleets, sign up with them).
FREE_MAIL_DOMAINS = (
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com",
    "icloud.com", "proton.me", "protonmail.com", "aol.com", "gmx.com", "gmx.de", "mail.ru",
    "yandex.ru", "yandex.com", "qq.com", "163.com", "126.com", "sina.com", "naver.com",
    "tutanota.com", "mail.com", "zoho.com", "fastmail.com",
    # throwaway
    "mailinator.com", "guerrillamail.com", "guerrillamail.net", "sharklasers.com",
    "10minutemail.com", "10minutemail.net", "yopmail.com", "temp-mail.org", "tempmail.lol",
    "trashmail.com", "trashmail.de", "dropmail.me", "getnada.com", "maildrop.cc", "mohmal.com",
    "emailondeck.com", "throwawaymail.com", "dispostable.com", "fakeinbox.com",
    "burnermail.io", "mintemail.com", "spamgourmet.com", "mailnesia.com",
)  # fmt: skip
# Hosting, cloud and proxy/VPN networks (ASNs). Operators extend this from their own feeds.
HOSTING_ASNS = (
    16509, 14618, 8987,  # Amazon
    15169, 396982, 19527,  # Google
    8075, 8068,  # Microsoft
    14061,  # DigitalOcean
    16276,  # OVH
    24940, 213230,  # Hetzner
    63949,  # Akamai/Linode
    20473,  # Vultr/Choopa
    45102, 37963,  # Alibaba
    132203, 45090,  # Tencent
    31898,  # Oracle
    9009,  # M247 (VPN exits)
    212238, 60068,  # Datacamp / CDN77 (VPN and proxy exits)
    51167,  # Contabo
    12876,  # Scaleway
    40021,  # Contabo US / NameCheap proxies
    136787,  # TEFINCOM (VPN)
    202425,  # IP Volume (proxy)
)  # fmt: skip


# Sections group the parameters in the admin's config form (laid out in detection.admin).
WINDOW, CONTENT, COORDINATION, SIGNALS, FLAGGING, COMMUNITIES = (
    "Window",
    "Content",
    "Coordination",
    "Signals",
    "Flagging",
    "Communities",
)


def _param(help_text: str, section: str, **bounds: float) -> Meta:
    """A parameter's help text, admin section and bounds (``ge``, ``gt``, ``le``, ``lt``)."""
    return Meta(description=help_text, extra={"section": section}, **bounds)


class _Frozen(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Immutable, and strict on load: an unknown key is an error, never silently ignored."""


class SignalSpec(_Frozen):
    """How one signal counts: 0 below ``threshold``, 0.5 at it, rising to 1 at ``saturation``;
    it contributes ``weight`` x that strength to the noisy OR that is the risk score."""

    weight: Annotated[float, Meta(ge=0, le=1, description="Contribution at full strength.")]
    threshold: Annotated[float, Meta(ge=0, description="Value at which the signal starts.")]
    saturation: Annotated[float, Meta(ge=0, description="Value at which it is at full strength.")]


def _signal(weight: float, threshold: float, saturation: float) -> SignalSpec:
    return SignalSpec(weight=weight, threshold=threshold, saturation=saturation)


def _about(what: str) -> Meta:
    return Meta(description=what)


class SignalWeights(_Frozen):
    """One ``SignalSpec`` per signal of ``detection.signals``, under the signal's name."""

    reasoning_elicitation: Annotated[
        SignalSpec,
        _about("Share of prompts asking for chain of thought, full working or reasoning in tags."),
    ] = _signal(0.45, 0.25, 0.6)
    capability_targeting: Annotated[
        SignalSpec,
        _about(
            "Share of prompts on coding, agentic/tool-use and hard-reasoning tasks, or using tools."
        ),
    ] = _signal(0.2, 0.6, 0.9)
    prompt_templating: Annotated[
        SignalSpec,
        _about("Share of prompts that repeat or are near-duplicates of the account's own."),
    ] = _signal(0.2, 0.5, 0.85)
    shared_templates: Annotated[
        SignalSpec,
        _about(
            "Share of the account's sampled prompts that near-duplicate an unrelated account's."
        ),
    ] = _signal(0.45, 0.2, 0.6)
    shared_infrastructure: Annotated[
        SignalSpec,
        _about(
            "Unrelated accounts using the same IP addresses (hubs such as NATs and VPN exits "
            "excluded)."
        ),
    ] = _signal(0.35, 3, 15)
    hosting_network: Annotated[
        SignalSpec,
        _about("Share of traffic from hosting, cloud, proxy or VPN networks (hosting ASNs)."),
    ] = _signal(0.15, 0.5, 0.9)
    user_agent_reuse: Annotated[
        SignalSpec, _about("Unrelated accounts sending the same uncommon user-agent string.")
    ] = _signal(0.1, 3, 15)
    shared_payment: Annotated[
        SignalSpec, _about("Unrelated accounts paying with the same payment instrument.")
    ] = _signal(0.3, 2, 6)
    fleet_move: Annotated[
        SignalSpec,
        _about(
            "Recorded changes of the account's card or organisation onto one that accounts "
            "the previous run flagged in a campaign use."
        ),
    ] = _signal(0.4, 1, 2)
    registration_burst: Annotated[
        SignalSpec,
        _about("Unrelated registrations around this account's, as a multiple of the usual rate."),
    ] = _signal(0.2, 4, 15)
    synchronised_activity: Annotated[
        SignalSpec,
        _about("Unrelated accounts active in the same time buckets far more often than chance."),
    ] = _signal(0.35, 2, 8)
    round_the_clock: Annotated[
        SignalSpec,
        _about("How evenly activity spreads over the 24 hours (1 = no daily rhythm at all)."),
    ] = _signal(0.15, 0.92, 0.98)
    output_harvesting: Annotated[
        SignalSpec, _about("Output tokens received, as a multiple of the plan's median account.")
    ] = _signal(0.2, 4.0, 12.0)
    new_account_ramp: Annotated[
        SignalSpec,
        _about("A young account's daily traffic as a multiple of the plan's median daily traffic."),
    ] = _signal(0.15, 4.0, 12.0)
    coaction: Annotated[
        SignalSpec,
        _about(
            "Unrelated accounts working the same prompt template from the same exits within the "
            "same minutes, on several days, far more often than chance."
        ),
    ] = _signal(0.5, 2, 8)
    model_pivot: Annotated[
        SignalSpec,
        _about("Share of traffic moved to a newly released model within a day of its release."),
    ] = _signal(0.2, 0.5, 0.9)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return cls.__struct_fields__

    def spec(self, name: str) -> SignalSpec:
        """The spec of the signal called ``name`` (``KeyError`` for a name not declared here)."""
        if name not in self.__struct_fields__:
            raise KeyError(name)
        return getattr(self, name)


class CapabilityPatterns(_Frozen):
    """Patterns per capability group; each group is a feature column of its own."""

    coding: Annotated[
        tuple[str, ...], _about("Prompts on programming: languages, debugging, writing code.")
    ] = CAPABILITY_PATTERNS["coding"]
    agentic: Annotated[
        tuple[str, ...], _about("Prompts that drive tools or agents: tool calls, browsing, plans.")
    ] = CAPABILITY_PATTERNS["agentic"]
    reasoning: Annotated[
        tuple[str, ...], _about("Hard-reasoning tasks: proofs, maths, puzzles.")
    ] = CAPABILITY_PATTERNS["reasoning"]

    def patterns(self) -> tuple[str, ...]:
        return self.coding + self.agentic + self.reasoning


Patterns = tuple[str, ...]
Share = Annotated[float, Meta(ge=0, le=1)]


class DetectionParams(_Frozen):
    """Every parameter of a detection run, typed, bounded, documented and defaulted.

    Build one with ``from_stored`` (a stored version, or what the admin form posts); the
    defaults are ``DetectionParams()``. Fields appear in the admin in this order, grouped by
    their section.
    """

    # ---------------------------------------------------------------------------- window
    window_days: Annotated[
        int,
        _param(
            "Days before the newest exchange that a run reads (not before now, so a run over "
            "an imported historical file reads that file's period).",
            WINDOW,
            ge=1,
        ),
    ] = 30
    chunk_size: Annotated[
        int,
        _param(
            "Accounts per chunk task, the unit a run fans out in; 500 to 2,000 keeps the "
            "per-task overhead small.",
            WINDOW,
            ge=1,
        ),
    ] = 1000
    # --------------------------------------------------------------------------- content
    reasoning_patterns: Annotated[
        Patterns,
        _param(
            "One regular expression per line, matched case-insensitively against prompts (Rust "
            "regex syntax: no look-around or back-references): what counts as asking for chain "
            "of thought or full working.",
            CONTENT,
        ),
    ] = REASONING_PATTERNS
    capability_patterns: Annotated[
        CapabilityPatterns,
        _param("Regular expressions per capability group, as for reasoning.", CONTENT),
    ] = CapabilityPatterns()
    # One step-by-step question out of four prompts is not a habit.
    share_min_exchanges: Annotated[
        int,
        _param(
            "Exchanges in the window an account needs before its shares (of prompts, of "
            "traffic) count as signals.",
            CONTENT,
            ge=0,
        ),
    ] = 20
    minhash_prompts_per_account: Annotated[
        int,
        _param(
            "Distinct prompts per account signed for near-duplicate detection, after collapsing "
            "exact repeats.",
            CONTENT,
            ge=1,
        ),
    ] = 24
    minhash_num_perm: Annotated[
        int,
        _param("MinHash permutations per signature (prompts and activity).", CONTENT, ge=1),
    ] = 64
    # 16 bands of 4 rows make prompts about half alike (Jaccard 0.5) likely to share a band.
    minhash_bands: Annotated[
        int,
        _param(
            "LSH bands per signature: more bands catch less alike prompts. At most the number "
            "of permutations.",
            CONTENT,
            ge=1,
        ),
    ] = 16
    # ---------------------------------------------------------------------- coordination
    free_mail_domains: Annotated[
        Patterns,
        _param(
            "One domain per line: free-mail and throwaway-mail providers, whose addresses say "
            "nothing about an organisation.",
            COORDINATION,
        ),
    ] = FREE_MAIL_DOMAINS
    hosting_asns: Annotated[
        tuple[Annotated[int, Meta(ge=0)], ...],
        _param(
            "Hosting, cloud, proxy and VPN networks (AS numbers, separated by commas or new "
            "lines); extend from your own feeds.",
            COORDINATION,
        ),
    ] = HOSTING_ASNS
    sync_bucket_minutes: Annotated[
        int,
        _param("Activity is compared in time buckets of this many minutes.", COORDINATION, ge=1),
    ] = 10
    sync_min_lift: Annotated[
        float,
        _param(
            "A pair is synchronised when its active buckets overlap this many times more than "
            "two independent accounts with their activity levels would.",
            COORDINATION,
            gt=0,
        ),
    ] = 3.0
    sync_min_jaccard: Annotated[
        Share,
        _param(
            "Least overlap (Jaccard) of two accounts' active buckets to count as synchronised.",
            COORDINATION,
        ),
    ] = 0.2
    # A NAT, a VPN exit, a stock client or a stock phrase is shared by many strangers.
    hub_cap: Annotated[
        int,
        _param(
            "An address, user agent or template shared by more accounts than this is a hub: it "
            "links its accounts sparsely and with less weight.",
            COORDINATION,
            ge=1,
        ),
    ] = 40
    hub_ring_neighbours: Annotated[
        int,
        _param("Accounts of a hub each link to this many ring neighbours.", COORDINATION, ge=1),
    ] = 6
    # After SynchroTrap: a fleet's orchestrator hands out jobs in waves, so its accounts act
    # together within minutes, day after day; independent customers of one tool do not.
    coaction_minutes: Annotated[
        int,
        _param(
            "Co-action: accounts working the same prompt template within a window of this many "
            "minutes act together.",
            COORDINATION,
            ge=1,
        ),
    ] = 10
    coaction_min_days: Annotated[
        int,
        _param(
            "Co-action must be sustained: a pair acts together on at least this many distinct "
            "days (and each account works the template on as many).",
            COORDINATION,
            ge=1,
        ),
    ] = 3
    coaction_min_lift: Annotated[
        float,
        _param(
            "A pair co-acts when it works the same templates in the same windows this many "
            "times more often than two independent accounts with its activity would.",
            COORDINATION,
            gt=0,
        ),
    ] = 3.0
    coaction_cell_cap: Annotated[
        int,
        _param(
            "A template window worked by more accounts than this is a crowd (a popular tool's "
            "users at a busy hour): it pairs no one, which keeps the cost linear.",
            COORDINATION,
            ge=2,
        ),
    ] = 60
    coaction_min_exit_overlap: Annotated[
        Share,
        _param(
            "Least overlap (Jaccard) of two co-acting accounts' address sets: the same exit "
            "pool. 0 drops the condition.",
            COORDINATION,
        ),
    ] = 0.05
    # FRAUDAR down-weights popular columns: a template that thousands of unrelated payers
    # send (a popular agent's harness) says little about any one of them.
    popular_payers: Annotated[
        int,
        _param(
            "A prompt template shared with more independent payers (distinct cards or "
            "organisations) than this counts (popular_payers / payers) squared in "
            "shared_templates.",
            COORDINATION,
            ge=1,
        ),
    ] = 8
    popular_exit_payers: Annotated[
        int,
        _param(
            "An address used by more independent payers than this (an exit of a commercial "
            "proxy network or a NAT) is a hub, as one used by more than hub_cap accounts is.",
            COORDINATION,
            ge=1,
        ),
    ] = 16
    burst_minutes: Annotated[
        int,
        _param(
            "Registration bursts: unrelated accounts registered within this many minutes.",
            COORDINATION,
            ge=1,
        ),
    ] = 30
    new_model_min_age_days: Annotated[
        int,
        _param(
            "A model first seen this many days after the window starts counts as newly released.",
            COORDINATION,
            ge=0,
        ),
    ] = 2
    # --------------------------------------------------------------------------- signals
    signals: Annotated[
        SignalWeights,
        _param("Each signal's weight, threshold and saturation.", SIGNALS),
    ] = SignalWeights()
    # -------------------------------------------------------------------------- flagging
    campaign_threshold: Annotated[
        float,
        _param("Median member risk that makes a linked group a campaign.", FLAGGING, gt=0, le=1),
    ] = 0.55
    member_threshold: Annotated[
        float,
        _param(
            "Risk at which a member of a flagged campaign is flagged with it (at most the "
            "campaign threshold).",
            FLAGGING,
            gt=0,
            le=1,
        ),
    ] = 0.35
    lone_threshold: Annotated[
        float,
        _param(
            "Risk at which an account outside any campaign is flagged alone.", FLAGGING, gt=0, le=1
        ),
    ] = 0.85
    # A coding agent left running on a cloud box is content, volume and rhythm at once.
    lone_needs_tie: Annotated[
        bool,
        _param(
            "A lone account is flagged only with a tie to other accounts (shared addresses, "
            "card, client, shifts, registration burst or co-action), whatever its families.",
            FLAGGING,
        ),
    ] = True
    campaign_min_accounts: Annotated[
        int,
        _param(
            "Fewest linked accounts (of as many unrelated organisations) that can form a campaign.",
            FLAGGING,
            ge=1,
        ),
    ] = 3
    lone_min_families: Annotated[
        int,
        _param(
            "Signal families (content, coordination, volume, rhythm) a lone account needs.",
            FLAGGING,
            ge=1,
            le=4,
        ),
    ] = 3
    # Strangers behind one VPN exit or campus NAT share addresses but not the behaviour.
    campaign_min_behaviour_share: Annotated[
        Share,
        _param(
            "Share of a group's organisations that must harvest (a content, volume or rhythm "
            "signal over its threshold) for it to be a campaign.",
            FLAGGING,
        ),
    ] = 0.5
    # ----------------------------------------------------------------------- communities
    # CPM keeps a group while its links average more than the resolution per pair of members.
    leiden_objective: Annotated[
        Literal["CPM", "modularity"],
        _param("Leiden's objective over the link graph.", COMMUNITIES),
    ] = "CPM"
    leiden_resolution: Annotated[
        float,
        _param(
            "Leiden's resolution: with CPM, the least average link weight per pair of members.",
            COMMUNITIES,
            gt=0,
        ),
    ] = 0.02
    link_min_weight: Annotated[
        float,
        _param("Links lighter than this are left out of the graph.", COMMUNITIES, ge=0),
    ] = 0.15
    # Chance is ``d_A d_B / 2m`` for two pieces with degrees d_A, d_B in a graph of weight m.
    campaign_merge_min_lift: Annotated[
        float,
        _param(
            "Harvesting pieces of one sparse fleet that the clustering cut apart are joined "
            "when the links between them are this many times what chance would give.",
            COMMUNITIES,
            gt=0,
        ),
    ] = 2.0
    campaign_min_overlap: Annotated[
        Share,
        _param(
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
            raise ParamsError([_problem(str(exc))]) from None
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
                _rust_regex_check(pattern)
            except Exception as exc:
                problems.append(Problem(key, f"pattern {pattern!r} does not compile: {exc}"))
        return problems

    def to_stored(self) -> dict[str, Any]:
        """The JSON a ``DetectionConfig`` version stores."""
        return msgspec.json.decode(msgspec.json.encode(self))

    def replace(self, **changes: Any) -> DetectionParams:
        """These parameters with ``changes``, checked as a stored version is."""
        return DetectionParams.from_stored({**self.to_stored(), **msgspec.to_builtins(changes)})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a parameter set: the parameter's dotted key, and what."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class ParamsError(ValueError):
    """A parameter set that cannot be used; ``problems`` names each parameter at fault."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")


def _problem(error: str) -> Problem:
    """msgspec's "Expected `int` >= 1 - at `$.window_days`" as a problem of ``window_days``."""
    match = _AT.match(error)
    message, path = match["message"], (match["path"] or "").lstrip(".")
    unknown = _UNKNOWN.match(message)
    if unknown:
        key = f"{path}.{unknown['name']}" if path else unknown["name"]
        return Problem(key, "unknown parameter")
    return Problem(path, message[:1].lower() + message[1:])


def _rust_regex_check(pattern: str) -> None:
    import polars as pl

    pl.Series(["x"]).str.contains(f"(?i){pattern}")


def current_config():
    """The highest version; version 1 from the defaults if there is none yet."""
    from detection.models import DetectionConfig

    config = DetectionConfig.objects.order_by("-version").first()
    if config is not None:
        return config
    try:
        with transaction.atomic():
            return DetectionConfig.objects.create(
                version=1, params=DetectionParams().to_stored(), reason="Defaults from the code."
            )
    except IntegrityError:  # another process wrote v1 first
        return DetectionConfig.objects.get(version=1)


@transaction.atomic
def config_new_version(*, params: DetectionParams, reason: str, author=None):
    """Write ``params`` as the next version. Raises ``ValueError`` without a reason."""
    from detection.models import DetectionConfig

    if not reason.strip():
        raise ValueError("a new configuration version needs a reason")
    DetectionConfig.objects.select_for_update().order_by("-version").first()
    latest = DetectionConfig.objects.order_by("-version").values_list("version", flat=True).first()
    return DetectionConfig.objects.create(
        version=(latest or 0) + 1,
        params=params.to_stored(),
        reason=reason.strip(),
        created_by=author if author is not None and author.is_authenticated else None,
    )
