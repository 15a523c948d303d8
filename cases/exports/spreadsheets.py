"""CSV and XLSX writers for case summaries. Pure: they take :class:`CaseSummary` rows.

CSV is produced line by line (a generator the view streams), so a queue of 100,000 cases
never sits in memory. XLSX uses openpyxl's write-only mode (rows go to a temporary file as
they are added); it is written to a file path or a file-like object.

Both neutralise text that could start a spreadsheet formula; XLSX also stores every text
cell as a string (openpyxl would otherwise store ``=...`` as a formula), while ids, counts
and risk stay numbers so a spreadsheet can sum and sort them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from cases.exports import HEADERS, CaseSummary
from common.spreadsheets import neutralise

# Excel and LibreOffice read a CSV as UTF-8 (not the locale's code page) when it starts
# with a byte-order mark; without it, non-ASCII titles and org names arrive garbled.
CSV_BOM = "\ufeff"
DATETIME_TEXT = "%Y-%m-%d %H:%M:%S"
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
XLSX_COLUMN_WIDTHS = [8, 48, 24, 18, 14, 14, 8, 10, 12, 20, 20, 28, 14, 40]


def _text_cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(DATETIME_TEXT)
    if value is None:
        return ""
    return neutralise(value)


def csv_lines(rows: Iterable[CaseSummary], *, bom: bool = True) -> Iterator[str]:
    """The CSV file, one line (header first) at a time; every text cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(HEADERS)
    yield (CSV_BOM if bom else "") + flush()
    for row in rows:
        writer.writerow([_text_cell(v) for v in row.values()])
        yield flush()


def _xlsx_cell(sheet, value: object) -> WriteOnlyCell:
    if isinstance(value, datetime):
        # Spreadsheets have no time zones: write the UTC wall time, as the header says.
        cell = WriteOnlyCell(sheet, value=value.astimezone(UTC).replace(tzinfo=None))
        cell.number_format = XLSX_DATETIME_FORMAT
        return cell
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = "" if value is None else str(neutralise(str(value)))
        cell = WriteOnlyCell(sheet, value=None)
        # Assigned after construction so openpyxl cannot infer a formula from a leading "=".
        cell._value = text
        cell.data_type = "s"
        return cell
    return WriteOnlyCell(sheet, value=value)


def _append_sheet(workbook, title, headers, rows, widths=None, progress=None, every=1000) -> int:
    sheet = workbook.create_sheet(title=title[:31])
    for index, width in enumerate(widths or [18] * len(headers)):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for name in headers:
        cell = _xlsx_cell(sheet, name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    count = 0
    for values in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in values])
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    return count


def write_xlsx(
    rows: Iterable[CaseSummary],
    target: str | IO[bytes],
    *,
    title: str = "Cases",
    progress=None,
    progress_every: int = 1000,
    extra_sheets: Iterable[tuple[str, list[str], Iterable[list]]] = (),
) -> int:
    """Write the summaries as a workbook to ``target``; returns the summary row count.

    ``progress(n)`` (optional) is called every ``progress_every`` rows, for a task to report.
    ``extra_sheets`` adds ``(title, headers, rows)`` sheets after the summary (a case's
    accounts and notes); their text is neutralised the same way.
    """
    workbook = Workbook(write_only=True)
    count = _append_sheet(
        workbook,
        title,
        HEADERS,
        (row.values() for row in rows),
        XLSX_COLUMN_WIDTHS,
        progress,
        progress_every,
    )
    for sheet_title, headers, sheet_rows in extra_sheets:
        _append_sheet(workbook, sheet_title, headers, sheet_rows)
    workbook.save(target)
    return count
