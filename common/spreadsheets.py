"""Spreadsheet-formula neutralisation, applied to every text cell any export writes.

Titles, campaign labels, org names, notes, prompts, account ids and signal reasons come from
(or are derived from) the accounts we investigate. A spreadsheet treats a cell that begins
with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a tab or carriage return) as a
formula: ``=HYPERLINK(...)`` or a DDE payload would run when someone opens the file.
:func:`neutralise` prefixes such text with an apostrophe, which every spreadsheet program
shows as text and does not evaluate (OWASP, "CSV Injection").

Spreadsheet programs differ in what they skip before deciding, and an attacker picks the
most lenient: so does this guard. Anything invisible at the start of a cell (any Unicode
space such as U+3000, format characters such as the byte-order mark U+FEFF and the
zero-width space U+200B, control characters such as NUL) is looked past, and the first
visible character is compared in its compatibility form, so the full-width signs (U+FF1D
and its kin) count as the ASCII ones they are shown as.
"""

import unicodedata

# OWASP's list: the characters a spreadsheet may read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Unicode categories of characters nobody sees: separators (spaces), controls, format
# characters (zero-width, bidi marks, BOM) and unassigned or private code points.
_INVISIBLE_CATEGORIES = {"Zs", "Zl", "Zp", "Cc", "Cf", "Cn", "Co", "Cs"}


def _is_invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def starts_a_formula(value: str) -> bool:
    """Whether a spreadsheet could read ``value`` as a formula (see the module docstring)."""
    if value.startswith(FORMULA_STARTS):
        return True
    for char in value:
        if _is_invisible(char):
            continue
        return unicodedata.normalize("NFKC", char).startswith(FORMULA_STARTS)
    return False


def neutralise(value: object) -> object:
    """Return ``value`` made inert for a spreadsheet: text that could start a formula gets a
    leading apostrophe; numbers, dates and ``None`` pass through unchanged."""
    if isinstance(value, str) and starts_a_formula(value):
        return "'" + value
    return value
