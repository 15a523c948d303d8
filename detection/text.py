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
