"""Parquet as pyarrow reads it: a typed schema (exact decimals for money), equal values, the run's metadata,
row groups of 10,000 rows written out as they fill."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from api.reports.formats import renderer
from tests.unit.reports_formats.formats_testing import COLUMNS, REPORT, context, render, row, rows


def test_schema_is_typed_from_the_columns() -> None:
    schema = pq.read_schema(io.BytesIO(render("parquet", 3)))
    types = {field.name: field.type for field in schema}
    assert types == {
        "day": pa.date32(), "branch_code": pa.string(), "customer_name": pa.string(),
        "phone": pa.string(), "order_id": pa.int64(), "cylinders": pa.int64(),
        "gross": pa.decimal128(18, 2), "weight": pa.decimal128(38, 10), "margin": pa.float64(),
        "distance": pa.float64(), "ordered_at": pa.timestamp("us", tz="Asia/Taipei"), "paid": pa.bool_(),
    }
    gross = schema.field("gross").metadata
    assert gross[b"label_zh"].decode() == "含稅金額" and gross[b"unit"] == b"TWD"


def test_values_equal_what_was_rendered() -> None:
    table = pq.read_table(io.BytesIO(render("parquet", 120)))
    names = [c.name for c in COLUMNS]
    assert table.column_names == names
    back = [tuple(record[n] for n in names) for record in table.to_pylist()]
    assert back == [row(i) for i in range(120)]  # Decimal, date, aware datetime and None compare exactly
    first = table.slice(0, 1).to_pylist()[0]
    assert str(first["gross"]) == "1234567.89"
    assert first["ordered_at"].utcoffset().total_seconds() == 8 * 3600


def test_file_metadata_names_the_run() -> None:
    metadata = pq.read_schema(io.BytesIO(render("parquet", 1))).metadata
    text = {k.decode(): v.decode() for k, v in metadata.items() if k != b"ARROW:schema"}
    assert text["report_id"] == REPORT.id and text["title_zh"] == "測試用每日銷售報表"
    assert text["title_en"] == REPORT.title_en
    assert json.loads(text["parameters"]) == {"date_from": "2026-03-01", "date_to": "2026-03-31", "branch": None}
    assert text["as_of"] == "2026-04-01T10:10:00+08:00" and text["generated_at"] == "2026-04-01T10:15:30+08:00"
    assert json.loads(text["branches"]) == ["TPE", "TXG", "KHH"]


def test_row_groups_of_ten_thousand_are_yielded_as_they_are_written() -> None:
    chunks = list(renderer("parquet")(context(), rows(25_000)))
    assert len(chunks) == 3 and chunks[0].startswith(b"PAR1") and all(chunks[:2])
    data = b"".join(chunks)
    assert data.endswith(b"PAR1")
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert meta.num_row_groups == 3 and meta.num_rows == 25_000
    assert [meta.row_group(i).num_rows for i in range(3)] == [10_000, 10_000, 5_000]


def test_no_rows_is_a_valid_empty_file() -> None:
    table = pq.read_table(io.BytesIO(render("parquet", 0)))
    assert table.num_rows == 0 and table.schema.field("gross").type == pa.decimal128(18, 2)


def test_masked_personal_column_stays_a_string() -> None:
    masked = (*row(0)[:3], "0900-***-000", *row(0)[4:])
    table = pq.read_table(io.BytesIO(b"".join(renderer("parquet")(context(), iter([masked, row(1)])))))
    assert table.column("phone").to_pylist() == ["0900-***-000", "0900000001"]
