"""The ingest contract, declared once: every field of the two record kinds.

Operators' files carry accounts and exchanges (docs/ingest.md, "Validation rules"). Each
field is one :class:`Field` below, in the order the stored row keeps: what the parser checks
(``check``, ``required``, the limits), the PostgreSQL type it is written as by binary
``COPY``, and its polars dtype in detection's frames. Everything that lists these fields
derives from here: the parser's checks and its fast path's decoder
(``detection.ingest.parse``), the CSV header check (``formats``), the ``COPY`` column lists
and binary types (``loaders``, ``parallel``), detection's bulk read and its frame schema
(``detection.services``, ``detection.features``), the bench's bare ``COPY`` and the
generator's records. tests/detection/test_contract.py holds the models and docs/ingest.md
to it. Both kinds end with the two marks ingest computes for text it had to clean
(``text_flags``, ``text_originals``; docs/ingest.md, "Text that cannot be stored as sent").

A parsed record is a named row (:data:`ExchangeRow`, :data:`AccountRow`): a tuple in column
order, so the loaders' hot loops still index it and ``COPY`` writes it as it is.
"""

from __future__ import annotations

import ipaddress
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

# What the parser checks a field for (``detection.ingest.parse`` has one check per kind).
IDENTIFIER = "identifier"  # a non-empty string, the record's or its account's id
TIMESTAMP = "timestamp"  # RFC 3339 with a zone
ADDRESS = "address"  # an IPv4 or IPv6 address
TEXT = "text"  # a string stored exactly (optional: absent is "")
INTEGER = "integer"  # 0 to ``maximum``; not a boolean
BOOLEAN = "boolean"
COUNTRY = "country"  # ISO 3166-1 alpha-2, stored upper-case
COMPUTED = "computed"  # made at ingest, never read from a file
# Made at ingest too: what cleaning the row's text found (detection.text's TEXT_* bits, 0 for
# a clean row) and the original values it changed, escaped (a JSON object, "" for none).
TEXT_FLAGS = "text_flags"
TEXT_ORIGINALS = "text_originals"

# The Python type of a checked value, per check.
PYTHON_TYPES: dict[str, Any] = {
    IDENTIFIER: str,
    TIMESTAMP: datetime,
    ADDRESS: ipaddress.IPv4Address | ipaddress.IPv6Address,
    TEXT: str,
    INTEGER: int,
    BOOLEAN: bool,
    COUNTRY: str,
    COMPUTED: int,
    TEXT_FLAGS: int,
    TEXT_ORIGINALS: str,
}

MAX_ID = 255  # CharField(max_length=255) in detection.models
MAX_PLAN = 64
MAX_BIGINT = 2**63 - 1
MAX_ASN = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record kind.

    ``max_length`` counts characters; ``maximum`` bounds an integer. ``postgres`` is the
    column's type as binary ``COPY`` sends it (an exchange's ``account_id`` is stored as the
    account's key). ``polars`` is its dtype in detection's frames, ``None`` when detection
    does not read it; ``frame_name`` its name there when that differs (the account's key is
    ``account``).
    """

    name: str
    check: str
    required: bool = False
    max_length: int | None = None
    maximum: int | None = None
    postgres: str = "text"
    polars: Any = None
    frame_name: str | None = None

    @property
    def python_type(self) -> Any:
        return PYTHON_TYPES[self.check]

    @property
    def computed(self) -> bool:
        return self.check in (COMPUTED, TEXT_FLAGS, TEXT_ORIGINALS)

    @property
    def frame_column(self) -> str:
        return self.frame_name or self.name


_UTC_MICROSECONDS = pl.Datetime("us", "UTC")
# Last in both kinds' rows: the mark of a row whose text was cleaned (docs/ingest.md, "Text
# that cannot be stored as sent"). Detection does not read them; the evidence does.
_CLEANING = (
    Field("text_flags", TEXT_FLAGS, postgres="int2"),
    Field("text_originals", TEXT_ORIGINALS),
)

ACCOUNT_COLUMNS: tuple[Field, ...] = (
    Field("account_id", IDENTIFIER, required=True, max_length=MAX_ID, polars=pl.Utf8),
    Field("created_at", TIMESTAMP, required=True, postgres="timestamptz", polars=_UTC_MICROSECONDS),
    Field("email_domain", TEXT, max_length=MAX_ID, polars=pl.Utf8),
    Field("org_id", TEXT, max_length=MAX_ID, polars=pl.Utf8),
    Field("payment_fingerprint", TEXT, max_length=MAX_ID, polars=pl.Utf8),
    Field("country", COUNTRY),
    Field("plan", TEXT, max_length=MAX_PLAN, polars=pl.Utf8),
    *_CLEANING,
)

EXCHANGE_COLUMNS: tuple[Field, ...] = (
    Field("exchange_id", IDENTIFIER, required=True, max_length=MAX_ID),
    Field(
        "account_id",
        IDENTIFIER,
        required=True,
        max_length=MAX_ID,
        postgres="int8",
        polars=pl.Int64,
        frame_name="account",
    ),
    Field("ts", TIMESTAMP, required=True, postgres="timestamptz", polars=_UTC_MICROSECONDS),
    Field("ip", ADDRESS, required=True, postgres="inet", polars=pl.Utf8),
    Field("asn", INTEGER, maximum=MAX_ASN, postgres="int8", polars=pl.Int64),
    Field("user_agent", TEXT, polars=pl.Utf8),
    Field("model", TEXT, required=True, max_length=MAX_ID, polars=pl.Utf8),
    Field("prompt", TEXT, polars=pl.Utf8),
    # A 64-bit hash of the normalised prompt (detection.text.prompt_fingerprint): detection
    # collapses repeated and templated prompts on it without reading the text again.
    Field("prompt_hash", COMPUTED, postgres="int8", polars=pl.Int64),
    Field("input_tokens", INTEGER, maximum=MAX_BIGINT, postgres="int8", polars=pl.Int64),
    Field("output_tokens", INTEGER, maximum=MAX_BIGINT, postgres="int8", polars=pl.Int64),
    Field("tool_use", BOOLEAN, postgres="bool", polars=pl.Boolean),
    *_CLEANING,
)

# What a file carries, in the documented order (the stored row less what ingest computes).
ACCOUNT_FIELDS: tuple[Field, ...] = tuple(f for f in ACCOUNT_COLUMNS if not f.computed)
EXCHANGE_FIELDS: tuple[Field, ...] = tuple(f for f in EXCHANGE_COLUMNS if not f.computed)
FIELDS = {"accounts": ACCOUNT_FIELDS, "exchanges": EXCHANGE_FIELDS}


def names(fields: tuple[Field, ...]) -> tuple[str, ...]:
    return tuple(f.name for f in fields)


# A parsed record: the stored columns in order, by name. ``collections.namedtuple`` (not a
# class statement) so the names come from the declaration above and nowhere else.
# The marks default to a row stored as sent.
_CLEAN = (0, "")
ExchangeRow = namedtuple("ExchangeRow", names(EXCHANGE_COLUMNS), defaults=_CLEAN)
AccountRow = namedtuple("AccountRow", names(ACCOUNT_COLUMNS), defaults=_CLEAN)

# An exchange row's positions, for the loops that run once a row of millions and index.
EXCHANGE_INDEX = {name: i for i, name in enumerate(ExchangeRow._fields)}

# The exchange frame detection reads: the columns it uses, as ``features`` computes on them.
EXCHANGE_FRAME_SCHEMA: dict[str, Any] = {
    f.frame_column: f.polars for f in EXCHANGE_COLUMNS if f.polars is not None
}
