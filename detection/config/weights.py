"""How each signal counts toward the risk score, and the capability patterns."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from detection.config.defaults import CAPABILITY_PATTERNS
from detection.config.fields import _about, _Frozen


class SignalSpec(_Frozen):
    """How one signal counts: 0 below ``threshold``, 0.5 at it, rising to 1 at ``saturation``;
    it contributes ``weight`` x that strength to the noisy OR that is the risk score."""

    weight: Annotated[float, Meta(ge=0, le=1, description="Contribution at full strength.")]
    threshold: Annotated[float, Meta(ge=0, description="Value at which the signal starts.")]
    saturation: Annotated[float, Meta(ge=0, description="Value at which it is at full strength.")]


def _signal(weight: float, threshold: float, saturation: float) -> SignalSpec:
    return SignalSpec(weight=weight, threshold=threshold, saturation=saturation)


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
