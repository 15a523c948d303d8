"""Validation of one record against the ingest contract (DESIGN.md, "Ingest format").

Pure and fast: plain dicts in, tuples out, no models, no database. A record that breaks the
contract raises :class:`RowError` with a reason an operator can act on ("ts: no time zone").

JSON Lines records arrive typed (orjson); CSV records arrive as strings and are converted
first by :func:`csv_record` (empty cell = absent; integers in plain decimal; booleans
``true``/``false``/``1``/``0``), then both go through the same checks, so a value means the same
thing in either format.

Text that cannot be stored as sent (docs/ingest.md, "Text that cannot be stored as sent"):
a NUL, a lone surrogate (``\ud800`` in JSON), a byte that is not UTF-8 (CSV, JSON Lines) or
a value longer than its field allows, in any text field (and a country that is no country
code), never rejects the row: the field is stored cleaned (:func:`detection.text.clean_text`:
those characters removed, cut to the limit), the row's ``text_flags`` say what was found and
its ``text_originals`` keep every changed original, escaped losslessly
(:func:`detection.text.escape_text`). Removing rather than replacing means a fleet that salts
its prompts reads, fingerprints and links exactly like the same fleet unsalted. Identifiers
(the provider's own keys) and times stay strict: a row without a usable id, account or time
is structurally broken and rejected.

``notes`` (the parsers' second argument) collects non-fatal remarks about a row, written to
the notices file; the current contract has none, so it stays empty, but callers pass it.

Exchange lines of JSON Lines files first go through :func:`exchange_from_json`, a fast path
that decodes and type-checks the line in one compiled step (msgspec) and only ever accepts:
any line it cannot take as it stands (a type, range or time zone problem, a NUL escape, bad
JSON, a field outside the contract) returns ``None`` and goes through ``orjson`` and
:func:`parse_exchange`, which load it or name the problem. Property tests hold the two to the
same rows.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import struct
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson

from detection.contract import (
    ACCOUNT_COLUMNS,
    ADDRESS,
    BOOLEAN,
    COUNTRY,
    EXCHANGE_COLUMNS,
    EXCHANGE_INDEX,
    FIELDS,
    IDENTIFIER,
    INTEGER,
    TEXT,
    TEXT_FLAGS,
    TEXT_ORIGINALS,
    TIMESTAMP,
    AccountRow,
    ExchangeRow,
    Field,
)
from detection.text import TEXT_NOT_A_CODE, clean_text, escape_text, storable

# RFC 3339 date-time (section 5.6): the zone is required. "t"/"z" may be lower case and a
# space may stand for "T" (section 5.6, NOTE). Digits past microseconds are dropped
# (PostgreSQL stores microseconds).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
_ZONELESS = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?")
_DIGITS = re.compile(r"\d+")
_CSV_INT = re.compile(r"[+-]?\d+")
_CSV_BOOL = {"true": True, "false": False, "1": True, "0": False}

# ISO 3166-1 alpha-2, officially assigned codes, plus XK (Kosovo), which the ISO maintenance
# agency leaves to users and which payment and geo-IP providers emit.
COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW XK""".split()  # noqa: SIM905
)

# CSV cells that convert to the JSON types (see csv_record).
_CSV_INTS = frozenset(f.name for fields in FIELDS.values() for f in fields if f.check == INTEGER)
_CSV_BOOLS = frozenset(f.name for fields in FIELDS.values() for f in fields if f.check == BOOLEAN)


class RowError(ValueError):
    """The record breaks the contract; ``str(error)`` is the reason shown to the operator."""


class Cleaned(str):
    """A text field's stored value that differs from what was sent: the parsers move its
    ``flags`` and escaped ``original`` to the row's marks (:func:`_marked`)."""

    __slots__ = ("flags", "original")

    @classmethod
    def of(cls, value: str, stored: str, flags: int) -> Cleaned:
        cleaned = cls(stored)
        cleaned.flags, cleaned.original = flags, escape_text(value)
        return cleaned


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_timestamp(value: Any, field: str) -> datetime:
    if value is None:
        raise RowError(f"{field}: missing required field")
    if not isinstance(value, str):
        raise RowError(f"{field}: must be an RFC 3339 timestamp string, got {_short(value)}")
    if not _RFC3339.fullmatch(value):
        if _ZONELESS.fullmatch(value):
            raise RowError(f"{field}: timestamp has no time zone (add Z or an offset): {value!r}")
        raise RowError(f"{field}: not an RFC 3339 timestamp: {_short(value)}")
    try:
        return datetime.fromisoformat(value.upper() if "t" in value or "z" in value else value)
    except ValueError as exc:  # 2026-02-30, a leap second, ...
        raise RowError(f"{field}: impossible date or time {value!r} ({exc})") from None


# One check per kind of field (``Field.check``): ``check(record, field)`` is the field's
# value for the row, or a RowError naming the field.


def _identifier(record: dict, field: Field) -> str:
    name = field.name
    value = record.get(name)
    if value is None:
        raise RowError(f"{name}: missing required field")
    if not isinstance(value, str):
        raise RowError(f"{name}: must be a string, got {_short(value)}")
    if not value:
        raise RowError(f"{name}: empty")
    if len(value) > field.max_length:
        raise RowError(f"{name}: longer than {field.max_length} characters ({len(value)})")
    if not storable(value):
        raise RowError(
            f"{name}: holds a NUL, a lone surrogate or bytes that are not UTF-8: an identifier "
            "is the provider's own key and must be stored exactly"
        )
    return value


def _text(record: dict, field: Field) -> str:
    """Free text (absent: ""); a required one must be there and not empty. Text that cannot
    be stored as sent comes back :class:`Cleaned` (see the module docstring)."""
    name, limit = field.name, field.max_length
    value = record.get(name)
    if value is None:
        if field.required:
            raise RowError(f"{name}: missing required field")
        return ""
    if not isinstance(value, str):
        raise RowError(f"{name}: must be a string, got {_short(value)}")
    if not value and field.required:
        raise RowError(f"{name}: empty")
    if (limit is not None and len(value) > limit) or not storable(value):
        return Cleaned.of(value, *clean_text(value, limit))
    return value


def _integer(record: dict, field: Field) -> int | None:
    name = field.name
    value = record.get(name)
    if value is None:
        return None
    # bool is an int in Python; the contract's integers are not true/false.
    if type(value) is not int:
        raise RowError(f"{name}: must be an integer, got {_short(value)}")
    if value < 0:
        raise RowError(f"{name}: must be 0 or more, got {value}")
    if value > field.maximum:
        raise RowError(f"{name}: too large ({value}; at most {field.maximum})")
    return value


def _boolean(record: dict, field: Field) -> bool | None:
    value = record.get(field.name)
    if value is None or type(value) is bool:
        return value
    raise RowError(f"{field.name}: must be true or false, got {_short(value)}")


def _timestamp(record: dict, field: Field) -> datetime:
    return parse_timestamp(record.get(field.name), field.name)


def _address(record: dict, field: Field) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return _ip(record.get(field.name), field.name)


def _ip(value: Any, name: str = "ip") -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if value is None:
        raise RowError(f"{name}: missing required field")
    if not isinstance(value, str):
        raise RowError(f"{name}: must be a string, got {_short(value)}")
    if "." in value and ":" not in value:
        # IPv4 fast path: inet_pton takes exactly dotted-quad decimal, no leading zeros,
        # as ipaddress does, in a fraction of the time.
        try:
            return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, value))
        except (OSError, ValueError):  # ValueError: non-ASCII or NUL in the string
            raise RowError(f"{name}: not an IPv4 or IPv6 address: {_short(value)}") from None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise RowError(f"{name}: not an IPv4 or IPv6 address: {_short(value)}") from None
    if getattr(address, "scope_id", None):
        raise RowError(f"{name}: an IPv6 zone (%{address.scope_id}) is not an address")
    return address


def _country(record: dict, field: Field) -> str:
    name = field.name
    value = record.get(name)
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise RowError(f"{name}: must be a string, got {_short(value)}")
    code = value.upper()
    if code not in COUNTRIES:  # text the account's owner may control: kept, not a reason to drop
        return Cleaned.of(value, "", TEXT_NOT_A_CODE | clean_text(value)[1])
    return code


CHECKS: dict[str, Callable[[dict, Field], Any]] = {
    IDENTIFIER: _identifier,
    TIMESTAMP: _timestamp,
    ADDRESS: _address,
    TEXT: _text,
    INTEGER: _integer,
    BOOLEAN: _boolean,
    COUNTRY: _country,
}


def _plan(columns: tuple[Field, ...]) -> tuple[tuple[int, Callable, Field], ...]:
    """(position in the row, check, field) for each field a file carries, required fields
    first: a record that breaks several rules is rejected for its first missing or broken
    required field, the one an operator most needs to hear about."""
    steps = [(i, CHECKS[f.check], f) for i, f in enumerate(columns) if not f.computed]
    return tuple(sorted(steps, key=lambda step: not step[2].required))


# ASCII fast path of prompt_hash, one byte translation: upper case to lower case, digits to
# "0", and every ASCII character that ``\s`` and ``str.split`` treat as white space
# (\t \n \v \f \r and \x1c-\x1f) to a space.
_ASCII_WHITE = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_ASCII_FOLD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + _ASCII_WHITE,
    b"abcdefghijklmnopqrstuvwxyz0000000000" + b" " * len(_ASCII_WHITE),
)


def prompt_hash(text: str) -> int | None:
    """``detection.text.prompt_fingerprint``, computed more than twice as fast.

    Same normalisation (casefold, digit runs to "0", white space runs to one space, trimmed)
    and the same hash. Most prompts are ASCII, where casefold is ``lower``, ``\\d`` is 0-9 and
    ``\\s`` is the characters above: one ``bytes.translate`` folds them, and runs of "0" and
    of spaces are halved until none is left, without a regex or a list of words. Other text
    folds white space with ``" ".join(s.split())``, which splits on exactly the characters
    ``\\s`` matches. tests/detection/test_ingest_loaders.py checks the two functions agree on
    arbitrary text, so the shared definition stays the one in detection.text.
    """
    if text.isascii():
        data = text.encode("ascii").translate(_ASCII_FOLD)
        while b"00" in data:
            data = data.replace(b"00", b"0")
        while b"  " in data:
            data = data.replace(b"  ", b" ")
        data = data.strip(b" ")
    else:
        data = " ".join(_DIGITS.sub("0", text.casefold()).split()).encode("utf-8", "surrogatepass")
    if not data:
        return None
    blake2b = _BLAKE2B_8.copy()
    blake2b.update(data)
    return _INT64(blake2b.digest())[0]


# BLAKE2b with an 8-byte digest, ready: copying it costs less than setting one up; and the
# digest read as a signed big-endian 64-bit integer.
_BLAKE2B_8 = hashlib.blake2b(digest_size=8)
_INT64 = struct.Struct(">q").unpack


def prompt_hashes(texts: list[str]) -> list[int | None]:
    """``[prompt_hash(text) for text in texts]``, for a block of prompts at once: half the
    cost, because the fold runs once for the block in numpy instead of five C calls a
    prompt (docs/benchmarks.md, "Ingest").

    The ASCII prompts are joined by NUL (which no stored prompt holds, and which the fold
    leaves alone, so no run reaches across two prompts) and translated as one; then every
    "0" or space that repeats the byte before it goes, then a space next to a NUL or at
    either end (each prompt trimmed), and the block is split again. Only the hash runs once
    a prompt. Prompts with other characters go through :func:`prompt_hash` one by one.
    tests/detection/test_ingest_parse.py holds this to :func:`prompt_hash` on any text.
    """
    hashes: list[int | None] = [None] * len(texts)
    positions = [i for i, text in enumerate(texts) if text.isascii()]
    if len(positions) < len(texts):
        for i, text in enumerate(texts):
            if not text.isascii():
                hashes[i] = prompt_hash(text)
    ascii_texts = texts if len(positions) == len(texts) else [texts[i] for i in positions]
    data = "\x00".join(ascii_texts).encode("ascii")
    if data.count(0) != len(positions) - 1:  # a prompt holds a NUL (or there are none)
        for i in positions:
            hashes[i] = prompt_hash(texts[i])
        return hashes
    if not data:
        return hashes
    folded = np.frombuffer(data.translate(_ASCII_FOLD), np.uint8)
    keep = np.empty(len(folded), bool)
    keep[0] = True
    np.not_equal(folded[1:], folded[:-1], out=keep[1:])
    keep[1:] |= (folded[1:] != _ZERO) & (folded[1:] != _SPACE)
    folded = folded[keep]
    space, nul = folded == _SPACE, folded == 0
    trim = np.zeros(len(folded), bool)
    trim[:-1] |= space[:-1] & nul[1:]
    trim[1:] |= space[1:] & nul[:-1]
    trim[0] |= space[0]
    trim[-1] |= space[-1]
    pieces = folded[~trim].tobytes().split(b"\x00")
    blake2b, as_int = _BLAKE2B_8.copy, _INT64
    for i, piece in zip(positions, pieces, strict=True):
        if piece:
            digest = blake2b()
            digest.update(piece)
            hashes[i] = as_int(digest.digest())[0]
    return hashes


_ZERO, _SPACE = ord("0"), ord(" ")


_new = tuple.__new__  # a named row from values in column order, without its __new__ call
_EXCHANGE_PLAN = _plan(EXCHANGE_COLUMNS)
_ACCOUNT_PLAN = _plan(ACCOUNT_COLUMNS)
_PROMPT, _PROMPT_HASH = EXCHANGE_INDEX["prompt"], EXCHANGE_INDEX["prompt_hash"]


def _marks(columns: tuple[Field, ...]) -> tuple[tuple[int, str], ...]:
    """(position, name) of each field a :class:`Cleaned` value can come from; and below,
    the positions of the row's two marks."""
    return tuple((i, f.name) for i, f in enumerate(columns) if f.check in (TEXT, COUNTRY))


def _mark_positions(columns: tuple[Field, ...]) -> tuple[int, int]:
    checks = [f.check for f in columns]
    return checks.index(TEXT_FLAGS), checks.index(TEXT_ORIGINALS)


_EXCHANGE_TEXTS, _ACCOUNT_TEXTS = _marks(EXCHANGE_COLUMNS), _marks(ACCOUNT_COLUMNS)
_EXCHANGE_MARKS, _ACCOUNT_MARKS = (
    _mark_positions(EXCHANGE_COLUMNS),
    _mark_positions(ACCOUNT_COLUMNS),
)


def _marked(values: list[Any], texts: tuple[tuple[int, str], ...], marks: tuple[int, int]) -> None:
    """Fill the row's marks: the flags of its cleaned fields and their originals, escaped."""
    flags, originals = 0, {}
    for position, name in texts:
        value = values[position]
        if type(value) is Cleaned:
            flags |= value.flags
            originals[name] = value.original
            values[position] = str(value)
    values[marks[0]] = flags
    # Escaped originals hold no NUL or lone surrogate: orjson takes them.
    values[marks[1]] = orjson.dumps(originals).decode() if originals else ""


def parse_exchange(record: dict, notes: list[str]) -> ExchangeRow:
    """One exchange record -> its row (``detection.contract.ExchangeRow``)."""
    values: list[Any] = [None] * len(EXCHANGE_COLUMNS)
    for position, check, field in _EXCHANGE_PLAN:
        values[position] = check(record, field)
    _marked(values, _EXCHANGE_TEXTS, _EXCHANGE_MARKS)
    values[_PROMPT_HASH] = prompt_hash(values[_PROMPT])
    return _new(ExchangeRow, values)


# The fast path's view of an exchange line: what parse_exchange accepts, as msgspec types and
# constraints (lengths count characters, as ``len`` does; ``bool`` is not an ``int``). The
# timestamp stays a string for parse_timestamp: msgspec rounds digits past microseconds where
# ``datetime.fromisoformat`` truncates them. A field outside the contract sends the line the
# careful way: msgspec would skip its value without the checks orjson makes on every value
# (valid UTF-8, a number a double can hold, nesting depth), so a line orjson rejects as
# malformed could otherwise load.
# The time as most gateways write it: upper-case "T" (or a space) and "Z", at most six digits
# of fraction, ASCII digits. msgspec checks the pattern in the decoder; any other form the
# contract allows (lower case, more digits) goes the careful way, which gives the same value.
_Timestamp = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
        r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
    ),
]


def _line_type(field: Field) -> Any:
    """A field as the fast path decodes it: the careful checks' types, lengths and ranges."""
    if field.check == TIMESTAMP:
        kind: Any = _Timestamp
    elif field.check in (IDENTIFIER, TEXT):
        limits = {"min_length": 1} if field.required else {}
        if field.max_length is not None:
            limits["max_length"] = field.max_length
        kind = Annotated[str, msgspec.Meta(**limits)] if limits else str
    elif field.check == ADDRESS:
        kind = str  # checked_address checks it, once for each distinct string
    elif field.check == INTEGER:
        kind = Annotated[int, msgspec.Meta(ge=0, le=field.maximum)]
    elif field.check == BOOLEAN:
        kind = bool
    else:
        raise ValueError(f"{field.name}: no fast path for a {field.check} field")
    return kind if field.required else kind | None


_ExchangeLine = msgspec.defstruct(
    "_ExchangeLine",
    [
        (f.name, _line_type(f)) if f.required else (f.name, _line_type(f), None)
        for f in EXCHANGE_COLUMNS
        if not f.computed
    ],
    kw_only=True,  # required fields may follow optional ones, in the contract's order
    gc=False,
    forbid_unknown_fields=True,
)
_decode_exchange = msgspec.json.Decoder(_ExchangeLine).decode
_fromisoformat = datetime.fromisoformat
# Addresses repeat (an account keeps to a few, a proxy pool to a few thousand): each distinct
# string is checked once. Cleared when full, so memory stays bounded on any file.
_ADDRESSES: dict[str, ipaddress.IPv4Address | ipaddress.IPv6Address] = {}
_ADDRESSES_MAX = 100_000


def exchange_from_json(raw: bytes) -> ExchangeRow | None:
    """One JSON Lines exchange line -> the row :func:`parse_exchange` makes of it, or ``None``
    when the line needs the full checks (bad JSON, a wrong type or range, a NUL, a bad time
    or address, a field outside the contract): those run on the ``orjson`` record and give
    the reason, or load the line as they always have."""
    decoded = decode_exchange(raw)
    if decoded is None:
        return None
    line, ts = decoded
    ip = checked_address(line.ip)
    if ip is None:
        return None
    prompt = line.prompt or ""
    # In column order (ExchangeRow's); the property tests hold this to parse_exchange.
    return _new(
        ExchangeRow,
        (
            line.exchange_id,
            line.account_id,
            ts,
            ip,
            line.asn,
            line.user_agent or "",
            line.model,
            prompt,
            prompt_hash(prompt),
            line.input_tokens,
            line.output_tokens,
            line.tool_use,
            # msgspec took the line: its text is UTF-8 without lone surrogates, within its
            # limits, and (decode_exchange) without a NUL: nothing to clean.
            0,
            "",
        ),
    )


def decode_exchange(raw: bytes) -> tuple[_ExchangeLine, datetime] | None:
    """The fast path's decoding: the line's fields and its time, or ``None`` for a line
    that needs the full checks. :func:`exchange_from_json` is the rest (the address).

    A NUL can only reach a JSON string as the escape ``\\u0000`` (JSON forbids raw control
    characters in strings), so a line containing that escape goes the careful way. Most lines
    have no backslash at all, which one ``memchr`` tells.
    """
    if b"\\" in raw and b"\\u0000" in raw:
        return None
    try:
        line = _decode_exchange(raw)
    except (msgspec.DecodeError, RecursionError):  # ValidationError (type, range) is one too
        return None
    try:
        return line, _fromisoformat(line.ts)  # what parse_timestamp does with this form
    except ValueError:  # 2026-02-30, a leap second, ...
        return None


def checked_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a string names, or ``None`` if it names none (the full checks say why);
    each distinct string is checked once (``_ADDRESSES``)."""
    ip = _ADDRESSES.get(text)
    if ip is None:
        try:
            ip = _ip(text)
        except RowError:
            return None
        if len(_ADDRESSES) >= _ADDRESSES_MAX:
            _ADDRESSES.clear()
        _ADDRESSES[text] = ip
    return ip


def parse_account(record: dict, notes: list[str]) -> AccountRow:
    """One account record -> its row (``detection.contract.AccountRow``)."""
    values: list[Any] = [None] * len(ACCOUNT_COLUMNS)
    for position, check, field in _ACCOUNT_PLAN:
        values[position] = check(record, field)
    _marked(values, _ACCOUNT_TEXTS, _ACCOUNT_MARKS)
    return _new(AccountRow, values)


PARSERS = {"accounts": parse_account, "exchanges": parse_exchange}
# Fast paths from a JSON Lines line's bytes (see exchange_from_json); accounts are few.
JSON_FAST_PATHS = {"exchanges": exchange_from_json}


def csv_record(record: dict[str, str]) -> dict[str, Any]:
    """A CSV row (all strings) -> the typed record the JSON path sees.

    An empty cell is an absent value; integers are plain decimal (``12``, not ``12.0`` or
    ``1e3``); booleans are ``true``/``false``/``1``/``0`` in any case. Anything else is left as
    the string, so the shared checks reject it with the same reason as in JSON.
    """
    typed: dict[str, Any] = {}
    for key, value in record.items():
        if value == "":
            continue
        if key in _CSV_INTS and _CSV_INT.fullmatch(value):
            typed[key] = int(value)
        elif key in _CSV_BOOLS and value.lower() in _CSV_BOOL:
            typed[key] = _CSV_BOOL[value.lower()]
        else:
            typed[key] = value
    return typed
