"""Every report of the catalog renders in each of its formats, and the reader people use opens the result: the
renderers take whatever columns, kinds and charts the library's definitions declare."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader

from api.reports.catalog import catalog
from api.reports.definition import Report
from api.reports.formats import RenderContext, renderer

SAMPLES: dict[str, Callable[[int], Any]] = {
    "text": lambda i: f"台北{i}", "int": lambda i: 1 + i, "money": lambda i: Decimal(1234.5 * (i + 1)).quantize(Decimal("0.01")),
    "decimal": lambda i: Decimal("1.25") * i, "rate": lambda i: 0.1 * i, "float": lambda i: 2.5 * i,
    "date": lambda i: date(2026, 3, 1) + timedelta(days=i),
    "datetime": lambda i: datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=i), "bool": lambda i: i % 2 == 0,
}


def sample_rows(report: Report) -> list[tuple[Any, ...]]:
    """Four rows; the second is None wherever a value may be missing."""
    return [tuple(None if i == 1 and c.kind != "text" else SAMPLES[c.kind](i) for c in report.columns) for i in range(4)]


CASES = [(r.id, f) for r in catalog().values() for f in r.formats if f != "json"]


@pytest.mark.parametrize(("report_id", "fmt"), CASES)
def test_every_report_renders_in_its_formats(report_id: str, fmt: str) -> None:
    report = catalog()[report_id]
    ctx = RenderContext(report, {p.name: None for p in report.params}, datetime(2026, 4, 1, tzinfo=UTC), None, None)
    data = b"".join(renderer(fmt)(ctx, iter(sample_rows(report))))
    if fmt == "csv":
        assert len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))) == 5
    elif fmt == "xlsx":
        assert openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].max_row == 5
    elif fmt == "parquet":
        assert pq.read_table(io.BytesIO(data)).num_rows == 4
    else:
        assert report.title_zh in PdfReader(io.BytesIO(data)).pages[0].extract_text()
