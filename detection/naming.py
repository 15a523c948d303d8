"""Plain-language names: for detection signals, and for a campaign by what it does.

A campaign is named once, when the clustering first finds it, from what most of its members
show: what the fleet harvests (its strongest content or volume signal) and how it works (its
strongest tie). The name then stays while the campaign keeps its identity across runs, so a
case, a queue filter and an export made last week still say the same thing. Pure: plain data
in, a string out.
"""

from __future__ import annotations

# Every signal's name as a page shows it. The keys are the names detection stores (and the
# admin's weights use); a name missing here is shown as words rather than snake_case.
SIGNAL_LABELS = {
    "reasoning_elicitation": "Asks for step-by-step reasoning",
    "capability_targeting": "Targets coding, agents and hard tasks",
    "prompt_templating": "Templated prompts",
    "shared_templates": "Templates shared with unrelated accounts",
    "shared_infrastructure": "Shared IP addresses",
    "hosting_network": "Hosting, proxy or VPN traffic",
    "user_agent_reuse": "Shared uncommon client",
    "shared_payment": "Shared payment card",
    "fleet_move": "Moved onto a flagged fleet",
    "registration_burst": "Registered in a burst",
    "synchronised_activity": "Synchronised activity",
    "coaction": "Acts together with others",
    "model_pivot": "Jumps to new models",
    "new_model_rush": "Rushes a new model from day one",
    "started_together": "Began together with others",
    "output_harvesting": "Harvests output in bulk",
    "new_account_ramp": "New account ramping fast",
    "round_the_clock": "Active round the clock",
    "watch_list": "Matches a watch-list indicator",
    "external_flag": "Flagged by another system",
    # Not a signal: the share of exchanges that used tools, charted beside the signals.
    "tool_use": "Uses tools",
}

# What a fleet harvests, strongest first when members show several equally often.
HARVESTS = {
    "reasoning_elicitation": "Reasoning extraction",
    "capability_targeting": "Capability harvesting",
    "output_harvesting": "Bulk output harvesting",
    "model_pivot": "New-model harvesting",
    "new_model_rush": "New-model harvesting",
}
# How it works: the tie or method most of its members share.
METHODS = {
    "coaction": "lockstep accounts",
    "started_together": "accounts started together",
    "prompt_templating": "templated prompts",
    "shared_templates": "shared prompt templates",
    "shared_payment": "shared cards",
    "shared_infrastructure": "shared exits",
    "synchronised_activity": "synchronised shifts",
    "registration_burst": "burst-registered accounts",
    "user_agent_reuse": "one uncommon client",
    "hosting_network": "proxy networks",
    "fleet_move": "moved accounts",
    "round_the_clock": "round-the-clock traffic",
}
FALLBACK = "Coordinated account fleet"
# A signal counts towards the name when at least this share of the members show it.
MIN_SHARE = 0.5


def signal_label(name: str) -> str:
    name = str(name or "")
    return SIGNAL_LABELS.get(name) or name.replace("_", " ").strip().capitalize() or "—"


def _strongest(shares: dict[str, float], among: dict[str, str]) -> str | None:
    ranked = [
        (shares[name], -order, name)
        for order, name in enumerate(among)
        if shares.get(name, 0.0) >= MIN_SHARE
    ]
    return max(ranked)[2] if ranked else None


def campaign_name(evidence: dict | None) -> str:
    """A campaign's name from its evidence (``Campaign.evidence``: ``signals`` with each one's
    ``share_of_members``), e.g. "Reasoning extraction via templated prompts"."""
    shares: dict[str, float] = {}
    for item in (evidence or {}).get("signals") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            try:
                shares[item["name"]] = float(item.get("share_of_members") or 0)
            except (TypeError, ValueError):
                continue
    harvest = _strongest(shares, HARVESTS)
    method = _strongest(shares, METHODS)
    what = HARVESTS[harvest] if harvest else FALLBACK
    return f"{what} via {METHODS[method]}" if method else what


def campaign_title(name: str, accounts: int) -> str:
    """A campaign case's title: its name and its size."""
    return f"{name}, {accounts} account{'' if accounts == 1 else 's'}"


def is_numbered(label: str) -> bool:
    """Names given before campaigns were named by what they do ("Campaign 4")."""
    head, _, number = (label or "").partition(" ")
    return head == "Campaign" and number.isdigit()
