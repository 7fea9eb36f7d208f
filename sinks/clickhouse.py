"""The ClickHouse sink: batched inserts through clickhouse-connect, tables created on first use.

Contract: as `sinks.base.Sink`. `ensure_schema()` creates every table and view idempotently (the worker
calls it at start). Inserts are synchronous; the async worker calls `flush` in a thread. With a client
factory and `parallel > 1`, the tables of one flush are inserted concurrently, one client per thread
(a clickhouse-connect client is not safe to share between threads). Column types come from the table
definitions, so an insert costs one round trip (no DESCRIBE first).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from sinks.base import Row, Sink
from sinks.ddl import TableDef, table_statements, view_statements
from sinks.migrations import check_columns, migrate

# Server error codes that pass by themselves (overload, timeouts, a replica or the network going away);
# every other server error (unknown column, type mismatch, syntax) is permanent: retrying cannot help.
TRANSIENT_CODES = frozenset({3, 159, 164, 202, 203, 209, 210, 241, 242, 252, 319, 425, 999})


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class ClickHouseSink(Sink):
    """Writes batches to one ClickHouse database."""

    def __init__(self, client: Client, database: str, defs: dict[str, TableDef] | None = None, *,
                 client_factory: Callable[[], Client] | None = None, parallel: int = 1) -> None:
        super().__init__(defs)
        self.client = client
        self.database = database
        self._factory = client_factory
        self._parallel = parallel if client_factory is not None else 1
        self._local = threading.local()
        self._clients: list[Client] = []
        self._pool: ThreadPoolExecutor | None = None

    def ensure_schema(self) -> None:
        """Create missing tables, apply pending migrations (sinks/migrations.py), then (re)create the views,
        which may read a column a migration just added; finally `SchemaMismatch` unless every table has
        exactly its defined columns (a definition changed without a migration)."""
        for statement in table_statements(self.database):
            self.client.command(statement)
        migrate(self.client, self.database)
        for statement in view_statements(self.database):
            self.client.command(statement)
        check_columns(self.client, self.database)

    def write_batch(self, definition: TableDef, rows: list[Row]) -> None:
        names = definition.column_names
        # Column-oriented: clickhouse-connect would otherwise pivot rows into columns itself, slower.
        data = [[row[name] for row in rows] for name in names]
        self._thread_client().insert(definition.name, data, column_names=list(names), database=self.database,
                                     column_type_names=[kind for _, kind in definition.columns],
                                     column_oriented=True)

    def write_batches(self, batches: list[tuple[TableDef, list[Row]]]) -> list[Exception | None]:
        if self._parallel <= 1 or len(batches) <= 1:
            return super().write_batches(batches)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._parallel, thread_name_prefix="clickhouse-insert")
        futures = [self._pool.submit(self.write_batch, d, rows) for d, rows in batches]
        return [f.exception() for f in futures]  # type: ignore[misc]

    def is_transient(self, error: BaseException) -> bool:
        """Transport failures (no server answer, or an overloaded one after the driver's own retries) and the
        server codes of `TRANSIENT_CODES`; anything the server rejected for what we sent is permanent."""
        if isinstance(error, DatabaseError):
            code = getattr(error, "code", None)
            return code in TRANSIENT_CODES or (code is None and isinstance(error, OperationalError))
        return super().is_transient(error)

    def _thread_client(self) -> Client:
        if self._factory is None or threading.current_thread() is threading.main_thread():
            return self.client
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._factory()
            self._clients.append(client)
        return client

    def latest(self, table: str, shard: int | None = None) -> list[Row]:
        definition = self.defs[table]
        conditions = ["_deleted = 0"] if definition.versioned else []
        if shard is not None:
            conditions.append("shard = {s:UInt16}")
        where = " FINAL" if definition.versioned else ""
        if conditions:
            where += " WHERE " + " AND ".join(conditions)
        return self.query_rows(f"SELECT * FROM `{self.database}`.`{table}`{where}", {"s": shard})

    def keys_since(self, table: str, version: int, shard: int) -> list[Row]:
        keys = ", ".join(f"`{k}`" for k in self.defs[table].keys)
        return self.query_rows(f"SELECT DISTINCT {keys} FROM `{self.database}`.`{table}` "
                               "WHERE _version > {v:UInt64} AND shard = {s:UInt16}", {"v": version, "s": shard})

    def query_rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[Row]:
        """Rows as dicts; datetimes always timezone-aware (clickhouse-connect returns UTC ones naive)."""
        result = self.client.query(sql, parameters=parameters)
        return [{name: _aware(value) for name, value in zip(result.column_names, row, strict=True)}
                for row in result.result_rows]

    def close(self) -> None:
        super().close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for client in [self.client, *self._clients]:
            client.close()
