"""Spreadsheet-formula neutralisation, applied to every text cell any export writes, and the
write-only XLSX sheets every export builds (``append_table``, ``append_facts``).

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

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


# ------------------------------------------------------------------------- XLSX workbooks
# Every workbook an export writes is built here, so each sheet opens the same way: a bold,
# frozen header with an autofilter, columns wide enough to read, numbers and dates stored
# as numbers and dates with a display format, and every text cell neutralised and stored
# as a string (openpyxl would otherwise take a leading "=" for a formula).

INTEGER = "#,##0"
IDENTIFIER = "0"
SCORE = "0.00"
SHARE = "0.0%"
DECIMAL = "#,##0.0"
DATETIME = "yyyy-mm-dd hh:mm"
DAY = "yyyy-mm-dd"


@dataclass(frozen=True)
class Column:
    """One column of an exported sheet: its header, width (characters) and number format."""

    header: str
    width: float = 16
    number_format: str | None = None


def xlsx_cell(sheet, value: object, number_format: str | None = None) -> WriteOnlyCell:
    """A write-only cell for ``value``: datetimes as UTC wall time (spreadsheets have no time
    zones), dates and numbers as themselves, anything else as neutralised text."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = number_format or DATETIME
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = number_format or DAY
        return cell
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = "" if value is None else str(neutralise(str(value)))
        cell = WriteOnlyCell(sheet, value=None)
        # Assigned after construction so openpyxl cannot infer a formula from a leading "=".
        cell._value = text
        cell.data_type = "s"
        return cell
    cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    return cell


def _bold(sheet, value: object) -> WriteOnlyCell:
    cell = xlsx_cell(sheet, value)
    cell.font = Font(bold=True)
    return cell


def append_table(
    workbook: Workbook,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 1000,
) -> int:
    """Add a sheet of ``rows`` under a frozen, filterable header; returns the row count.

    ``workbook`` is write-only (rows stream to disk), so widths are set before the first row
    and the autofilter, which must know the last row, after the last."""
    sheet = workbook.create_sheet(title=sheet_title(title))
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.append([_bold(sheet, column.header) for column in columns])
    count = 0
    for values in rows:
        sheet.append(
            [xlsx_cell(sheet, v, c.number_format) for v, c in zip(values, columns, strict=True)]
        )
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    return count


def append_facts(
    workbook: Workbook,
    title: str,
    facts: Iterable[tuple[str, object] | tuple[str, object, str | None]],
    *,
    widths: tuple[float, float] = (44, 24),
) -> None:
    """Add a sheet of labelled figures (a totals or summary sheet): label, value.

    A fact whose value is ``None`` is a heading (bold, alone on its row); a long text value
    is a paragraph the reader widens or wraps as they like."""
    sheet = workbook.create_sheet(title=sheet_title(title))
    sheet.column_dimensions["A"].width = widths[0]
    sheet.column_dimensions["B"].width = widths[1]
    for fact in facts:
        label, value, number_format = (*fact, None)[:3]
        if value is None:
            sheet.append([_bold(sheet, label)])
        else:
            sheet.append([xlsx_cell(sheet, label), xlsx_cell(sheet, value, number_format)])


def sheet_title(title: str) -> str:
    """A title a spreadsheet accepts: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title).strip()
    return (cleaned or "Sheet")[:31]


def new_workbook() -> Workbook:
    """A write-only workbook: rows go to temporary files as they are added."""
    return Workbook(write_only=True)
