"""PDF as pypdf reads it: A4, the Chinese title and figures extractable, several numbered pages for 200 rows, the
Noto CJK font embedded (and no other), and the report's chart drawn as SVG."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from api.reports.definition import Chart, Column
from api.reports.formats import pdf_out, renderer
from api.reports.formats._chart import series, svg, ticks
from tests.unit.reports_formats.formats_testing import COLUMNS, REPORT, context, render, row, rows

A4_LANDSCAPE = (841.89, 595.28)


@pytest.fixture(scope="module")
def pdf() -> PdfReader:
    return PdfReader(io.BytesIO(render("pdf", 200)))


def test_title_and_money_are_extractable(pdf: PdfReader) -> None:
    first = pdf.pages[0].extract_text()
    assert "樂氣瓦斯" in first and "Lucky Gas" in first
    assert REPORT.title_zh in first and REPORT.title_en in first
    assert "1,234,567.89" in first and "-350.00" in first  # right-aligned, thousands separators
    assert "含稅金額 (TWD)" in first and "每日含稅銷售額" in first
    assert "2026-04-01 10:15:30 (Asia/Taipei)" in first and "TPE、TXG、KHH" in first
    assert "張三 & 李四 <公司>" in pdf.pages[0].extract_text() + pdf.pages[1].extract_text()


def test_many_pages_numbered_with_the_header_repeated(pdf: PdfReader) -> None:
    count = len(pdf.pages)
    assert count > 1
    for number, page in enumerate(pdf.pages, start=1):
        text = page.extract_text()
        assert re.search(rf"第\s*{number}\s*頁\s*/\s*共\s*{count}\s*頁", text), number
        assert "下單時間" in text  # the table header on every page


def test_pages_are_a4(pdf: PdfReader) -> None:
    box = pdf.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4_LANDSCAPE, abs=1)  # 12 columns: landscape


def _fonts(resources: Any, found: dict[str, DictionaryObject]) -> None:
    resources = resources.get_object() if resources is not None else None
    if not resources:
        return
    for font in (resources.get("/Font") or DictionaryObject()).get_object().values():
        font = font.get_object()
        found[str(font["/BaseFont"])] = font
    for xobject in (resources.get("/XObject") or DictionaryObject()).get_object().values():
        _fonts(xobject.get_object().get("/Resources"), found)


def test_noto_cjk_is_embedded_and_the_only_font(pdf: PdfReader) -> None:
    found: dict[str, DictionaryObject] = {}
    for page in pdf.pages:
        _fonts(page.get("/Resources"), found)
    assert found
    for name, font in found.items():
        assert re.search(r"Noto(Sans|Serif)CJK", name.replace("-", "")), name
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")), name
    assert any("TC" in name for name in found)


def test_a_narrow_report_is_portrait_and_empty_is_said() -> None:
    narrow = replace(REPORT, columns=COLUMNS[:8], chart=None)
    reader = PdfReader(io.BytesIO(b"".join(renderer("pdf")(context(narrow), iter([])))))
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4_LANDSCAPE[::-1], abs=1)
    assert "無資料" in reader.pages[0].extract_text()


def test_more_rows_than_the_bound_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_out, "BOUNDED", {"pdf": 5})
    with pytest.raises(ValueError, match="more than 5 rows"):
        b"".join(renderer("pdf")(context(), rows(6)))


def test_cells_are_printed_for_people() -> None:
    text = [pdf_out.cell_text(c, v) for c, v in zip(COLUMNS, row(1), strict=True)]
    assert text[:7] == ["2026-03-01", "TXG", "陳美玲瓦斯行", "0900000001", "100001", "1", "-350.00"]
    assert text[7:] == ["12.501", "0.25%", "0.37", "2026-03-01 09:47", "否"]  # a rate without a unit: a fraction
    percent = Column("share", "rate", "占比", "share", "%")
    assert pdf_out.cell_text(percent, 12.5) == "12.50"
    assert pdf_out.cell_text(COLUMNS[5], 1234567) == "1,234,567" and pdf_out.cell_text(COLUMNS[7], None) == "—"
    assert pdf_out.cell_text(COLUMNS[2], None) == ""


def test_chart_sums_rows_that_share_an_x() -> None:
    xs, ys = series(REPORT.chart, REPORT, [row(i) for i in range(6)])  # type: ignore[arg-type]
    assert xs == [date(2026, 3, 1), date(2026, 3, 2)]
    assert ys == [[float(Decimal("1234567.89") - 350 + Decimal("68.50")), 102.75 + 137 + 171.25]]


@pytest.mark.parametrize("kind", ["line", "bar"])
def test_chart_is_svg_with_axes_and_labels(kind: str) -> None:
    chart = Chart(kind, "day", ("gross", "distance"), "圖", "chart")  # type: ignore[arg-type]
    drawing = svg(chart, REPORT, [row(i) for i in range(90)])
    assert drawing.startswith("<svg") and drawing.endswith("</svg>") and "<script" not in drawing
    assert ("<path" if kind == "line" else "<rect x=") in drawing
    assert ">日期 (" not in drawing and ">日期<" in drawing  # x axis title
    assert "含稅金額" in drawing and "里程" in drawing  # the legend
    assert ">03-01<" in drawing and ">1,250,000<" in drawing  # x labels, y ticks with separators


def test_no_figures_no_chart() -> None:
    assert svg(REPORT.chart, REPORT, []) == ""  # type: ignore[arg-type]


def test_ticks_are_round() -> None:
    assert ticks(0, 1234567.89) == [0, 250_000, 500_000, 750_000, 1_000_000, 1_250_000]
    assert ticks(-350, 1000) == [-500, 0, 500, 1000]
    assert ticks(0, 0) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
