"""The attributes accounts share, and how a typed value becomes one.

Some live on the account row (card, organisation, email domain), the rest on its exchanges
(exit address, its range, ASN, prompt template, client). Pure: no models, no request, so a
value from a URL or a search box is checked here before any query sees it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from detection.text import clean_text

# The exit range an address belongs to: the /24 of an IPv4 address, the /64 of an IPv6 one
# (one customer's subnet; a proxy network's exits are spread over many of these).
RANGE_PREFIX = {4: 24, 6: 64}
# A prompt template is named by the 64-bit hash of its normalised text (Exchange.prompt_hash).
INT64 = (-(2**63), 2**63 - 1)
ASN_RE = re.compile(r"^(?:AS)?\s*(\d{1,10})$", re.IGNORECASE)


@dataclass(frozen=True)
class Attribute:
    kind: str  # the URL's name for it
    label: str
    column: str  # the Account or Exchange column
    on_account: bool  # on the account row (else on its exchanges)


ATTRIBUTES: dict[str, Attribute] = {
    a.kind: a
    for a in (
        Attribute("ip", "Exit address", "ip", False),
        Attribute("range", "Exit range", "ip", False),
        Attribute("asn", "ASN", "asn", False),
        Attribute("card", "Payment card", "payment_fingerprint", True),
        Attribute("org", "Organisation", "org_id", True),
        Attribute("domain", "Email domain", "email_domain", True),
        Attribute("template", "Prompt template", "prompt_hash", False),
        Attribute("agent", "Client", "user_agent", False),
    )
}
ACCOUNT_KINDS = tuple(k for k, a in ATTRIBUTES.items() if a.on_account)
MAX_VALUE = 1000  # longer than any column holds: nothing can match it


class BadValue(ValueError):
    """Not a value of that kind (a range that is no address, an ASN that is no number)."""


def parse_asn(text: str) -> int | None:
    """``13335``, ``AS13335`` or ``as 13335`` -> 13335; anything else None."""
    match = ASN_RE.match(text.strip())
    return int(match.group(1)) if match else None


def parse_template(text: str) -> int | None:
    """A template id as stored (a signed 64-bit integer) or as pages name it (``T-`` and 16
    hexadecimal digits, see ``template_name``)."""
    text = text.strip()
    if text[:2].upper() == "T-":
        try:
            unsigned = int(text[2:], 16)
        except ValueError:
            return None
        if not 0 <= unsigned < 2**64 or len(text) != 18:
            return None
        return unsigned - 2**64 if unsigned > INT64[1] else unsigned
    try:
        value = int(text)
    except ValueError:
        return None
    return value if INT64[0] <= value <= INT64[1] else None


def template_name(value: int) -> str:
    """A template's name on a page: its hash as 16 hexadecimal digits, never a large negative
    number (the stored hash is signed)."""
    return f"T-{int(value) & (2**64 - 1):016x}"


def exit_range(address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The range (``RANGE_PREFIX``) holding ``address``; ``address`` may already be one."""
    try:
        network = ipaddress.ip_network(address.strip(), strict=False)
    except ValueError as exc:
        raise BadValue(f"not an address or range: {address!r}") from exc
    prefix = RANGE_PREFIX[network.version]
    if network.prefixlen < prefix:
        raise BadValue(f"wider than a /{prefix}: {address!r}")
    return network.supernet(new_prefix=prefix)


def normalise(kind: str, text: str) -> str | int:
    """The value to look up for ``kind``, or ``BadValue``. Text kinds keep the text as typed
    (they are compared exactly, as the account row or exchange holds them)."""
    if kind not in ATTRIBUTES:
        raise BadValue(f"unknown attribute {kind!r}")
    text = as_stored(text)
    if not text or len(text) > MAX_VALUE:
        raise BadValue("no value, or too long to be one")
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(text.strip()))
        except ValueError as exc:
            raise BadValue(f"not an address: {text!r}") from exc
    if kind == "range":
        return str(exit_range(text))
    if kind == "asn":
        asn = parse_asn(text)
        if asn is None:
            raise BadValue(f"not an ASN: {text!r}")
        return asn
    if kind == "template":
        template = parse_template(text)
        if template is None:
            raise BadValue(f"not a template id: {text!r}")
        return template
    return text


def as_stored(text: str) -> str:
    """Typed text as telemetry stores it: ingest removes NULs and lone surrogates (which
    PostgreSQL cannot hold), so a value holding them is looked up without them."""
    return clean_text(text)[0]


def display(kind: str, value) -> str:
    """How a value is named on a page (ASNs as ``AS13335``, templates as ``T-…``)."""
    if kind == "asn":
        return f"AS{value}"
    if kind == "template":
        try:
            return template_name(int(value))
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def range_bounds(network: str) -> tuple[str, str]:
    """First and last address of a range, for an index-friendly ``BETWEEN`` on ``inet``."""
    net = ipaddress.ip_network(network)
    return str(net.network_address), str(net.broadcast_address)
