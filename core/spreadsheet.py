"""The one place that writes CSV and XLSX for people to open in a spreadsheet program.

Every CSV the service hands out (web exports, API exports, bid lists) goes through ``csv_writer``,
and every XLSX through ``XlsxBook`` / ``xlsx_bytes``; both escape every cell with ``safe_cell``: a
cell that starts with a formula character would otherwise run as a formula (``=HYPERLINK(…)``) when
the file is opened.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet program evaluates. Numbers stay numbers (a
    negative number is data, not a formula); text starting with a formula character gets a
    leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    if text[:1] in FORMULA_STARTS:
        return "'" + text
    return text


class _SafeWriter:
    def __init__(self, fh):
        self._writer = csv.writer(fh)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(fh) -> _SafeWriter:
    """A ``csv.writer`` on ``fh`` whose every cell is escaped with ``safe_cell``."""
    return _SafeWriter(fh)


# --- XLSX -------------------------------------------------------------------------------------------

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_xlsx_cell(value: Any) -> Any:
    """``value`` as an XLSX cell: escaped like a CSV cell (``safe_cell``), dates kept as dates, and
    the control characters XML cannot hold removed (openpyxl refuses them)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        value = value.isoformat()  # XLSX has no time zones: write the moment as text
    if isinstance(value, datetime.date):
        return value
    value = safe_cell(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


class _SafeSheet:
    def __init__(self, worksheet):
        self._ws = worksheet

    def writerow(self, row: Iterable[Any]) -> None:
        self._ws.append([safe_xlsx_cell(v) for v in row])
        for cell in self._ws[self._ws.max_row]:
            if isinstance(cell.value, str):
                # Text is text: never let openpyxl read it as a formula.
                cell.data_type = "s"

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)

    def widths(self, *widths: int) -> None:
        from openpyxl.utils import get_column_letter

        for index, width in enumerate(widths, start=1):
            self._ws.column_dimensions[get_column_letter(index)].width = width


class XlsxBook:
    """An XLSX workbook whose every cell is escaped like ``csv_writer``'s. ``sheet(title)`` adds a
    sheet with ``writerow``/``writerows``; ``to_bytes()`` gives the file."""

    def __init__(self):
        from openpyxl import Workbook

        self._wb = Workbook()
        self._fresh = True

    def sheet(self, title: str, header: Iterable[Any] | None = None) -> _SafeSheet:
        from openpyxl.styles import Font

        # Sheet titles may not hold []:*?/\ and are at most 31 characters.
        title = "".join(" " if ch in "[]:*?/\\" else ch for ch in str(title))[:31] or "Sheet"
        if self._fresh:
            ws = self._wb.active
            ws.title = title
            self._fresh = False
        else:
            ws = self._wb.create_sheet(title)
        sheet = _SafeSheet(ws)
        if header is not None:
            sheet.writerow(header)
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
        return sheet

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self._wb.save(buffer)
        return buffer.getvalue()


def xlsx_bytes(header: Iterable[Any], rows: Iterable[Iterable[Any]], *, title: str) -> bytes:
    """One table as an XLSX file (one sheet), cells escaped like ``csv_writer``'s."""
    book = XlsxBook()
    book.sheet(title, header).writerows(rows)
    return book.to_bytes()
