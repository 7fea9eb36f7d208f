"""XLSX as openpyxl (and Excel) reads it: typed cells with formats, a frozen header, zh-TW sheet names."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import replace
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from openpyxl.workbook.workbook import Workbook

from api.reports.definition import Column
from api.reports.formats import renderer, xlsx_out
from api.reports.formats._common import label
from api.reports.formats.xlsx_out import sheet_name
from infra.clock import TAIPEI
from tests.unit.reports_formats.formats_testing import COLUMNS, REPORT, context, render, rows


def excel_time(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A time as Excel holds it: Taipei wall time, no zone."""
    return datetime(year, month, day, hour, minute, tzinfo=TAIPEI).replace(tzinfo=None)


@pytest.fixture(scope="module")
def book() -> Workbook:
    return openpyxl.load_workbook(io.BytesIO(render("xlsx", 50)))


def test_sheets_are_named_in_zh_tw(book: Workbook) -> None:
    assert book.sheetnames == [REPORT.title_zh, "說明"]


def test_header_row_of_labels_is_frozen(book: Workbook) -> None:
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == [label(c) for c in COLUMNS]
    assert sheet.max_row == 51
    assert sheet.auto_filter.ref == "A1:L51"


def test_cells_are_typed(book: Workbook) -> None:
    sheet = book.worksheets[0]
    gross = sheet.cell(2, 7)
    assert gross.value == 1234567.89 and gross.data_type == "n" and gross.number_format == "#,##0.00"
    assert sheet.cell(3, 7).value == -350
    day = sheet.cell(2, 1)
    assert day.is_date and day.value == excel_time(2026, 3, 1) and day.number_format == "yyyy-mm-dd"
    moment = sheet.cell(2, 11)
    assert moment.is_date and moment.value == excel_time(2026, 3, 1, 9, 30)  # Taipei
    assert moment.number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet.cell(2, 12).value is True and sheet.cell(3, 12).value is False
    order_id, cylinders = sheet.cell(2, 5), sheet.cell(3, 6)
    assert order_id.value == 100000 and order_id.number_format == "0"  # a code: no thousands separator
    assert cylinders.value == 1 and cylinders.number_format == "#,##0"
    assert sheet.cell(3, 8).value == pytest.approx(12.501)
    assert sheet.cell(3, 9).value == 0.0025 and sheet.cell(3, 9).number_format == "0.00%"  # a fraction
    assert sheet.cell(2, 8).value is None  # None is an empty cell
    assert sheet.cell(3, 3).value == "陳美玲瓦斯行" and sheet.cell(3, 3).data_type == "s"


def test_text_is_never_a_formula(book: Workbook) -> None:
    cell = book.worksheets[0].cell(5, 3)
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"


def test_columns_are_wide_enough(book: Workbook) -> None:
    widths = book.worksheets[0].column_dimensions
    assert widths["G"].width >= 14 and widths["K"].width >= 19 and widths["C"].width >= 12


def test_info_sheet_describes_the_run(book: Workbook) -> None:
    texts = [str(c.value) for line in book["說明"].iter_rows() for c in line if c.value is not None]
    for expected in (REPORT.title_zh, REPORT.title_en, "起日 (from)", "2026-03-01", "2026-03-31",
                     "2026-04-01 10:15:30 (Asia/Taipei)", "2026-04-01 10:10:00 (Asia/Taipei)", "TPE、TXG、KHH",
                     "含稅金額 (TWD)"):
        assert expected in texts, expected


def test_a_rate_in_percent_is_not_shown_as_a_fraction() -> None:
    percent = replace(REPORT, columns=(Column("share", "rate", "占比", "share", "%"),), chart=None)
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(renderer("xlsx")(context(percent), iter([(12.5,)]))))).active
    assert sheet.cell(1, 1).value == "占比 (%)"
    assert sheet.cell(2, 1).value == 12.5 and sheet.cell(2, 1).number_format == "0.00"


def test_sheet_name_drops_forbidden_characters_and_keeps_31() -> None:
    assert sheet_name("銷售[日]報表:*?/\\") == "銷售日報表"
    assert len(sheet_name("很" * 40)) == 31
    assert sheet_name("說明") != "說明" and sheet_name("[]") == "報表資料"


def _recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    paths: list[str] = []
    real = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        handle, path = real(*args, **kwargs)
        paths.append(path)
        return handle, path

    monkeypatch.setattr(xlsx_out.tempfile, "mkstemp", mkstemp)
    return paths


def test_temporary_file_is_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _recorded(monkeypatch)
    assert render("xlsx", 5).startswith(b"PK")
    stopped = renderer("xlsx")(context(), rows(5))
    next(stopped)
    stopped.close()  # the client went away
    ours = [p for p in paths if os.path.basename(p).startswith("report-")]
    assert len(ours) == 2
    assert not [p for p in paths if os.path.exists(p)]  # nor xlsxwriter's own


def test_no_rows_is_the_header_alone() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(render("xlsx", 0))).worksheets[0]
    assert sheet.max_row == 1 and sheet.cell(1, 1).value == "日期"
