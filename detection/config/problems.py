"""What is wrong with a parameter set, named by parameter."""

from __future__ import annotations

import re
from dataclasses import dataclass


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


def problem_from(error: str) -> Problem:
    """msgspec's "Expected `int` >= 1 - at `$.window_days`" as a problem of ``window_days``."""
    match = _AT.match(error)
    message, path = match["message"], (match["path"] or "").lstrip(".")
    unknown = _UNKNOWN.match(message)
    if unknown:
        key = f"{path}.{unknown['name']}" if path else unknown["name"]
        return Problem(key, "unknown parameter")
    return Problem(path, message[:1].lower() + message[1:])


def rust_regex_check(pattern: str) -> None:
    import polars as pl

    pl.Series(["x"]).str.contains(f"(?i){pattern}")
