"""XLSX: one sheet of typed cells named after the report (zh-TW), and a sheet "說明" describing the run.

Written with xlsxwriter in constant-memory mode to a temporary file (rows go to disk as they come), whose bytes
are then yielded in pieces and the file deleted. Cells are typed: numbers are numbers, money has the TWD
format "#,##0.00", a rate without a unit (a fraction) "0.00%", codes (order id, line no) no separators, dates
are Excel dates ("yyyy-mm-dd"), datetimes Excel datetimes in Asia/Taipei (Excel has no time zone), booleans
Excel booleans, text always text (never a formula or a link). The header row is the zh-TW labels with units
("含稅金額 (TWD)"), frozen and filterable; column widths follow the labels and the longest text seen. A sheet
holds at most `BOUNDED["xlsx"]` data rows: the route checks the count first.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from api.reports.definition import Column
from api.reports.formats import BOUNDED, RenderContext, Rows
from api.reports.formats._common import head_lines, identifier, label, taipei, width

INFO_SHEET = "說明"
_READ_CHUNK = 256 * 1024
_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_NUMBER_FORMATS = {
    "money": "#,##0.00", "decimal": "#,##0.00########", "int": "#,##0", "rate": "0.00", "float": "General",
    "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm:ss", "fraction": "0.00%", "code": "0",
}
_WIDTHS = {"money": 14, "decimal": 16, "int": 10, "rate": 10, "float": 12, "date": 11, "datetime": 19,
           "bool": 7, "text": 12}
_MAX_WIDTH = 60


def sheet_name(title: str) -> str:
    """An Excel sheet name from a report title: forbidden characters removed, at most 31 characters."""
    name = _FORBIDDEN.sub("", title).strip().strip("'")[:31].strip()
    if not name or name.casefold() in (INFO_SHEET, "history"):
        name = f"{name or '報表'}資料"[:31]
    return name


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if abs(value) < 2**53 else None  # Excel holds doubles: a larger code is written as text
    if isinstance(value, float | Decimal):
        return float(value)
    return None


def _format_kind(column: Column) -> str:
    """Which number format a column's cells take: a code has no separators, a rate without a unit is a fraction
    (shown 95.00%), a rate with unit "%" is already in percent (shown 95.00, the label says "(%)")."""
    if identifier(column):
        return "code"
    if column.kind == "rate" and column.unit is None:
        return "fraction"
    return column.kind if column.kind in _NUMBER_FORMATS else "float"


class _Sheet:
    """The data sheet: writes one row after another, cell by cell with the column's type."""

    def __init__(self, book: Any, ctx: RenderContext) -> None:
        self.columns = ctx.report.columns
        self.sheet = book.add_worksheet(sheet_name(ctx.report.title_zh))
        formats = {kind: book.add_format({"num_format": spec}) for kind, spec in _NUMBER_FORMATS.items()}
        self.formats = [formats[_format_kind(c)] for c in self.columns]
        self.widths = [max(width(label(c)) + 2, _WIDTHS[c.kind]) for c in self.columns]
        header = book.add_format({"bold": True, "bg_color": "#DCE6F1", "bottom": 1, "text_wrap": True,
                                  "valign": "vcenter", "align": "center"})
        self.sheet.freeze_panes(1, 0)
        self.sheet.set_row(0, 30)
        for col, column in enumerate(self.columns):
            self.sheet.write_string(0, col, label(column), header)
        self.row = 0

    def write(self, values: tuple[Any, ...]) -> None:
        self.row += 1
        for col, (column, value) in enumerate(zip(self.columns, values, strict=True)):
            if value is not None:
                self._cell(col, column, value)

    def _cell(self, col: int, column: Column, value: Any) -> None:
        kind = column.kind
        if kind == "datetime" and isinstance(value, datetime):
            self.sheet.write_datetime(self.row, col, taipei(value).replace(tzinfo=None), self.formats[col])
        elif kind == "date" and isinstance(value, date):
            day = taipei(value).date() if isinstance(value, datetime) else value
            self.sheet.write_datetime(self.row, col, day, self.formats[col])
        elif kind == "bool" and isinstance(value, bool):
            self.sheet.write_boolean(self.row, col, value)
        elif kind != "text" and (number := _number(value)) is not None:
            self.sheet.write_number(self.row, col, number, self.formats[col])
        else:  # text, a masked personal value, or a code too long for a double
            text = str(value)
            self.widths[col] = min(max(self.widths[col], width(text) + 2), _MAX_WIDTH)
            self.sheet.write_string(self.row, col, text)

    def finish(self) -> None:
        for col, size in enumerate(self.widths):
            self.sheet.set_column(col, col, size)
        if self.columns:
            self.sheet.autofilter(0, 0, self.row, len(self.columns) - 1)


def _info_sheet(book: Any, ctx: RenderContext) -> None:
    sheet = book.add_worksheet(INFO_SHEET)
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    report = ctx.report
    lines = [("標題 (Title, zh-TW)", report.title_zh), ("標題 (Title, English)", report.title_en),
             *head_lines(ctx)[1:], ("說明 (Answers)", report.answers), ("資料來源 (Source)", report.how)]
    sheet.set_column(0, 0, 26)
    sheet.set_column(1, 1, 70)
    sheet.set_column(2, 3, 14)
    row = 0
    for name, text in lines:
        sheet.write_string(row, 0, name, bold)
        sheet.write_string(row, 1, text, wrap)
        row += 1
    row += 1
    for col, head in enumerate(("欄位 (Column)", "English", "名稱 (Name)", "型別 (Type)")):
        sheet.write_string(row, col, head, bold)
    for column in report.columns:
        row += 1
        for col, text in enumerate((label(column), column.label_en, column.name, column.kind)):
            sheet.write_string(row, col, text)


def render(ctx: RenderContext, rows: Rows) -> Iterator[bytes]:
    handle, path = tempfile.mkstemp(prefix="report-", suffix=".xlsx")
    os.close(handle)
    try:
        book = xlsxwriter.Workbook(path, {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "tmpdir": os.path.dirname(path),
        })
        try:
            title = f"{ctx.report.title_zh} {ctx.report.title_en}"
            book.set_properties({"title": title, "company": "樂氣瓦斯 Lucky Gas"})
            sheet = _Sheet(book, ctx)
            for values in rows:
                if sheet.row >= BOUNDED["xlsx"]:
                    raise ValueError(f"{ctx.report.id}: more than {BOUNDED['xlsx']} rows for one XLSX sheet")
                sheet.write(values)
            sheet.finish()
            _info_sheet(book, ctx)
        finally:
            book.close()
        with open(path, "rb") as file:
            while chunk := file.read(_READ_CHUNK):
                yield chunk
    finally:
        os.unlink(path)
