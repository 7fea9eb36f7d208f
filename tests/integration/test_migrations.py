"""Migrations on the real ClickHouse: an old table gains a measure without a rebuild, rows kept, once only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from infra.clickhouse.runner import get_client
from infra.settings import StackSettings
from sinks.clickhouse import ClickHouseSink
from sinks.ddl import VERSION_COLUMNS, TableDef, table_defs, view_statements
from sinks.migrations import MIGRATIONS, MIGRATIONS_TABLE, Migration, add_column, check_columns, migrate

pytestmark = pytest.mark.integration

OLD = TableDef("agg_probe", (("day", "Date32"), ("orders", "Int64"), *VERSION_COLUMNS), ("day",))
NEW = TableDef("agg_probe", (*OLD.columns, ("returns", "Int64")), ("day",))
TEST_MIGRATIONS = (
    Migration(1, "baseline", lambda db: []),
    Migration(2, "agg_probe_returns", lambda db: [add_column(db, "agg_probe", "returns", "Int64", "7")]),
)


@pytest.fixture
def scratch(stack: StackSettings) -> Iterator[tuple[Client, str]]:
    database = f"migrations_{uuid.uuid4().hex[:8]}"
    client = get_client(stack, database="default")
    client.command(f"CREATE DATABASE `{database}`")
    try:
        yield client, database
    finally:
        client.command(f"DROP DATABASE `{database}`")
        client.close()


def test_an_added_measure_reaches_an_existing_table(scratch: tuple[Client, str]) -> None:
    client, db = scratch
    client.command(OLD.create(db))
    client.command(f"INSERT INTO `{db}`.agg_probe (day, orders, _version, _deleted) "
                   "VALUES ('2026-01-15', 3, 1, 0), ('2026-01-16', 5, 1, 0)")

    applied = migrate(client, db, TEST_MIGRATIONS)

    assert [m.version for m in applied] == [1, 2]
    rows = client.query(f"SELECT toString(day), orders, returns FROM `{db}`.agg_probe FINAL ORDER BY day").result_rows
    assert rows == [("2026-01-15", 3, 7), ("2026-01-16", 5, 7)]  # rows kept, the new measure at its DEFAULT
    columns = client.query("SELECT name, type, default_expression FROM system.columns "
                           "WHERE database = {db:String} AND table = 'agg_probe' AND name = 'returns'",
                           parameters={"db": db}).result_rows
    assert columns == [("returns", "Int64", "7")]
    check_columns(client, db, {NEW.name: NEW})

    assert migrate(client, db, TEST_MIGRATIONS) == []  # idempotent: nothing re-applied, nothing re-recorded
    recorded = client.query(f"SELECT version, name FROM `{db}`.`{MIGRATIONS_TABLE}` ORDER BY version").result_rows
    assert recorded == [(1, "baseline"), (2, "agg_probe_returns")]


def test_on_a_fresh_table_the_migration_is_a_no_op(scratch: tuple[Client, str]) -> None:
    client, db = scratch
    client.command(NEW.create(db))  # a fresh install: CREATE already has the column
    assert [m.version for m in migrate(client, db, TEST_MIGRATIONS)] == [1, 2]
    check_columns(client, db, {NEW.name: NEW})


def test_ensure_schema_on_a_fresh_database_and_again(stack: StackSettings, scratch: tuple[Client, str]) -> None:
    _, db = scratch
    for _ in range(2):  # the second start finds everything in place: no SchemaMismatch, nothing applied
        sink = ClickHouseSink(get_client(stack, database=db), db)
        try:
            sink.ensure_schema()
        finally:
            sink.close()


def _before_shards(definition: TableDef) -> TableDef:
    """A table as an install made before worker shards has it."""
    columns = tuple(c for c in definition.columns if c[0] not in ("shard", "shards"))
    return TableDef(definition.name, columns, tuple(k for k in definition.keys if k != "shard"),
                    definition.partition_by, definition.versioned)


def test_an_install_from_before_worker_shards_gains_them_and_keeps_its_cells(scratch: tuple[Client, str]) -> None:
    client, db = scratch
    for definition in table_defs().values():
        client.command(_before_shards(definition).create(db))
    client.command(f"INSERT INTO `{db}`.agg_fulfilment (day, branch, due, delivered, on_time, cancelled, _version, "
                   "_deleted, _updated_at) VALUES ('2026-01-15', 'TPE', 4, 2, 1, 0, 1, 0, now64())")
    migrate(client, db, MIGRATIONS[:1])  # the install as it was

    assert [m.name for m in migrate(client, db)] == ["worker shards"]
    for statement in view_statements(db):
        client.command(statement)
    check_columns(client, db)
    keys = dict(client.query("SELECT name, sorting_key FROM system.tables WHERE database = {db:String}",
                             parameters={"db": db}).result_rows)
    assert keys["agg_fulfilment"] == "day, branch, shard" and keys["stream_offsets"] == "topic, partition, shard"
    client.command(f"INSERT INTO `{db}`.agg_fulfilment (day, branch, due, delivered, on_time, cancelled, _version, "
                   "_deleted, _updated_at, shard) VALUES ('2026-01-15', 'TPE', 1, 1, 1, 0, 1, 0, now64(), 1)")
    rows = client.query(f"SELECT due, delivered, on_time, on_time_rate FROM `{db}`.fulfilment_by_day").result_rows
    assert rows == [(5, 3, 2, 2 / 3)]  # the old cell is shard 0's part; the view sums the shards
