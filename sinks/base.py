"""The one sink interface: rows are added per table, then flushed together as a batch.

Contract (the contract tests in tests/unit/sinks/contract.py hold every implementation to it):
- `add(table, rows)` checks each row against the table's definition (exactly its columns) and buffers it;
  a bad row raises `SinkError` naming the table and the problem, and nothing of that call is buffered.
- Nothing added is visible before `flush()`. `flush()` writes the buffered batches table by table, in the
  order the tables were first added (the worker adds the checkpoint table last, so a checkpoint is never
  visible before the data it covers), empties the buffer and returns the number of rows written.
  If a write fails, `flush` raises `SinkError` and keeps the unwritten batches, so a retry loses nothing.
- `latest(table)` returns the live rows as a ReplacingMergeTree reader sees them: per key, the row with
  the highest `_version`, left out when that row has `_deleted = 1` (unversioned tables: every row).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from sinks.ddl import TableDef, table_defs

Row = dict[str, Any]


class SinkError(RuntimeError):
    """A row that does not fit its table, or a write that failed; the message says which."""


class Sink(ABC):
    """Buffers rows per table and writes them in batches; subclasses implement `write_batch` and `latest`."""

    def __init__(self, defs: Mapping[str, TableDef] | None = None) -> None:
        self.defs = dict(defs) if defs is not None else table_defs()
        self._buffer: dict[str, list[Row]] = {}

    def add(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        definition = self.defs.get(table)
        if definition is None:
            raise SinkError(f"unknown table {table!r}")
        expected = set(definition.column_names)
        for row in rows:
            if set(row) != expected:
                missing, extra = sorted(expected - set(row)), sorted(set(row) - expected)
                raise SinkError(f"row for {table} does not fit: missing {missing}, unexpected {extra}")
        self._buffer.setdefault(table, []).extend(dict(r) for r in rows)

    @property
    def pending(self) -> int:
        return sum(len(rows) for rows in self._buffer.values())

    def flush(self) -> int:
        written = 0
        for table in list(self._buffer):
            rows = self._buffer[table]
            if rows:
                try:
                    self.write_batch(self.defs[table], rows)
                except SinkError:
                    raise
                except Exception as error:
                    raise SinkError(f"writing {len(rows)} rows to {table} failed: {error}") from error
                written += len(rows)
            del self._buffer[table]
        return written

    @abstractmethod
    def write_batch(self, definition: TableDef, rows: list[Row]) -> None:
        """Write `rows` (already checked) to the table; raise on failure."""

    @abstractmethod
    def latest(self, table: str) -> list[Row]:
        """The live rows of `table` (see the module contract)."""

    def close(self) -> None:
        """Release connections; rows not flushed are discarded (the default holds no connection)."""
        self._buffer.clear()
