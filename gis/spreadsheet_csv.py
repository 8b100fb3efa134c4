"""CSV files that people open in a spreadsheet (the 12345 export, import reports): every
CSV gridgov hands to a person is written here, so that no cell is read as a formula.

Text from outside (an order number from 12345, a handler's note, a row's external id)
starting with = + - @, a tab or a carriage return would be run by Excel or WPS as a
formula (`=HYPERLINK(...)` leaks the sheet, `=cmd|...` runs programs). Such text gets a
leading apostrophe, which spreadsheets show as plain text. COPY buffers fed to PostgreSQL
are not for people and must stay byte-exact: they do not use this module."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """The value as a spreadsheet will read it as data, never as a formula.

    Numbers written as numbers (int, float, Decimal: a count, a score, a negative
    difference) stay as they are: "-3" from a number is a number to Excel, not a formula,
    and quoting it would turn numeric columns into text. Text that merely looks like a
    number ("-3", "+86 138...") is neutralised like any other text: its source is not
    trusted and the apostrophe costs a reader nothing."""
    # Only text is touched: int, float and Decimal pass through unchanged.
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SpreadsheetWriter:
    """csv.writer whose every cell goes through `spreadsheet_cell`."""

    def __init__(self, out: TextIO, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        """Write one row, each cell neutralised."""
        return self._writer.writerow([spreadsheet_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write many rows, each cell neutralised."""
        for row in rows:
            self.writerow(row)
