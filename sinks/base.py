"""The one sink interface: rows are added per table, then flushed together as a batch.

Contract (the contract tests in tests/unit/sinks/contract.py hold every implementation to it):
- `add(table, rows)` checks each row against the table's definition (exactly its columns) and buffers it;
  a bad row raises `SinkError` naming the table and the problem, and nothing of that call is buffered.
- Nothing added is visible before `flush()`. `flush()` writes every buffered batch (one per table; an
  implementation may write tables concurrently), returns only when all are written, empties the buffer and
  returns the number of rows written. Ordering between tables is the caller's business: the pipeline
  flushes a batch's data, then its checkpoint in a second flush, so a checkpoint never precedes its data.
  If a write fails, `flush` raises `SinkError`; written batches leave the buffer, failed or unattempted
  ones stay, so a retry loses nothing and writes nothing twice. The error's `transient` says whether every
  failure was of the kind that passes by itself (`is_transient`: the server restarting, the network): only
  those are worth retrying; anything else (a type mismatch, a column the table lacks, a bug) is permanent.
- `latest(table)` returns the live rows as a ReplacingMergeTree reader sees them: per key, the row with
  the highest `_version`, left out when that row has `_deleted = 1` (unversioned tables: every row).
- `keys_since(table, version, shard)` returns the key columns (a row of just those) of every row of a
  versioned table written with a `_version` above `version` for that shard, deleted ones included, each once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from sinks.ddl import TableDef, table_defs

Row = dict[str, Any]


class SinkError(RuntimeError):
    """A row that does not fit its table, or a write that failed; the message says which. `transient`: the
    failure is expected to pass by itself (retry), else it is permanent (stop and say so)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class NotAttempted(SinkError):
    """A batch left unwritten because an earlier one of the same flush failed (it says nothing itself)."""


class Sink(ABC):
    """Buffers rows per table and writes them in batches; subclasses implement `write_batch`, `latest` and
    `keys_since`."""

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
        tables = [t for t, rows in self._buffer.items() if rows]
        errors = self.write_batches([(self.defs[t], self._buffer[t]) for t in tables])
        written = 0
        failed: list[str] = []
        transient = True
        for table, error in zip(tables, errors, strict=True):
            if error is None:
                written += len(self._buffer.pop(table))
            elif not isinstance(error, NotAttempted):
                failed.append(f"writing {len(self._buffer[table])} rows to {table} failed: "
                              f"{type(error).__name__}: {error}")
                transient = transient and self.is_transient(error)
        for table in [t for t, rows in self._buffer.items() if not rows]:
            del self._buffer[table]
        if failed:
            raise SinkError("; ".join(failed), transient=transient)
        return written

    def is_transient(self, error: BaseException) -> bool:
        """Whether a write error is expected to pass by itself. The default: the network or the OS."""
        return isinstance(error, (ConnectionError, TimeoutError))

    def write_batches(self, batches: list[tuple[TableDef, list[Row]]]) -> list[Exception | None]:
        """Write each batch; per batch, None or the error it met. The default goes one by one and leaves
        the rest unattempted (reported as errors) after the first failure."""
        results: list[Exception | None] = []
        for definition, rows in batches:
            if any(r is not None for r in results):
                results.append(NotAttempted("not attempted after an earlier failure"))
                continue
            try:
                self.write_batch(definition, rows)
                results.append(None)
            except Exception as error:
                results.append(error)
        return results

    @abstractmethod
    def write_batch(self, definition: TableDef, rows: list[Row]) -> None:
        """Write `rows` (already checked) to the table; raise on failure."""

    @abstractmethod
    def latest(self, table: str, shard: int | None = None) -> list[Row]:
        """The live rows of `table` (see the module contract); with `shard`, only that worker shard's rows
        (of a table with a `shard` column)."""

    @abstractmethod
    def keys_since(self, table: str, version: int, shard: int) -> list[Row]:
        """The keys of a versioned table's rows written above `version` by `shard` (the module contract)."""

    def close(self) -> None:
        """Release connections; rows not flushed are discarded (the default holds no connection)."""
        self._buffer.clear()
