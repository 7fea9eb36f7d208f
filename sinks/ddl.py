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


# Every streaming worker's part (agents/shards.py): aggregate cells, positions and freshness per shard.
SHARD_COLUMN = ("shard", "UInt16")


def _aggregate_defs() -> list[TableDef]:
    defs = []
    for family in FAMILIES.values():
        extra = (("closed", "UInt8"),) if family is SALES else ()
        columns = (*family.keys, *((m, "Int64") for m in family.measures), *extra, *VERSION_COLUMNS,
                   ("_updated_at", "DateTime64(3, 'UTC')"), SHARD_COLUMN)
        defs.append(TableDef(family.table, columns, (*family.key_names, "shard")))
    return defs


STREAM_OFFSETS = TableDef("stream_offsets", (("topic", "String"), ("partition", "UInt32"), ("next_offset", "Int64"),
                                             *VERSION_COLUMNS, ("_updated_at", "DateTime64(3, 'UTC')"), SHARD_COLUMN,
                                             ("shards", "UInt16")),
                          ("topic", "partition", "shard"))
FRESHNESS = TableDef("freshness", (("source_table", "String"), ("last_commit_at", "Nullable(DateTime64(3, 'UTC'))"),
                                   ("last_visible_at", "Nullable(DateTime64(3, 'UTC'))"), ("last_lag_ms", "Int64"),
                                   ("caught_up_to", "Nullable(DateTime64(3, 'UTC'))"), ("events_applied", "UInt64"),
                                   *VERSION_COLUMNS, ("_updated_at", "DateTime64(3, 'UTC')"), SHARD_COLUMN),
                     ("source_table", "shard"))
DEAD_LETTERS = TableDef("dead_letters", (("topic", "String"), ("partition", "UInt32"), ("offset", "Int64"),
                                         ("reason", "String"), ("value", "String"),
                                         ("dead_lettered_at", "DateTime64(3, 'UTC')"), *VERSION_COLUMNS),
                        ("topic", "partition", "offset"))


@lru_cache(maxsize=1)
def table_defs() -> dict[str, TableDef]:
    """Every table the streaming core writes, by name."""
    defs = [*_current_defs(), *_aggregate_defs(), STREAM_OFFSETS, FRESHNESS, DEAD_LETTERS]
    return {d.name: d for d in defs}


def _measure(column: str) -> str:
    """A measure summed over the shards, money in TWD and tenths in units."""
    if column.endswith("_cents"):
        return f"toDecimal64(sum(`{column}`), 2) / 100 AS `{column.removesuffix('_cents')}`"
    if column.endswith("_tenths"):
        return f"toDecimal64(sum(`{column}`), 1) / 10 AS `{column.removesuffix('_tenths')}`"
    return f"sum(`{column}`) AS `{column}`"


def _family_view(db: str, family_name: str, extra: str = "") -> str:
    """The live cells of a family, each the sum of its shards' parts (one row per cell key)."""
    family = FAMILIES[family_name]
    keys = ", ".join(f"`{k}`" for k in family.key_names)
    measures = ", ".join(_measure(m) for m in family.measures)
    return (f"SELECT {keys}, {measures}{extra} FROM {db}.`{family.table}` FINAL WHERE _deleted = 0 "
            f"GROUP BY {keys}")


_RATE = ", if(delivered = 0, NULL, on_time / delivered) AS on_time_rate"  # over the sums (aliases)
_ZERO_TIME = "toDateTime64(0, 3, 'UTC')"
_VOIDED_ON = ", if(voided = 0, NULL, toDate32(voided_day)) AS voided_on"  # the day an invoice counts as voided from


def _freshness_view(db: str) -> str:
    """Per source table, the shard furthest behind (every shard reads every table); events summed."""
    seen = f"greatest(ifNull(last_commit_at, {_ZERO_TIME}), ifNull(caught_up_to, {_ZERO_TIME}))"
    rows = (f"SELECT source_table, last_commit_at, last_visible_at, caught_up_to, last_lag_ms, events_applied, "
            f"{seen} AS seen FROM {db}.freshness FINAL WHERE _deleted = 0")
    shards = (f"SELECT source_table, argMin(tuple(last_commit_at, last_visible_at, caught_up_to), seen) AS behind, "
              f"max(last_lag_ms) AS lag, sum(events_applied) AS events, min(seen) AS oldest FROM ({rows}) "
              f"GROUP BY source_table")
    return (f"SELECT source_table, behind.1 AS last_commit_at, behind.2 AS last_visible_at, lag AS last_lag_ms, "
            f"behind.3 AS caught_up_to, events AS events_applied, "
            f"dateDiff('millisecond', oldest, now64(3, 'UTC')) AS age_ms FROM ({shards})")


def view_statements(database: str) -> list[str]:
    """Analyst-facing views: live rows without duplicates, money in TWD, derived rates, cells summed over the
    streaming workers' shards."""
    db = f"`{database}`"
    views = [
        f"CREATE OR REPLACE VIEW {db}.`v_{spec.name.replace('.', '_')}` AS SELECT * EXCEPT (_version, _deleted) "
        f"FROM {db}.`{current_table(spec.name)}` FINAL WHERE _deleted = 0"
        for spec in TABLES.values()
    ]
    views += [
        f"CREATE OR REPLACE VIEW {db}.sales AS " + _family_view(
            db, "sales", ", toDecimal64(sum(net_cents) + sum(tax_cents), 2) / 100 AS gross, min(closed) AS closed"),
        f"CREATE OR REPLACE VIEW {db}.fulfilment_by_day AS " + _family_view(db, "fulfilment", _RATE),
        f"CREATE OR REPLACE VIEW {db}.receivables_by_customer AS " + _family_view(db, "receivables"),
        f"CREATE OR REPLACE VIEW {db}.open_invoices AS " + _family_view(db, "invoice_open", _VOIDED_ON),
        f"CREATE OR REPLACE VIEW {db}.collections_by_day AS " + _family_view(db, "collections"),
        f"CREATE OR REPLACE VIEW {db}.stock_on_hand AS " + _family_view(
            db, "stock", ", qty_full < reorder_point AS below_reorder"),
        f"CREATE OR REPLACE VIEW {db}.stock_below_reorder AS SELECT * FROM {db}.stock_on_hand WHERE below_reorder",
        f"CREATE OR REPLACE VIEW {db}.route_by_day AS " + _family_view(db, "route", _RATE),
        f"CREATE OR REPLACE VIEW {db}.driver_by_day AS " + _family_view(db, "driver_day", _RATE),
        f"CREATE OR REPLACE VIEW {db}.freshness_now AS " + _freshness_view(db),
    ]
    return views


def table_statements(database: str) -> list[str]:
    """`CREATE TABLE IF NOT EXISTS` for every table: whole on a fresh install, a no-op for a table that exists
    (columns added since reach it through sinks/migrations.py)."""
    return [d.create(database) for d in table_defs().values()]


def create_statements(database: str) -> list[str]:
    """Idempotent DDL for every table, then every view."""
    return table_statements(database) + view_statements(database)
