"""Indicator files to candidate rows, each checked on its own (pure: no database).

A file is hostile input: a partner's export, a feed, something an attacker could have
shaped. Each row is checked and normalised on its own; a row that fails becomes a
``Reject`` with its row number and the reason, and the rest of the file loads. What makes
the whole file unusable (not UTF-8, no header, not a STIX bundle, too large) raises
``IndicatorFileError`` with a sentence that says what to fix.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from detection.ingest.parse import prompt_hash
from detection.models import Indicator

K = Indicator.Kind
# The longest value and comment kept; longer ones are refused (a value) or cut (a comment).
MAX_VALUE = 2048
MAX_COMMENT = 4000
# A file with more rows than this is refused whole rather than half loaded.
MAX_ROWS = 200_000
CSV_COLUMNS = ("indicator_type", "indicator_value", "comment")

# indicator_type as written by Meta's threat reports, STIX-minded feeds and people, to ours.
# Types this console cannot match (URLs, page ids, hashes of files) are refused by row.
TYPE_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ["ip", "ip_address", "ipaddress", "ipv4", "ipv6", "ipv4-addr", "ipv6-addr", "address"],
        K.IP,
    ),
    **dict.fromkeys(["cidr", "ip_range", "ip-range", "range", "network", "subnet"], K.CIDR),
    **dict.fromkeys(["asn", "as", "as_number", "autonomous-system"], K.ASN),
    **dict.fromkeys(
        ["email_domain", "email-domain", "domain", "domain-name", "email", "email_address",
         "email-addr"],
        K.EMAIL_DOMAIN,
    ),
    **dict.fromkeys(
        ["payment_fingerprint", "payment", "card_fingerprint", "payment-fingerprint"], K.PAYMENT
    ),
    **dict.fromkeys(["prompt_template", "prompt", "prompt-template"], K.PROMPT),
    **dict.fromkeys(["account_id", "account", "user_id", "user-account"], K.ACCOUNT),
}  # fmt: skip

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9-]{1,63}$")
_ASN = re.compile(r"^(?:as)?\s*(\d{1,10})$", re.IGNORECASE)


class IndicatorFileError(ValueError):
    """The file cannot be read at all; nothing was imported."""


class RowError(ValueError):
    """One row cannot be imported; the reason is the message."""


@dataclass(frozen=True)
class Candidate:
    """A checked, normalised row, ready to become an ``Indicator``."""

    row: int
    kind: str
    value: str
    comment: str = ""
    prompt_hash: int | None = None
    stix_id: str = ""
    expires_at: datetime | None = None
    tlp: str = ""
    source: str = ""


@dataclass(frozen=True)
class Reject:
    row: int
    value: str
    reason: str

    def as_dict(self) -> dict:
        return {"row": self.row, "value": self.value[:200], "reason": self.reason}


def clean_text(text: str) -> str:
    """``text`` without control and format characters (a NUL, a bidi override, a BOM):
    nothing anyone sees, and what would hide one value inside another."""
    return "".join(
        ch
        for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"}
    ).strip()


def normalise(kind: str, raw: str) -> tuple[str, str, int | None]:
    """(kind, value, prompt hash) for a raw value of ``kind``; ``RowError`` if it is not one.

    An address with a prefix length is a range; a range of one address is an address; an
    email address is kept as its domain (the part the console records)."""
    value = clean_text(raw)
    if not value:
        raise RowError("the value is empty")
    if len(value) > MAX_VALUE:
        raise RowError(f"the value is longer than {MAX_VALUE} characters")
    if kind in (K.IP, K.CIDR):
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise RowError(f"not an IP address or range: {value[:80]!r}") from None
        if network.num_addresses == 1:
            return K.IP, str(network.network_address), None
        if network.prefixlen < (8 if network.version == 4 else 16):
            raise RowError(f"range {network} is too wide to watch (more than a /8 or /16)")
        return K.CIDR, str(network), None
    if kind == K.ASN:
        match = _ASN.match(value)
        if not match or not 0 < int(match.group(1)) < 2**32:
            raise RowError(f"not an AS number: {value[:80]!r}")
        return K.ASN, str(int(match.group(1))), None
    if kind == K.EMAIL_DOMAIN:
        domain = value.rsplit("@", 1)[-1].strip().rstrip(".").lower()
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise RowError(f"not a domain: {value[:80]!r}") from None
        if not _DOMAIN.match(domain) or "." not in domain:
            raise RowError(f"not a domain: {value[:80]!r}")
        return K.EMAIL_DOMAIN, domain, None
    if kind == K.PROMPT:
        digest = prompt_hash(value)
        if digest is None:
            raise RowError("the prompt template is empty")
        return K.PROMPT, value, digest
    if kind in (K.PAYMENT, K.ACCOUNT):
        if len(value) > 255:
            raise RowError("the value is longer than 255 characters")
        return kind, value, None
    raise RowError(f"unknown kind {kind!r}")


def kind_of(indicator_type: str) -> str:
    key = clean_text(indicator_type).lower().replace(" ", "_")
    try:
        return TYPE_ALIASES[key]
    except KeyError:
        watched = ", ".join(K.values)
        raise RowError(
            f"indicator type {indicator_type[:40]!r} is not one this console watches ({watched})"
        ) from None


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IndicatorFileError(
            f"the file is not UTF-8 text (byte {exc.start} cannot be read)"
        ) from None


def parse_csv(data: bytes) -> Iterator[Candidate | Reject]:
    """Rows of a CSV with the header ``indicator_type, indicator_value, comment`` (Meta's
    threat-report layout; extra columns are ignored). Row numbers count the header as 1."""
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise IndicatorFileError("the file is empty") from None
    except csv.Error as exc:
        raise IndicatorFileError(f"the header row is not CSV: {exc}") from None
    names = [clean_text(h).lower() for h in header]
    missing = [c for c in CSV_COLUMNS[:2] if c not in names]
    if missing:
        raise IndicatorFileError(
            "the header row must name the columns indicator_type, indicator_value and "
            f"(optionally) comment; missing: {', '.join(missing)}"
        )
    at = {name: names.index(name) for name in CSV_COLUMNS if name in names}
    row_number = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise IndicatorFileError(f"row {row_number + 1} is not CSV: {exc}") from None
        row_number += 1
        if row_number > MAX_ROWS + 1:
            raise IndicatorFileError(f"the file has more than {MAX_ROWS} rows; split it")
        if not any(f.strip() for f in fields):
            continue
        value = fields[at["indicator_value"]] if len(fields) > at["indicator_value"] else ""
        try:
            kind = kind_of(fields[at["indicator_type"]] if fields else "")
            kind, normalised, digest = normalise(kind, value)
        except RowError as exc:
            yield Reject(row_number, clean_text(value), str(exc))
            continue
        comment = ""
        if "comment" in at and len(fields) > at["comment"]:
            comment = clean_text(fields[at["comment"]])[:MAX_COMMENT]
        yield Candidate(row_number, kind, normalised, comment, digest)
