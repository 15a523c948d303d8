"""Spreadsheet-formula neutralisation, applied to every text cell any export writes.

Titles, campaign labels, org names, notes, prompts, account ids and signal reasons come from
(or are derived from) the accounts we investigate. A spreadsheet treats a cell that begins
with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a tab or carriage return) as a
formula: ``=HYPERLINK(...)`` or a DDE payload would run when someone opens the file.
:func:`neutralise` prefixes such text with an apostrophe, which every spreadsheet program
shows as text and does not evaluate (OWASP, "CSV Injection").
"""

# OWASP's list: the characters a spreadsheet may read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Padding some programs skip before deciding a cell is a formula (" =1+1" evaluates in some).
_LEADING_PADDING = " \n\x0b\x0c\u00a0"


def neutralise(value: object) -> object:
    """Return ``value`` made inert for a spreadsheet: text that could start a formula gets a
    leading apostrophe; numbers, dates and ``None`` pass through unchanged."""
    if not isinstance(value, str):
        return value
    if value.lstrip(_LEADING_PADDING).startswith(FORMULA_STARTS) or value.startswith(
        FORMULA_STARTS
    ):
        return "'" + value
    return value
