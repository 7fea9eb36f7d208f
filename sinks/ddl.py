"""Every ClickHouse table and view the streaming core writes, defined once.

Contract: `table_defs()` describes each table (columns with ClickHouse types, key, partitioning); both sinks
use it (the in-memory sink to deduplicate like ReplacingMergeTree, the ClickHouse sink to check rows), and
`create_statements()` yields idempotent DDL for all of them and for the analyst views. Nothing is created
at import time. `CREATE TABLE IF NOT EXISTS` leaves an existing table as it is: a column added here reaches
existing installs only through a migration in sinks/migrations.py (the sink checks at start that every
table has exactly the columns defined here).

Versioned tables are `ReplacingMergeTree(_version, _deleted)`: the row with the highest `_version` per key
wins, and a winning row with `_deleted = 1` means the key is gone. Analysts and BI tools read the views
(`v_<schema>_<table>`, `sales`, `receivables_by_customer`, …), which apply FINAL and hide deleted rows.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from schemas.outputs import FAMILIES, SALES, current_table
from schemas.registry import TABLES


@dataclass(frozen=True)
class TableDef:
    """A ClickHouse table: its columns (name, type), sorting/dedup key, partitioning and engine kind."""

    name: str
    columns: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]
    partition_by: str | None = None
    versioned: bool = True

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def create(self, database: str) -> str:
        cols = ",\n  ".join(f"`{name}` {kind}" for name, kind in self.columns)
        engine = "ReplacingMergeTree(_version, _deleted)" if self.versioned else "MergeTree"
        partition = f"\nPARTITION BY {self.partition_by}" if self.partition_by else ""
        order = ", ".join(f"`{k}`" for k in self.keys)
        return (f"CREATE TABLE IF NOT EXISTS `{database}`.`{self.name}` (\n  {cols}\n) ENGINE = {engine}"
                f"{partition}\nORDER BY ({order})")


VERSION_COLUMNS: tuple[tuple[str, str], ...] = (("_version", "UInt64"), ("_deleted", "UInt8"))


def clickhouse_type(annotation: Any) -> str:
    """The ClickHouse column type for a row model field's annotation."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        kind = clickhouse_type(inner[0])
        if kind.startswith("LowCardinality("):  # ClickHouse nests the other way round
            return f"LowCardinality(Nullable({kind.removeprefix('LowCardinality(').removesuffix(')')}))"
        return f"Nullable({kind})"
    if origin is Literal:
        return "LowCardinality(String)"
    if hasattr(annotation, "__metadata__"):  # Annotated[...]
        return clickhouse_type(get_args(annotation)[0])
    simple = {bool: "Bool", int: "Int64", float: "Float64", str: "String", Decimal: "Decimal(18, 4)",
              datetime: "DateTime64(6, 'UTC')", date: "Date32"}
    if annotation in simple:
        return simple[annotation]
    raise TypeError(f"no ClickHouse type for {annotation!r}")


def _model_columns(model: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    return tuple((name, clickhouse_type(f.annotation)) for name, f in model.model_fields.items())


def _partition(column: str, kind: str) -> str:
    return f"toYYYYMM(`{column}`)" if "Nullable" not in kind else f"toYYYYMM(assumeNotNull(`{column}`))"


def _current_defs() -> list[TableDef]:
    defs = []
    for spec in TABLES.values():
        columns = _model_columns(spec.model)
        kinds = dict(columns)
        partition = _partition(spec.business_date, kinds[spec.business_date]) if spec.business_date else None
        defs.append(TableDef(current_table(spec.name),
                             (*columns, *VERSION_COLUMNS, ("_committed_at", "DateTime64(3, 'UTC')")),
                             spec.primary_key, partition))
    return defs


def _aggregate_defs() -> list[TableDef]:
    defs = []
    for family in FAMILIES.values():
        extra = (("closed", "UInt8"),) if family is SALES else ()
        columns = (*family.keys, *((m, "Int64") for m in family.measures), *extra, *VERSION_COLUMNS,
                   ("_updated_at", "DateTime64(3, 'UTC')"))
        defs.append(TableDef(family.table, columns, family.key_names))
    return defs


STREAM_OFFSETS = TableDef("stream_offsets", (("topic", "String"), ("partition", "UInt32"), ("next_offset", "Int64"),
                                             *VERSION_COLUMNS, ("_updated_at", "DateTime64(3, 'UTC')")),
                          ("topic", "partition"))
FRESHNESS = TableDef("freshness", (("source_table", "String"), ("last_commit_at", "Nullable(DateTime64(3, 'UTC'))"),
                                   ("last_visible_at", "Nullable(DateTime64(3, 'UTC'))"), ("last_lag_ms", "Int64"),
                                   ("caught_up_to", "Nullable(DateTime64(3, 'UTC'))"), ("events_applied", "UInt64"),
                                   *VERSION_COLUMNS, ("_updated_at", "DateTime64(3, 'UTC')")),
                     ("source_table",))
DEAD_LETTERS = TableDef("dead_letters", (("topic", "String"), ("partition", "UInt32"), ("offset", "Int64"),
                                         ("reason", "String"), ("value", "String"),
                                         ("dead_lettered_at", "DateTime64(3, 'UTC')"), *VERSION_COLUMNS),
                        ("topic", "partition", "offset"))


@lru_cache(maxsize=1)
def table_defs() -> dict[str, TableDef]:
    """Every table the streaming core writes, by name."""
    defs = [*_current_defs(), *_aggregate_defs(), STREAM_OFFSETS, FRESHNESS, DEAD_LETTERS]
    return {d.name: d for d in defs}


def _money(column: str) -> str:
    return f"toDecimal64(`{column}`, 2) / 100 AS `{column.removesuffix('_cents')}`"


def _view_columns(family_name: str) -> str:
    family = FAMILIES[family_name]
    cols = [f"`{k}`" for k in family.key_names]
    for m in family.measures:
        if m.endswith("_cents"):
            cols.append(_money(m))
        elif m.endswith("_tenths"):
            cols.append(f"toDecimal64(`{m}`, 1) / 10 AS `{m.removesuffix('_tenths')}`")
        else:
            cols.append(f"`{m}`")
    return ", ".join(cols)


def view_statements(database: str) -> list[str]:
    """Analyst-facing views: live rows without duplicates, money in TWD, derived rates."""
    db = f"`{database}`"
    views = [
        f"CREATE OR REPLACE VIEW {db}.`v_{spec.name.replace('.', '_')}` AS SELECT * EXCEPT (_version, _deleted) "
        f"FROM {db}.`{current_table(spec.name)}` FINAL WHERE _deleted = 0"
        for spec in TABLES.values()
    ]
    final = "FINAL WHERE _deleted = 0"
    views += [
        f"CREATE OR REPLACE VIEW {db}.sales AS SELECT {_view_columns('sales')}, "
        f"toDecimal64(net_cents + tax_cents, 2) / 100 AS gross, closed FROM {db}.agg_sales {final}",
        f"CREATE OR REPLACE VIEW {db}.fulfilment_by_day AS SELECT {_view_columns('fulfilment')}, "
        f"if(delivered = 0, NULL, on_time / delivered) AS on_time_rate FROM {db}.agg_fulfilment {final}",
        f"CREATE OR REPLACE VIEW {db}.receivables_by_customer AS SELECT {_view_columns('receivables')} "
        f"FROM {db}.agg_receivables {final}",
        f"CREATE OR REPLACE VIEW {db}.collections_by_day AS SELECT {_view_columns('collections')} "
        f"FROM {db}.agg_collections {final}",
        f"CREATE OR REPLACE VIEW {db}.stock_on_hand AS SELECT {_view_columns('stock')}, "
        f"qty_full < reorder_point AS below_reorder FROM {db}.agg_stock {final}",
        f"CREATE OR REPLACE VIEW {db}.stock_below_reorder AS SELECT * FROM {db}.stock_on_hand WHERE below_reorder",
        f"CREATE OR REPLACE VIEW {db}.route_by_day AS SELECT {_view_columns('route')}, "
        f"if(delivered = 0, NULL, on_time / delivered) AS on_time_rate FROM {db}.agg_route {final}",
        f"CREATE OR REPLACE VIEW {db}.driver_by_day AS SELECT {_view_columns('driver_day')}, "
        f"if(delivered = 0, NULL, on_time / delivered) AS on_time_rate FROM {db}.agg_driver_day {final}",
        f"CREATE OR REPLACE VIEW {db}.freshness_now AS SELECT source_table, last_commit_at, last_visible_at, "
        f"last_lag_ms, caught_up_to, events_applied, dateDiff('millisecond', "
        f"greatest(ifNull(last_commit_at, toDateTime64(0, 3, 'UTC')), "
        f"ifNull(caught_up_to, toDateTime64(0, 3, 'UTC'))), "
        f"now64(3, 'UTC')) AS age_ms FROM {db}.freshness {final}",
    ]
    return views


def table_statements(database: str) -> list[str]:
    """`CREATE TABLE IF NOT EXISTS` for every table: whole on a fresh install, a no-op for a table that exists
    (columns added since reach it through sinks/migrations.py)."""
    return [d.create(database) for d in table_defs().values()]


def create_statements(database: str) -> list[str]:
    """Idempotent DDL for every table, then every view."""
    return table_statements(database) + view_statements(database)
