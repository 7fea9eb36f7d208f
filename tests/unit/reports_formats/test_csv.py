"""CSV as Excel zh-TW users open it: BOM, zh-TW labels with units, CRLF, plain values that read back exactly."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from api.reports.formats import renderer
from api.reports.formats._common import label
from infra.clock import TAIPEI
from tests.unit.reports_formats.formats_testing import COLUMNS, context, render, row, rows


def read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), dialect="excel"))


def test_bom_header_of_zh_tw_labels_with_units_and_crlf() -> None:
    data = render("csv", 3)
    assert data.startswith(codecs.BOM_UTF8)
    text = data.decode("utf-8-sig")
    assert text.count("\r\n") == 4 and text.count("\n") == 4
    header = read(data)[0]
    assert header == [label(c) for c in COLUMNS]
    assert header[0] == "日期" and header[6] == "含稅金額 (TWD)" and header[7] == "重量 (kg)"


def _parsers() -> dict[str, Callable[[str], Any]]:
    return {
        "money": Decimal, "decimal": Decimal, "int": int, "rate": float, "float": float,
        "date": date.fromisoformat, "bool": lambda s: {"TRUE": True, "FALSE": False}[s],
        "datetime": lambda s: datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=TAIPEI),
        "text": lambda s: s[1:] if s.startswith("'=") else s,
    }


def test_values_round_trip() -> None:
    parsers = _parsers()
    records = read(render("csv", 60))[1:]
    assert len(records) == 60
    for i, record in enumerate(records):
        back = tuple(None if text == "" else parsers[c.kind](text) for c, text in zip(COLUMNS, record, strict=True))
        assert back == row(i), i


def test_plain_money_iso_dates_taipei_times_and_empty_none() -> None:
    first, second, _, fourth = read(render("csv", 4))[1:]
    assert first[6] == "1234567.89" and second[6] == "-350.00"  # no thousands separator, two places
    assert first[0] == "2026-03-01"
    assert first[10] == "2026-03-01 09:30:00"  # 01:30 UTC
    assert first[11] == "TRUE" and second[11] == "FALSE"
    assert first[7] == "" and fourth[3] == ""  # None
    assert second[2] == "陳美玲瓦斯行"


def test_text_excel_would_run_as_a_formula_is_quoted() -> None:
    record = read(render("csv", 4))[4]
    assert record[2] == "'=HYPERLINK(\"http://x\")"


def test_streamed_in_blocks_of_a_thousand_rows() -> None:
    chunks = list(renderer("csv")(context(), rows(2_500)))
    assert len(chunks) == 3
    assert chunks[0].startswith(codecs.BOM_UTF8) and not chunks[1].startswith(codecs.BOM_UTF8)
    assert sum(len(read(c)) for c in chunks) == 2_501


def test_no_rows_is_the_header_alone() -> None:
    assert read(render("csv", 0)) == [[label(c) for c in COLUMNS]]


def test_masked_value_in_a_typed_column_is_written_as_text() -> None:
    masked = ("*", *row(0)[1:6], "***", *row(0)[7:])
    data = b"".join(renderer("csv")(context(), iter([masked])))
    assert read(data)[1][0] == "*" and read(data)[1][6] == "***"
