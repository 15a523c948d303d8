"""CSV and XLSX writers for case summaries. Pure: they take :class:`CaseSummary` rows.

CSV is produced line by line (a generator the view streams), so a queue of 100,000 cases
never sits in memory. XLSX uses openpyxl's write-only mode through
:mod:`common.spreadsheets` (rows go to a temporary file as they are added); it is written to
a file path or a file-like object, and opens with a frozen, filterable header, number and
date formats, readable column widths and a totals sheet.

Both neutralise text that could start a spreadsheet formula; XLSX also stores every text
cell as a string (openpyxl would otherwise store ``=...`` as a formula), while ids, counts
and risk stay numbers so a spreadsheet can sum and sort them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO

from django.utils import timezone

from cases.exports import HEADERS, SUMMARY_COLUMNS, CaseSummary
from common import spreadsheets as sheets
from common.spreadsheets import neutralise

# Excel and LibreOffice read a CSV as UTF-8 (not the locale's code page) when it starts
# with a byte-order mark; without it, non-ASCII titles and org names arrive garbled.
CSV_BOM = "\ufeff"
DATETIME_TEXT = "%Y-%m-%d %H:%M:%S"


def _text_cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(DATETIME_TEXT)
    if value is None:
        return ""
    if isinstance(value, float):
        # The one fractional column is the risk score: two places, as every page shows it.
        return f"{value:.2f}"
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


# How each summary column is shown in a workbook: (width, number format).
XLSX_FORMATS = {
    "id": (8, sheets.IDENTIFIER),
    "title": (48, None),
    "campaign": (24, None),
    "status": (18, None),
    "priority": (14, None),
    "assignee": (14, None),
    "risk": (8, sheets.SCORE),
    "accounts": (10, sheets.INTEGER),
    "exchanges": (12, sheets.INTEGER),
    "opened": (18, sheets.DATETIME),
    "decided": (18, sheets.DATETIME),
    "decision": (28, None),
    "approver": (14, None),
    "link": (40, None),
}
SUMMARY_XLSX_COLUMNS = [
    sheets.Column(header, *XLSX_FORMATS[key]) for key, header in SUMMARY_COLUMNS
]


class Totals:
    """What the totals sheet says about the cases written, gathered as they stream past."""

    def __init__(self) -> None:
        self.cases = self.accounts = self.exchanges = 0
        self.risk_sum = 0.0
        self.risk_max: float | None = None
        self.first_opened: datetime | None = None
        self.last_opened: datetime | None = None
        self.by_status: Counter[str] = Counter()
        self.by_priority: Counter[str] = Counter()
        self.decided = 0

    def add(self, row: CaseSummary) -> CaseSummary:
        self.cases += 1
        self.accounts += row.accounts
        self.exchanges += row.exchanges
        self.risk_sum += row.risk
        self.risk_max = row.risk if self.risk_max is None else max(self.risk_max, row.risk)
        if row.opened is not None:
            self.first_opened = min(filter(None, [self.first_opened, row.opened]))
            self.last_opened = max(filter(None, [self.last_opened, row.opened]))
        self.by_status[row.status] += 1
        self.by_priority[row.priority] += 1
        self.decided += row.decided is not None
        return row

    def facts(self, generated_at: datetime) -> list[tuple]:
        mean = self.risk_sum / self.cases if self.cases else 0.0
        facts: list[tuple] = [
            ("Totals", None),
            ("Cases", self.cases, sheets.INTEGER),
            ("Accounts (sum over the cases)", self.accounts, sheets.INTEGER),
            ("Exchanges (sum over the cases)", self.exchanges, sheets.INTEGER),
            ("Mean risk score", round(mean, 4), sheets.SCORE),
            ("Highest risk score", self.risk_max if self.risk_max is not None else "—",
             sheets.SCORE),
            ("Decided cases", self.decided, sheets.INTEGER),
            ("First opened (UTC)", self.first_opened or "—"),
            ("Last opened (UTC)", self.last_opened or "—"),
            ("Cases by status", None),
            *((status, n, sheets.INTEGER) for status, n in self.by_status.most_common()),
            ("Cases by priority", None),
            *((p, n, sheets.INTEGER) for p, n in sorted(self.by_priority.items())),
            ("Exported", None),
            ("Generated (UTC)", generated_at),
        ]  # fmt: skip
        return facts


def write_xlsx(
    rows: Iterable[CaseSummary],
    target: str | IO[bytes],
    *,
    title: str = "Cases",
    progress=None,
    progress_every: int = 1000,
    extra_sheets: Iterable[tuple[str, list, Iterable[list]]] = (),
    lead_sheets: Iterable[tuple[str, list[tuple]]] = (),
    totals: bool = True,
) -> int:
    """Write the summaries as a workbook to ``target``; returns the summary row count.

    The workbook opens ready to read: ``lead_sheets`` first (``(title, facts)``, such as a
    case's plain-language summary), then the summaries (frozen header, autofilter, number
    and date formats), then a *Totals* sheet (unless ``totals`` is false), then ``extra_sheets``
    (``(title, columns, rows)``, columns being :class:`common.spreadsheets.Column` or
    plain headers). ``progress(n)`` (optional) is called every ``progress_every`` rows, for
    a task to report.
    """
    workbook = sheets.new_workbook()
    for sheet_title, facts in lead_sheets:
        sheets.append_facts(workbook, sheet_title, facts, widths=(30, 100))
    counted = Totals()
    count = sheets.append_table(
        workbook,
        title,
        SUMMARY_XLSX_COLUMNS,
        (counted.add(row).values() for row in rows),
        progress=progress,
        every=progress_every,
    )
    if totals:
        sheets.append_facts(workbook, "Totals", counted.facts(timezone.now()))
    for sheet_title, columns, sheet_rows in extra_sheets:
        columns = [c if isinstance(c, sheets.Column) else sheets.Column(c, 18) for c in columns]
        sheets.append_table(workbook, sheet_title, columns, sheet_rows)
    workbook.save(target)
    return count
