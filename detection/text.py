"""Prompt text helpers shared by ingest and detection."""

import hashlib
import re

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def normalise_prompt(text: str) -> str:
    """Case, digit runs and white space folded, so fill-in-the-blank variants look alike."""
    return _SPACE.sub(" ", _DIGITS.sub("0", text.casefold())).strip()


def prompt_fingerprint(text: str) -> int | None:
    """Signed 64-bit hash of the normalised prompt (fits a PostgreSQL bigint); None if empty."""
    normalised = normalise_prompt(text)
    if not normalised:
        return None
    digest = hashlib.blake2b(normalised.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# Attacker-controlled text that PostgreSQL cannot store as it came, or that breaks a field's
# length, is cleaned at ingest (docs/ingest.md, "Text that cannot be stored as sent"): the
# stored value is what detection and analysts read, the original is kept escaped beside it,
# and the row's ``text_flags`` say what was found. Bits of ``text_flags``:
TEXT_NUL = 1  # a NUL (U+0000): PostgreSQL text cannot hold it
TEXT_INVALID = 2  # a lone surrogate, or a byte that is not UTF-8 (CSV, JSON Lines)
TEXT_OVERLONG = 4  # longer than the field allows; stored cut to the limit
TEXT_NOT_A_CODE = 8  # a country that is not an ISO 3166-1 alpha-2 code; stored empty
TEXT_FLAG_WORDS = {
    TEXT_NUL: "NUL characters",
    TEXT_INVALID: "invalid Unicode (lone surrogates or bytes that are not UTF-8)",
    TEXT_OVERLONG: "values longer than their field allows",
    TEXT_NOT_A_CODE: "country values that are not country codes",
}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ESCAPES = re.compile("[\\\\\x00\ud800-\udfff]")
_UNESCAPES = re.compile(r"\\(?:\\|x([0-9a-f]{2})|u(d[89a-f][0-9a-f]{2}))")


def text_flags_words(flags: int) -> list[str]:
    """What a row's ``text_flags`` say, in words, for the evidence an analyst reads."""
    return [words for bit, words in TEXT_FLAG_WORDS.items() if flags & bit]


def storable(value: str) -> bool:
    """No NUL and no lone surrogate: PostgreSQL (UTF-8) takes it as it is. The common case,
    ASCII without a NUL, costs two scans in C."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(value: str, limit: int | None = None) -> tuple[str, int]:
    """What is stored of ``value`` and its ``text_flags``: NULs and lone surrogates (the
    bytes that were not UTF-8 arrive as lone surrogates, Python's "surrogateescape") are
    removed, so a prompt salted with them reads, hashes and matches like the unsalted one,
    and the result is cut to ``limit`` characters."""
    flags = 0
    if "\x00" in value:
        flags |= TEXT_NUL
    cleaned = _UNSTORABLE.sub("", value)
    if len(cleaned) != len(value) - value.count("\x00"):
        flags |= TEXT_INVALID
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[:limit]
        flags |= TEXT_OVERLONG
    return cleaned, flags


def _escape_one(match: re.Match) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    if code == 0:
        return "\\x00"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def escape_text(value: str) -> str:
    """The lossless, storable form of an original value: ``\\`` as ``\\\\``, a NUL as
    ``\\x00``, a byte that was not UTF-8 (or the lone surrogate U+DC80-U+DCFF that Python
    reads it as) as ``\\xNN``, any other lone surrogate as ``\\udXXX``; everything else as
    it is. :func:`unescape_text` reverses it."""
    return _ESCAPES.sub(_escape_one, value)


def _unescape_one(match: re.Match) -> str:
    byte, surrogate = match.group(1), match.group(2)
    if byte is not None:
        code = int(byte, 16)
        return chr(0xDC00 + code) if code >= 0x80 else chr(code)
    if surrogate is not None:
        return chr(int(surrogate, 16))
    return "\\"


def unescape_text(escaped: str) -> str:
    """The original value from :func:`escape_text`'s form (bytes that were not UTF-8 come
    back as Python's surrogateescape code points: ``.encode("utf-8", "surrogateescape")``
    gives the bytes)."""
    return _UNESCAPES.sub(_unescape_one, escaped)
