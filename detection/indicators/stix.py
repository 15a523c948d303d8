"""STIX 2.1 in and out, through the OASIS ``stix2`` library.

In: every ``indicator`` object of a bundle whose pattern is a STIX pattern of ``=``
comparisons on the observables below, joined by ``OR``, becomes one candidate per value.
A pattern that joins conditions with ``AND`` or in time (``FOLLOWEDBY``, ``WITHIN``) says
"all of these together", which one watch-list entry cannot hold: it is refused by row.

Out: a bundle of an ``identity`` (who shares), the TLP marking chosen at export, and one
``indicator`` per value, so a partner (or this console) imports it back as it left.

Observables: the standard ones for addresses, ranges, AS numbers, email addresses and
domains and user accounts; two custom ones for what STIX has no object for, a payment
instrument's fingerprint (``x-payment-instrument:fingerprint``) and a prompt template
(``x-prompt-template:value``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime

import stix2
from stix2.exceptions import STIXError
from stix2patterns.v21.pattern import Pattern

from detection.indicators.parse import (
    MAX_COMMENT,
    MAX_ROWS,
    Candidate,
    IndicatorFileError,
    Reject,
    RowError,
    clean_text,
    decode,
    normalise,
)
from detection.models import Indicator, Tlp

K = Indicator.Kind
# (object type, property path) -> our kind.
PATHS: dict[tuple[str, str], str] = {
    ("ipv4-addr", "value"): K.IP,
    ("ipv6-addr", "value"): K.IP,
    ("autonomous-system", "number"): K.ASN,
    ("email-addr", "value"): K.EMAIL_DOMAIN,
    ("domain-name", "value"): K.EMAIL_DOMAIN,
    ("user-account", "user_id"): K.ACCOUNT,
    ("user-account", "account_login"): K.ACCOUNT,
    ("x-payment-instrument", "fingerprint"): K.PAYMENT,
    ("x-prompt-template", "value"): K.PROMPT,
}
# Our kind -> the observable path an exported indicator uses (addresses by their version).
EXPORT_PATHS = {
    K.ASN: "autonomous-system:number",
    K.EMAIL_DOMAIN: "domain-name:value",
    K.ACCOUNT: "user-account:user_id",
    K.PAYMENT: "x-payment-instrument:fingerprint",
    K.PROMPT: "x-prompt-template:value",
}
# TLP as STIX 2.1 carries it (the predefined TLP 1.0 marking definitions; CLEAR is WHITE).
# AMBER+STRICT has none, so it travels as AMBER plus a statement saying so.
AMBER_STRICT_STATEMENT = "TLP:AMBER+STRICT"
MARKINGS = {
    Tlp.CLEAR: stix2.TLP_WHITE,
    Tlp.GREEN: stix2.TLP_GREEN,
    Tlp.AMBER: stix2.TLP_AMBER,
    Tlp.AMBER_STRICT: stix2.TLP_AMBER,
    Tlp.RED: stix2.TLP_RED,
}
TLP_OF_MARKING = {
    stix2.TLP_WHITE.id: Tlp.CLEAR,
    stix2.TLP_GREEN.id: Tlp.GREEN,
    stix2.TLP_AMBER.id: Tlp.AMBER,
    stix2.TLP_RED.id: Tlp.RED,
}
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")
_JOINS = re.compile(r"\b(AND|FOLLOWEDBY|WITHIN|REPEATS|START|STOP)\b")


def _literal(text: str) -> str:
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return text


def pattern_values(pattern: str) -> list[tuple[str, str]]:
    """(kind, raw value) for each comparison of a pattern; ``RowError`` for one we cannot
    watch. Validation is the ``stix2-patterns`` grammar's, not a regular expression's."""
    try:
        parsed = Pattern(pattern)
    except Exception as exc:  # the grammar's own errors have no common base class
        raise RowError(f"not a valid STIX pattern: {str(exc)[:200]}") from None
    if _JOINS.search(_QUOTED.sub("''", pattern)):
        raise RowError(
            "the pattern joins conditions with AND or in time; only single values or "
            "values joined by OR can be watched"
        )
    out = []
    for object_type, comparisons in parsed.inspect().comparisons.items():
        for path, op, value in comparisons:
            where = (object_type, ".".join(str(p) for p in path))
            if where not in PATHS:
                raise RowError(f"{where[0]}:{where[1]} is not an observable this console watches")
            if op != "=":
                raise RowError(f"only '=' comparisons can be watched, not {op!r}")
            out.append((PATHS[where], _literal(value)))
    return out


def _tlp_of(obj: dict, markings: dict[str, dict]) -> str:
    levels = []
    for ref in obj.get("object_marking_refs") or []:
        if ref in TLP_OF_MARKING:
            levels.append(TLP_OF_MARKING[ref])
        definition = (markings.get(ref) or {}).get("definition")
        statement = definition.get("statement") if isinstance(definition, dict) else None
        if statement == AMBER_STRICT_STATEMENT:
            levels.append(Tlp.AMBER_STRICT)
    order = list(Tlp.values)
    return max(levels, key=order.index) if levels else ""


def parse_bundle(data: bytes) -> Iterator[Candidate | Reject]:
    """Candidates from a STIX 2.1 bundle; each indicator object is one numbered row (its
    position among the bundle's objects, from 1), and a rejected object is reported with its
    id. Objects that are not indicators (identities, markings, relationships) are read for
    the source and TLP and otherwise skipped."""
    try:
        document = json.loads(decode(data))
    except json.JSONDecodeError as exc:
        raise IndicatorFileError(f"the file is not JSON: {exc}") from None
    except RecursionError:
        raise IndicatorFileError("the file nests JSON too deeply to be a STIX bundle") from None
    if not isinstance(document, dict) or document.get("type") != "bundle":
        raise IndicatorFileError('the file is not a STIX bundle (no "type": "bundle")')
    objects = document.get("objects")
    if not isinstance(objects, list):
        raise IndicatorFileError('the bundle has no "objects" list')
    if len(objects) > MAX_ROWS:
        raise IndicatorFileError(f"the bundle has more than {MAX_ROWS} objects; split it")
    # Objects looked up by id (creators, markings); one whose id is not a string names nothing.
    dicts = [o for o in objects if isinstance(o, dict) and isinstance(o.get("id"), str)]
    names = {
        o["id"]: clean_text(str(o.get("name", "")))[:255]
        for o in dicts
        if o.get("type") == "identity"
    }
    markings = {o["id"]: o for o in dicts if o.get("type") == "marking-definition"}
    for number, raw in enumerate(objects, start=1):
        if not isinstance(raw, dict):
            yield Reject(number, "", "not a STIX object")
            continue
        if raw.get("type") != "indicator":
            continue
        label = clean_text(str(raw.get("id", "")))[:80]
        try:
            obj = stix2.parse(raw, allow_custom=True, version="2.1")
        except (STIXError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # The library's own errors, and what its checks raise on values of the wrong
            # shape (a list where a string belongs): one object refused, the rest read.
            yield Reject(number, label, f"not a valid STIX 2.1 indicator: {str(exc)[:200]}")
            continue
        if obj.pattern_type != "stix":
            yield Reject(number, label, f"pattern type {obj.pattern_type!r} is not 'stix'")
            continue
        try:
            values = pattern_values(obj.pattern)
        except RowError as exc:
            yield Reject(number, label, str(exc))
            continue
        comment = " - ".join(
            clean_text(str(part)) for part in (obj.get("name"), obj.get("description")) if part
        )[:MAX_COMMENT]
        expires: datetime | None = obj.get("valid_until")
        source = names.get(obj.get("created_by_ref"), "")
        tlp = _tlp_of(raw, markings)
        for kind, value in values:
            try:
                kind, normalised, digest = normalise(kind, value)
            except RowError as exc:
                yield Reject(number, label, str(exc))
                continue
            yield Candidate(number, kind, normalised, comment, digest, obj.id, expires, tlp, source)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern_for(kind: str, value: str) -> str:
    if kind in (K.IP, K.CIDR):
        path = "ipv6-addr:value" if ":" in value else "ipv4-addr:value"
        return f"[{path} = {_quote(value)}]"
    if kind == K.ASN:
        return f"[{EXPORT_PATHS[kind]} = {int(value)}]"
    return f"[{EXPORT_PATHS[kind]} = {_quote(value)}]"


def build_bundle(
    rows: Iterable[tuple[str, str, str]],
    *,
    tlp: str,
    identity_name: str,
    name: str,
    created: datetime,
) -> str:
    """A STIX 2.1 bundle (JSON text) of ``(kind, value, description)`` rows, every object
    marked ``tlp`` and created by an identity called ``identity_name``."""
    identity = stix2.Identity(name=identity_name, identity_class="organization")
    markings = [MARKINGS[tlp]]
    if tlp == Tlp.AMBER_STRICT:
        markings.append(
            stix2.MarkingDefinition(
                definition_type="statement",
                definition=stix2.StatementMarking(AMBER_STRICT_STATEMENT),
                created_by_ref=identity.id,
            )
        )
    refs = [m.id for m in markings]
    objects: list = [identity, *markings]
    for kind, value, description in rows:
        objects.append(
            stix2.Indicator(
                name=f"{name}: {Indicator.Kind(kind).label}",
                description=description,
                pattern=pattern_for(kind, value),
                pattern_type="stix",
                valid_from=created,
                created_by_ref=identity.id,
                object_marking_refs=refs,
                indicator_types=["malicious-activity"],
                allow_custom=True,
            )
        )
    return stix2.Bundle(objects=objects, allow_custom=True).serialize(pretty=True)
