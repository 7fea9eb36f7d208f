"""Every table the streaming core writes is defined from the row models, with types ClickHouse accepts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import pytest

from schemas.registry import TABLES
from schemas.types import PgDate, PgTimestamp
from sinks.ddl import clickhouse_type, create_statements, table_defs


@pytest.mark.parametrize(("annotation", "expected"), [
    (int, "Int64"), (str, "String"), (bool, "Bool"), (float, "Float64"), (Decimal, "Decimal(18, 4)"),
    (PgDate, "Date32"), (PgTimestamp, "DateTime64(6, 'UTC')"), (datetime, "DateTime64(6, 'UTC')"), (date, "Date32"),
    (int | None, "Nullable(Int64)"), (Literal["a", "b"], "LowCardinality(String)"),
    (Literal["a"] | None, "LowCardinality(Nullable(String))"), (PgTimestamp | None, "Nullable(DateTime64(6, 'UTC'))"),
])
def test_clickhouse_types(annotation: object, expected: str) -> None:
    assert clickhouse_type(annotation) == expected


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(TypeError):
        clickhouse_type(bytes)


def test_every_source_table_has_a_versioned_current_table_and_a_view() -> None:
    defs = table_defs()
    for name, spec in TABLES.items():
        d = defs["cur_" + name.replace(".", "_")]
        assert d.versioned and d.keys == spec.primary_key
        assert set(spec.model.model_fields) < set(d.column_names)
        assert (d.partition_by is not None) == (spec.business_date is not None)
    statements = create_statements("db")
    assert sum("CREATE OR REPLACE VIEW `db`.`v_" in s for s in statements) == len(TABLES)
    assert any("ReplacingMergeTree(_version, _deleted)" in s and "agg_sales" in s for s in statements)
