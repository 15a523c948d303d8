"""How each signal counts toward the risk score, and the capability patterns."""

from __future__ import annotations

from functools import cache
from typing import Annotated, get_type_hints

from msgspec import Meta

from detection.config.defaults import CAPABILITY_PATTERNS
from detection.config.fields import FrozenStruct, about
from detection.naming import signal_label


class SignalSpec(FrozenStruct):
    """How one signal counts: 0 below ``threshold``, 0.5 at it, rising to 1 at ``saturation``;
    it contributes ``weight`` x that strength to the noisy OR that is the risk score."""

    weight: Annotated[float, Meta(ge=0, le=1, description="Contribution at full strength.")]
    threshold: Annotated[float, Meta(ge=0, description="Value at which the signal starts.")]
    saturation: Annotated[float, Meta(ge=0, description="Value at which it is at full strength.")]


def signal_spec(weight: float, threshold: float, saturation: float) -> SignalSpec:
    return SignalSpec(weight=weight, threshold=threshold, saturation=saturation)


class SignalWeights(FrozenStruct):
    """One ``SignalSpec`` per signal of ``detection.signals``, under the signal's name."""

    reasoning_elicitation: Annotated[
        SignalSpec,
        about("Share of prompts asking for chain of thought, full working or reasoning in tags."),
    ] = signal_spec(0.45, 0.25, 0.6)
    capability_targeting: Annotated[
        SignalSpec,
        about(
            "Share of prompts on coding, agentic/tool-use and hard-reasoning tasks, or using tools."
        ),
    ] = signal_spec(0.2, 0.6, 0.9)
    prompt_templating: Annotated[
        SignalSpec,
        about("Share of prompts that repeat or are near-duplicates of the account's own."),
    ] = signal_spec(0.2, 0.5, 0.85)
    shared_templates: Annotated[
        SignalSpec,
        about("Share of the account's sampled prompts that near-duplicate an unrelated account's."),
    ] = signal_spec(0.45, 0.2, 0.6)
    shared_infrastructure: Annotated[
        SignalSpec,
        about(
            "Unrelated accounts using the same IP addresses (hubs such as NATs and VPN exits "
            "excluded)."
        ),
    ] = signal_spec(0.35, 3, 15)
    hosting_network: Annotated[
        SignalSpec,
        about("Share of traffic from hosting, cloud, proxy or VPN networks (hosting ASNs)."),
    ] = signal_spec(0.15, 0.5, 0.9)
    user_agent_reuse: Annotated[
        SignalSpec, about("Unrelated accounts sending the same uncommon user-agent string.")
    ] = signal_spec(0.1, 3, 15)
    shared_payment: Annotated[
        SignalSpec, about("Unrelated accounts paying with the same payment instrument.")
    ] = signal_spec(0.3, 2, 6)
    fleet_move: Annotated[
        SignalSpec,
        about(
            "Recorded changes of the account's card or organisation onto one that accounts "
            "the previous run flagged in a campaign use."
        ),
    ] = signal_spec(0.4, 1, 2)
    registration_burst: Annotated[
        SignalSpec,
        about("Unrelated registrations around this account's, as a multiple of the usual rate."),
    ] = signal_spec(0.2, 4, 15)
    synchronised_activity: Annotated[
        SignalSpec,
        about("Unrelated accounts active in the same time buckets far more often than chance."),
    ] = signal_spec(0.35, 2, 8)
    round_the_clock: Annotated[
        SignalSpec,
        about("How evenly activity spreads over the 24 hours (1 = no daily rhythm at all)."),
    ] = signal_spec(0.15, 0.92, 0.98)
    output_harvesting: Annotated[
        SignalSpec, about("Output tokens received, as a multiple of the plan's median account.")
    ] = signal_spec(0.2, 4.0, 12.0)
    new_account_ramp: Annotated[
        SignalSpec,
        about("A young account's daily traffic as a multiple of the plan's median daily traffic."),
    ] = signal_spec(0.15, 4.0, 12.0)
    coaction: Annotated[
        SignalSpec,
        about(
            "Unrelated accounts working the same prompt template from the same exits within the "
            "same minutes, on several days, far more often than chance."
        ),
    ] = signal_spec(0.5, 2, 8)
    model_pivot: Annotated[
        SignalSpec,
        about("Share of traffic moved to a newly released model within a day of its release."),
    ] = signal_spec(0.2, 0.5, 0.9)
    new_model_rush: Annotated[
        SignalSpec,
        about(
            "In its first days on or after a model's release, the share of the account's "
            "traffic on the new model beyond everyone's adoption on the same days."
        ),
    ] = signal_spec(0.2, 0.5, 0.8)
    started_together: Annotated[
        SignalSpec,
        about(
            "Unrelated accounts registered or woken from dormancy within the same hour, or "
            "young ones that moved onto a new model within a day of its release, that work "
            "the same uncommon prompt templates."
        ),
    ] = signal_spec(0.4, 2, 8)

    watch_list: Annotated[
        SignalSpec,
        about("Watch-list indicators (shared by partners or imported) the account matches."),
    ] = signal_spec(0.5, 1, 3)
    external_flag: Annotated[
        SignalSpec,
        about("Other systems (the account platform, a fraud engine) that flagged the account."),
    ] = signal_spec(0.4, 1, 2)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return cls.__struct_fields__

    @classmethod
    def described(cls) -> dict[str, tuple[str, str]]:
        """Each signal in words, for readers outside the team: ``name -> (label, meaning)``.

        The meaning is the ``about`` text declared above (the admin shows the same words);
        the label is the name as words ("Reasoning elicitation")."""
        return _descriptions(cls)

    def spec(self, name: str) -> SignalSpec:
        """The spec of the signal called ``name`` (``KeyError`` for a name not declared here)."""
        if name not in self.__struct_fields__:
            raise KeyError(name)
        return getattr(self, name)


class CapabilityPatterns(FrozenStruct):
    """Patterns per capability group; each group is a feature column of its own."""

    coding: Annotated[
        tuple[str, ...], about("Prompts on programming: languages, debugging, writing code.")
    ] = CAPABILITY_PATTERNS["coding"]
    agentic: Annotated[
        tuple[str, ...], about("Prompts that drive tools or agents: tool calls, browsing, plans.")
    ] = CAPABILITY_PATTERNS["agentic"]
    reasoning: Annotated[
        tuple[str, ...], about("Hard-reasoning tasks: proofs, maths, puzzles.")
    ] = CAPABILITY_PATTERNS["reasoning"]

    def patterns(self) -> tuple[str, ...]:
        return self.coding + self.agentic + self.reasoning


@cache
def _descriptions(cls: type) -> dict[str, tuple[str, str]]:
    hints = get_type_hints(cls, include_extras=True)
    out = {}
    for name in cls.__struct_fields__:
        metas = getattr(hints[name], "__metadata__", ())
        meaning = next((m.description for m in metas if isinstance(m, Meta)), "") or ""
        out[name] = (signal_label(name), meaning)
    return out
