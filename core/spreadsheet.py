"""The one place that writes CSV for people to open in a spreadsheet program.

Every CSV the service hands out (web exports, API exports, bid lists) goes through ``csv_writer``,
which escapes every cell with ``safe_cell``: a cell that starts with a formula character would
otherwise run as a formula (``=HYPERLINK(…)``) when the file is opened.
"""

from __future__ import annotations

import csv
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
