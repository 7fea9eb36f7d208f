"""The ClickHouse sink: batched inserts through clickhouse-connect, tables created on first use.

Contract: as `sinks.base.Sink`. `ensure_schema()` creates every table and view idempotently (the worker
calls it at start). Inserts are synchronous; the async worker calls `flush` in a thread.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.base import Row, Sink
from sinks.ddl import TableDef, create_statements


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class ClickHouseSink(Sink):
    """Writes batches to one ClickHouse database."""

    def __init__(self, client: Client, database: str, defs: dict[str, TableDef] | None = None) -> None:
        super().__init__(defs)
        self.client = client
        self.database = database

    def ensure_schema(self) -> None:
        for statement in create_statements(self.database):
            self.client.command(statement)

    def write_batch(self, definition: TableDef, rows: list[Row]) -> None:
        names = definition.column_names
        data = [[row[name] for name in names] for row in rows]
        self.client.insert(definition.name, data, column_names=list(names), database=self.database)

    def latest(self, table: str) -> list[Row]:
        definition = self.defs[table]
        where = " FINAL WHERE _deleted = 0" if definition.versioned else ""
        return self.query_rows(f"SELECT * FROM `{self.database}`.`{table}`{where}")

    def query_rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[Row]:
        """Rows as dicts; datetimes always timezone-aware (clickhouse-connect returns UTC ones naive)."""
        result = self.client.query(sql, parameters=parameters)
        return [{name: _aware(value) for name, value in zip(result.column_names, row, strict=True)}
                for row in result.result_rows]

    def close(self) -> None:
        super().close()
        self.client.close()
