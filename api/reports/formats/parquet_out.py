"""Parquet: a typed schema from the report's columns, written in row groups of `ROW_GROUP_ROWS`, streamed.

Types: money → decimal128(18, 2) (exact TWD), decimal → decimal128(38, 10) (rounded half-even to ten places),
int → int64, rate/float → float64, date → date32, datetime → timestamp("us", tz="Asia/Taipei"), bool → bool,
text → string. A personal column (`Column.personal`) is a string whatever its kind: masked values are text,
and the schema must not depend on who asked. Each field carries its labels and unit as field metadata; the
file's key-value metadata has the report (`report_id`, `title_zh`, `title_en`), `parameters` (JSON),
`generated_at`, `as_of` (ISO 8601 with offset, empty when unknown) and `branches` (JSON, null: all).

Rows are gathered one row group at a time; after each row group the bytes the writer produced are taken from
the sink and yielded, so memory holds one row group whatever the result's size.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from api.reports.definition import Column
from api.reports.formats import RenderContext, Rows
from api.reports.formats._common import taipei

ROW_GROUP_ROWS = 10_000
_CENT = Decimal("0.01")
_DECIMAL_PLACES = Decimal("1e-10")


class _Sink(io.RawIOBase):
    """A write-only file that keeps what is written until it is drained."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self._parts.append(piece)
        self._position += len(piece)
        return len(piece)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts = []
        return data


def arrow_type(column: Column) -> Any:
    """The Arrow type of `column`'s values."""
    if column.personal is not None:
        return pa.string()
    return {
        "money": pa.decimal128(18, 2), "decimal": pa.decimal128(38, 10), "int": pa.int64(), "rate": pa.float64(),
        "float": pa.float64(), "date": pa.date32(), "datetime": pa.timestamp("us", tz="Asia/Taipei"),
        "bool": pa.bool_(), "text": pa.string(),
    }[column.kind]


def _money(value: Any) -> Decimal:
    return Decimal(str(value) if isinstance(value, float) else value).quantize(_CENT)


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value) if isinstance(value, float) else value).quantize(_DECIMAL_PLACES)


def _date(value: Any) -> date:
    return taipei(value).date() if isinstance(value, datetime) else value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "money": _money, "decimal": _decimal, "int": int, "rate": float, "float": float, "date": _date,
    "datetime": taipei, "bool": bool, "text": str,
}


def _converter(column: Column) -> Callable[[Any], Any]:
    base: Callable[[Any], Any] = str if column.personal is not None else _CONVERTERS[column.kind]

    def convert(value: Any) -> Any:
        return None if value is None else base(value)

    return convert


def schema(ctx: RenderContext) -> Any:
    """The file's schema, with the report's metadata."""
    report = ctx.report
    fields = [pa.field(c.name, arrow_type(c), nullable=True, metadata={
        "label_zh": c.label_zh, "label_en": c.label_en, "unit": c.unit or "", "kind": c.kind,
    }) for c in report.columns]
    metadata = {
        "report_id": report.id, "title_zh": report.title_zh, "title_en": report.title_en,
        "parameters": json.dumps(dict(ctx.values), ensure_ascii=False, default=_json_default),
        "generated_at": taipei(ctx.generated_at).isoformat(),
        "as_of": "" if ctx.as_of is None else taipei(ctx.as_of).isoformat(),
        "branches": json.dumps(None if ctx.branches is None else list(ctx.branches), ensure_ascii=False),
    }
    return pa.schema(fields, metadata=metadata)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return taipei(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)  # Decimal: exact text


def render(ctx: RenderContext, rows: Rows) -> Iterator[bytes]:
    columns = ctx.report.columns
    file_schema = schema(ctx)
    converters = [_converter(c) for c in columns]
    sink = _Sink()
    writer = pq.ParquetWriter(sink, file_schema, compression="snappy")
    try:
        block: list[list[Any]] = [[] for _ in columns]
        count = 0
        for row in rows:
            for values, convert, value in zip(block, converters, row, strict=True):
                values.append(convert(value))
            count += 1
            if count >= ROW_GROUP_ROWS:
                _write(writer, file_schema, block)
                block = [[] for _ in columns]
                count = 0
                yield sink.drain()
        if count:
            _write(writer, file_schema, block)
    finally:
        writer.close()
    yield sink.drain()


def _write(writer: Any, file_schema: Any, block: list[list[Any]]) -> None:
    arrays = [pa.array(values, type=field.type) for values, field in zip(block, file_schema, strict=True)]
    writer.write_table(pa.Table.from_arrays(arrays, schema=file_schema), row_group_size=ROW_GROUP_ROWS)
