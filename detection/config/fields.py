"""What every parameter declaration shares: its admin section, help text and bounds, and
the frozen, strict struct the parameter sets are made of."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

# Sections group the parameters in the admin's config form (laid out in detection.admin).
WINDOW, CONTENT, COORDINATION, SIGNALS, FLAGGING, COMMUNITIES = (
    "Window",
    "Content",
    "Coordination",
    "Signals",
    "Flagging",
    "Communities",
)


def param(help_text: str, section: str, **bounds: float) -> Meta:
    """A parameter's help text, admin section and bounds (``ge``, ``gt``, ``le``, ``lt``)."""
    return Meta(description=help_text, extra={"section": section}, **bounds)


class FrozenStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Immutable, and strict on load: an unknown key is an error, never silently ignored."""


def about(what: str) -> Meta:
    return Meta(description=what)


Patterns = tuple[str, ...]
Share = Annotated[float, Meta(ge=0, le=1)]
