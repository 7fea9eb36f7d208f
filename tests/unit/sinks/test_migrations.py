"""Migrations: pending ones applied in order and recorded once; columns checked against the definitions."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from clickhouse_connect.driver.client import Client

from sinks.clickhouse import ClickHouseSink
from sinks.ddl import VERSION_COLUMNS, TableDef, table_defs
from sinks.migrations import (
    MIGRATIONS,
    MIGRATIONS_TABLE,
    Migration,
    SchemaMismatch,
    add_column,
    check_columns,
    migrate,
)

DB = "lg"
ITEMS = TableDef("items", (("id", "Int64"), ("amount_cents", "Int64"), *VERSION_COLUMNS), ("id",))

_ALTER = re.compile(r"ALTER TABLE `(\w+)`\.`(\w+)` ADD COLUMN IF NOT EXISTS `(\w+)` ([^,]+?)(?: DEFAULT .+?)?"
                    r"(?:, MODIFY ORDER BY .+)?$")


@dataclass
class _Result:
    result_rows: list[tuple[Any, ...]]


@dataclass
class FakeClient:
    """Just enough of ClickHouse for migrations: tables as name -> {column: type}, the migration records,
    every command in order; `fail_on` makes a command containing it raise."""

    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    records: list[tuple[int, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    fail_on: str | None = None

    def command(self, cmd: str, parameters: Any = None) -> None:
        if self.fail_on is not None and self.fail_on in cmd:
            raise RuntimeError(f"server refused: {cmd}")
        self.commands.append(cmd)
        if cmd.startswith(f"INSERT INTO `{DB}`.`{MIGRATIONS_TABLE}`"):
            self.records.append((parameters["version"], parameters["name"]))
        elif cmd.startswith(f"CREATE TABLE IF NOT EXISTS `{DB}`.`{MIGRATIONS_TABLE}`"):
            self.tables.setdefault(MIGRATIONS_TABLE, {"version": "UInt32", "name": "String",
                                                      "applied_at": "DateTime64(3, 'UTC')"})
        elif match := _ALTER.match(cmd):
            self.tables[match[2]].setdefault(match[3], match[4])

    def query(self, sql: str, parameters: Any = None) -> _Result:
        if f"FROM `{DB}`.`{MIGRATIONS_TABLE}`" in sql:
            return _Result(list(self.records))
        if "FROM system.columns" in sql:
            assert parameters == {"database": DB}
            return _Result([(t, c, k) for t, cols in self.tables.items() for c, k in cols.items()])
        raise AssertionError(f"unexpected query {sql}")


def marker(name: str) -> Callable[[str], list[str]]:
    def statements(database: str) -> list[str]:
        return [f"-- {name} on {database}"]
    return statements


def steps(*names: str) -> tuple[Migration, ...]:
    return tuple(Migration(i, name, marker(name)) for i, name in enumerate(names, start=1))


def test_pending_migrations_are_applied_in_order_and_recorded_once() -> None:
    client = FakeClient()
    first = steps("one", "two")
    assert [m.name for m in migrate(client, DB, first)] == ["one", "two"]
    assert client.commands[0].startswith(f"CREATE TABLE IF NOT EXISTS `{DB}`.`{MIGRATIONS_TABLE}`")
    assert [c for c in client.commands if c.startswith("--")] == ["-- one on lg", "-- two on lg"]
    assert client.records == [(1, "one"), (2, "two")]
    assert migrate(client, DB, first) == []  # idempotent: nothing re-applied
    assert [m.name for m in migrate(client, DB, steps("one", "two", "three"))] == ["three"]
    assert client.records == [(1, "one"), (2, "two"), (3, "three")]


def test_the_shipped_migrations_apply_on_a_fresh_database() -> None:
    client = FakeClient(tables={d.name: dict(d.columns) for d in table_defs().values()})  # as CREATE made them
    assert migrate(client, DB) == list(MIGRATIONS)
    assert migrate(client, DB) == []
    assert [v for v, _ in client.records] == [m.version for m in MIGRATIONS]


def test_a_failed_statement_leaves_its_migration_unrecorded() -> None:
    client = FakeClient(fail_on="-- two")
    with pytest.raises(RuntimeError, match="server refused"):
        migrate(client, DB, steps("one", "two", "three"))
    assert client.records == [(1, "one")]
    client.fail_on = None
    assert [m.name for m in migrate(client, DB, steps("one", "two", "three"))] == ["two", "three"]


@pytest.mark.parametrize("versions", [(1, 1), (2, 1), (0, 1)])
def test_versions_must_be_positive_unique_and_increasing(versions: tuple[int, ...]) -> None:
    migrations = tuple(Migration(v, f"m{i}", lambda db: []) for i, v in enumerate(versions))
    with pytest.raises(ValueError, match="increasing"):
        migrate(FakeClient(), DB, migrations)


def test_a_renamed_applied_migration_is_refused() -> None:
    client = FakeClient(records=[(1, "baseline")])
    with pytest.raises(SchemaMismatch, match="version 1 is recorded as 'baseline' but the code calls it 'other'"):
        migrate(client, DB, steps("other"))


def test_add_column_is_idempotent_ddl_with_a_default() -> None:
    assert add_column(DB, "agg_sales", "returns_cents", "Int64", "0") == (
        "ALTER TABLE `lg`.`agg_sales` ADD COLUMN IF NOT EXISTS `returns_cents` Int64 DEFAULT 0")
    assert add_column(DB, "t", "note", "Nullable(String)") == (
        "ALTER TABLE `lg`.`t` ADD COLUMN IF NOT EXISTS `note` Nullable(String)")


def test_an_additive_migration_brings_an_old_table_to_its_definition() -> None:
    client = FakeClient(tables={"items": {"id": "Int64", "_version": "UInt64", "_deleted": "UInt8"}})
    with pytest.raises(SchemaMismatch, match=r"`items`\.`amount_cents` is missing \(Int64\)"):
        check_columns(client, DB, {"items": ITEMS})
    add = Migration(1, "items_amount", lambda db: [add_column(db, "items", "amount_cents", "Int64", "0")])
    migrate(client, DB, (add,))
    check_columns(client, DB, {"items": ITEMS})


def test_check_columns_names_every_difference_and_the_fix() -> None:
    other = TableDef("other", (("k", "Int64"),), ("k",))
    client = FakeClient(tables={"items": {"id": "Int32", "_version": "UInt64", "_deleted": "UInt8",
                                          "legacy": "String"}})
    with pytest.raises(SchemaMismatch) as caught:
        check_columns(client, DB, {"items": ITEMS, "other": other})
    message = str(caught.value)
    for part in ("`items`.`amount_cents` is missing (Int64)", "`items`.`legacy` is not in the definition (String)",
                 "`items`.`id` is Int32, the definition says Int64", "table `other` does not exist",
                 "add a migration in sinks/migrations.py"):
        assert part in message


def test_type_spelling_differences_are_not_mismatches() -> None:
    spaced = TableDef("m", (("amount", "Decimal(18, 4)"), ("at", "DateTime64(3, 'UTC')")), ("amount",))
    client = FakeClient(tables={"m": {"amount": "Decimal(18,4)", "at": "DateTime64(3,'UTC')"}})
    check_columns(client, DB, {"m": spaced})


def test_ensure_schema_creates_tables_migrates_then_views_then_checks() -> None:
    client = FakeClient(tables={d.name: dict(d.columns) for d in table_defs().values()})
    ClickHouseSink(cast(Client, client), DB).ensure_schema()
    kinds = ["migration" if MIGRATIONS_TABLE in c or c.startswith("ALTER TABLE") else
             "table" if c.startswith("CREATE TABLE IF NOT EXISTS") else
             "view" if c.startswith("CREATE OR REPLACE VIEW") else c for c in client.commands]
    first_view = kinds.index("view")
    assert kinds[:first_view] == ["table"] * len(table_defs()) + ["migration"] * (first_view - len(table_defs()))
    assert set(kinds[first_view:]) == {"view"}  # views last: they may read a column a migration added
    assert client.records == [(m.version, m.name) for m in MIGRATIONS]


def test_ensure_schema_refuses_a_definition_changed_without_a_migration() -> None:
    tables = {d.name: dict(d.columns) for d in table_defs().values()}
    del tables["agg_sales"]["cylinders"]
    with pytest.raises(SchemaMismatch, match=r"`agg_sales`\.`cylinders` is missing"):
        ClickHouseSink(cast(Client, FakeClient(tables=tables)), DB).ensure_schema()
