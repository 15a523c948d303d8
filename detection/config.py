"""Detection configuration: the defaults, and the current version.

A ``DetectionConfig`` row is one version of these parameters. Rows are never edited: the admin
writes a new version with its author and reason, and every run records the version it used.
"current" is the highest version; with none in the database, version 1 is written from
``DEFAULTS`` the first time it is asked for. A stored version that predates a parameter reads
that parameter from ``DEFAULTS`` (see ``effective_params``), so adding a knob never breaks an
old version. ``docs/detection.md`` explains each parameter.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django.db import IntegrityError, transaction

# Patterns are regular expressions matched case-insensitively against the prompt text
# (Rust ``regex`` syntax as polars runs them; no look-around or back-references).
# They name the request for the working in the ways people write it, formal ("show your full
# reasoning") and casual ("break down your logic", "don't skip steps"): reworded asks are still
# asks for the reasoning.
REASONING_PATTERNS = [
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
]
CAPABILITY_PATTERNS = {
    "coding": [
        r"\b(python|javascript|typescript|rust|golang|java|c\+\+|sql|bash)\b",
        r"\b(function|refactor|unit tests?|debug|stack trace|compile|regex|api endpoint)\b",
        r"\b(implement|write) (a |an |the )?(function|class|script|program|module)",
        r"```",
    ],
    "agentic": [
        r"\b(tool call|function call|call the tool|use the tools?|agent|plan and execute)\b",
        r"\b(browse|navigate to|click|execute the command|terminal|shell command)\b",
        r"\b(multi-step task|subtasks?|json schema|observation:|action:)\b",
    ],
    "reasoning": [
        r"\b(prove|proof|theorem|lemma|derive|integral|equation|probability)\b",
        r"\b(puzzle|logic problem|olympiad|competition math|riddle)\b",
        r"\b(solve|calculate|compute) (for|the|this)\b",
    ],
}
# Free-mail and throwaway-mail providers: a shared email domain among these says nothing about
# an organisation (and a throwaway address even less: strangers, and fleets, sign up with them).
FREE_MAIL_DOMAINS = [
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
]  # fmt: skip
# Hosting, cloud and proxy/VPN networks (ASNs). Operators extend this from their own feeds.
HOSTING_ASNS = [
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
]  # fmt: skip

DEFAULTS: dict[str, Any] = {
    # The window: the last ``window_days`` before the newest exchange (not "now", so a run over
    # an imported historical file looks at that file's period).
    "window_days": 30,
    # Accounts per chunk task (fan-out unit). 500-2000 keeps the per-task overhead small.
    "chunk_size": 1000,
    "reasoning_patterns": REASONING_PATTERNS,
    "capability_patterns": CAPABILITY_PATTERNS,
    "free_mail_domains": FREE_MAIL_DOMAINS,
    "hosting_asns": HOSTING_ASNS,
    # Near-duplicate prompts: distinct prompts signed per account after collapsing repeats.
    "minhash_prompts_per_account": 24,
    "minhash_num_perm": 64,
    "minhash_bands": 16,
    # Share signals (of prompts or traffic) need this many exchanges in the window: one
    # step-by-step question out of four is not a habit.
    "share_min_exchanges": 20,
    # Synchronisation: activity in buckets of this many minutes.
    "sync_bucket_minutes": 10,
    # An IP / user agent / template shared by more accounts than this is a hub (NAT, VPN exit,
    # a stock client, a stock phrase): it links its accounts sparsely and with less weight.
    "hub_cap": 40,
    "hub_ring_neighbours": 6,
    # Registration bursts: other unrelated accounts registered within this many minutes.
    "burst_minutes": 30,
    # A model counts as "newly released" if first seen this many days after the window start.
    "new_model_min_age_days": 2,
    # signal name -> {weight, threshold, saturation}. Strength is 0 below the threshold and
    # rises linearly from 0.5 at the threshold to 1 at the saturation; contribution =
    # weight x strength; risk = 1 - prod(1 - contribution) (a noisy OR: independent evidence
    # adds up, and no single signal can reach certainty on its own unless its weight is 1).
    "signals": {
        "reasoning_elicitation": {"weight": 0.45, "threshold": 0.25, "saturation": 0.6},
        "capability_targeting": {"weight": 0.2, "threshold": 0.6, "saturation": 0.9},
        "prompt_templating": {"weight": 0.2, "threshold": 0.5, "saturation": 0.85},
        "shared_templates": {"weight": 0.45, "threshold": 0.2, "saturation": 0.6},
        "shared_infrastructure": {"weight": 0.35, "threshold": 3, "saturation": 15},
        "hosting_network": {"weight": 0.15, "threshold": 0.5, "saturation": 0.9},
        "user_agent_reuse": {"weight": 0.1, "threshold": 3, "saturation": 15},
        "shared_payment": {"weight": 0.3, "threshold": 2, "saturation": 6},
        "registration_burst": {"weight": 0.2, "threshold": 4, "saturation": 15},
        "synchronised_activity": {"weight": 0.35, "threshold": 2, "saturation": 8},
        "round_the_clock": {"weight": 0.15, "threshold": 0.92, "saturation": 0.98},
        "output_harvesting": {"weight": 0.2, "threshold": 4.0, "saturation": 12.0},
        "new_account_ramp": {"weight": 0.15, "threshold": 4.0, "saturation": 12.0},
        "model_pivot": {"weight": 0.2, "threshold": 0.5, "saturation": 0.9},
    },
    # Synchronisation: a pair counts as synchronised when their active buckets overlap this
    # many times more than two independent accounts with their activity levels would.
    "sync_min_lift": 3.0,
    "sync_min_jaccard": 0.2,
    # Flagging. A campaign is a community of at least ``campaign_min_accounts`` linked
    # accounts of at least two unrelated organisations whose median member risk reaches
    # ``campaign_threshold``; its members at ``member_threshold`` or above are flagged. An
    # account outside a flagged campaign is flagged alone at ``lone_threshold`` with signals
    # from at least ``lone_min_families`` families (content, coordination, volume, rhythm).
    "campaign_min_accounts": 3,
    "campaign_threshold": 0.55,
    "member_threshold": 0.35,
    "lone_threshold": 0.85,
    "lone_min_families": 3,
    # A community is a distillation campaign only if at least this share of its members also
    # show harvesting behaviour (a content, volume or rhythm signal over its threshold):
    # strangers behind one VPN exit or campus NAT share addresses but not the behaviour.
    "campaign_min_behaviour_share": 0.5,
    # Leiden over the link graph: CPM keeps a group while its links average more than the
    # resolution per pair of members ("modularity" is the alternative objective).
    "leiden_objective": "CPM",
    "leiden_resolution": 0.02,
    "link_min_weight": 0.15,
    # Pieces of one sparse fleet that CPM cut apart are joined again when both harvest and the
    # links between them are at least this many times what chance would give (``d_A d_B / 2m``).
    "campaign_merge_min_lift": 2.0,
    # Campaign identity: a new community continues an earlier campaign when they share at
    # least this share of the smaller one's members.
    "campaign_min_overlap": 0.5,
    # Cases: priority by risk (P1 at >= first, P2 at >= second, P3 at >= third, else P4).
    "priority_risk_cuts": [0.9, 0.75, 0.55],
    # A dismissed (or actioned) case reopens only when the evidence has grown materially
    # since the decision: at least ``reopen_min_new_accounts`` new accounts that are also
    # ``reopen_account_growth`` x the accounts at decision, or exchanges grown by
    # ``reopen_exchange_growth`` x, or risk up by ``reopen_risk_increase``.
    "reopen_min_new_accounts": 5,
    "reopen_account_growth": 0.25,
    "reopen_exchange_growth": 1.0,
    "reopen_risk_increase": 0.15,
}


def effective_params(stored: dict[str, Any] | None) -> dict[str, Any]:
    """``DEFAULTS`` overlaid with a version's stored params (nested signal dicts merged)."""
    params = copy.deepcopy(DEFAULTS)
    for key, value in (stored or {}).items():
        if key == "signals" and isinstance(value, dict):
            for name, spec in value.items():
                if isinstance(spec, dict):
                    params["signals"].setdefault(name, {}).update(spec)
        else:
            params[key] = value
    return params


def validate_params(params: dict[str, Any]) -> list[str]:
    """Problems with a parameter set, in words an admin can act on (empty when fine)."""
    problems = []
    for key in params:
        if key not in DEFAULTS:
            problems.append(f"unknown parameter {key!r}")
    patterns = list(params.get("reasoning_patterns") or [])
    for group, pats in (params.get("capability_patterns") or {}).items():
        if not isinstance(pats, list):
            problems.append(f"capability_patterns[{group!r}] must be a list of patterns")
        else:
            patterns += pats
    for pattern in patterns:
        try:
            re.compile(pattern)
            _rust_regex_check(pattern)
        except Exception as exc:
            problems.append(f"pattern {pattern!r} does not compile: {exc}")
    for name, spec in (params.get("signals") or {}).items():
        if name not in DEFAULTS["signals"]:
            problems.append(f"unknown signal {name!r}")
            continue
        if not isinstance(spec, dict):
            problems.append(f"signal {name!r} needs weight, threshold and saturation")
            continue
        weight = spec.get("weight", 0)
        if not isinstance(weight, int | float) or not 0 <= weight <= 1:
            problems.append(f"{name}: weight must be between 0 and 1")
        thr, sat = spec.get("threshold"), spec.get("saturation")
        if isinstance(thr, int | float) and isinstance(sat, int | float) and sat <= thr:
            problems.append(f"{name}: saturation must be above the threshold")
    share = params.get("campaign_min_behaviour_share", DEFAULTS["campaign_min_behaviour_share"])
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        problems.append("campaign_min_behaviour_share must be a number in [0, 1]")
    minimum = params.get("share_min_exchanges", DEFAULTS["share_min_exchanges"])
    if not isinstance(minimum, int) or minimum < 0:
        problems.append("share_min_exchanges must be a whole number, 0 or more")
    lift = params.get("campaign_merge_min_lift", DEFAULTS["campaign_merge_min_lift"])
    if not isinstance(lift, int | float) or lift <= 0:
        problems.append("campaign_merge_min_lift must be a positive number")
    for key in ("campaign_threshold", "member_threshold", "lone_threshold"):
        value = params.get(key)
        if not isinstance(value, int | float) or not 0 < value <= 1:
            problems.append(f"{key} must be a number in (0, 1]")
    for key in ("chunk_size", "window_days", "hub_cap", "campaign_min_accounts"):
        value = params.get(key)
        if not isinstance(value, int) or value < 1:
            problems.append(f"{key} must be a positive whole number")
    return problems


def _rust_regex_check(pattern: str) -> None:
    import polars as pl

    pl.Series(["x"]).str.contains(f"(?i){pattern}")


def current_config():
    """The highest version; version 1 from ``DEFAULTS`` if there is none yet."""
    from detection.models import DetectionConfig

    config = DetectionConfig.objects.order_by("-version").first()
    if config is not None:
        return config
    try:
        with transaction.atomic():
            return DetectionConfig.objects.create(
                version=1, params=copy.deepcopy(DEFAULTS), reason="Defaults from the code."
            )
    except IntegrityError:  # another process wrote v1 first
        return DetectionConfig.objects.get(version=1)


@transaction.atomic
def config_new_version(*, params: dict[str, Any], reason: str, author=None):
    """Write ``params`` as the next version. Raises ``ValueError`` listing any problems."""
    from detection.models import DetectionConfig

    if not reason.strip():
        raise ValueError("a new configuration version needs a reason")
    problems = validate_params(params)
    if problems:
        raise ValueError("; ".join(problems))
    DetectionConfig.objects.select_for_update().order_by("-version").first()
    latest = DetectionConfig.objects.order_by("-version").values_list("version", flat=True).first()
    return DetectionConfig.objects.create(
        version=(latest or 0) + 1,
        params=params,
        reason=reason.strip(),
        created_by=author if author is not None and author.is_authenticated else None,
    )
