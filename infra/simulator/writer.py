"""Row-level SQL for live and append mode: a writer that counts what it changes, ids from the sequences.

`Writer` runs each statement on the caller's connection (inside the caller's transaction) and counts the
rows changed per (table, operation). Statements are fire-and-forget where possible: ids are drawn ahead
from the tables' identity sequences in blocks (`SequenceIds`), so an insert needs no RETURNING and many
statements can be pipelined in one round trip.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg
from psycopg import sql

from schemas.registry import TABLES

OPERATIONS = ("insert", "update", "delete")


class SequenceIds:
    """Next primary keys from the database's identity sequences, drawn `block` at a time.

    Safe with other writers (a sequence never hands a value out twice); ids left unused when the process
    ends are gaps, as with any sequence."""

    def __init__(self, conn: psycopg.Connection[Any], block: int = 200) -> None:
        self.conn, self.block = conn, block
        self._free: dict[str, list[int]] = {}
        self._sequence: dict[str, str] = {}

    def next(self, table: str) -> int:
        free = self._free.setdefault(table, [])
        if not free:
            free.extend(self._draw(table))
        return free.pop()

    def _draw(self, table: str) -> list[int]:
        if table not in self._sequence:
            column = TABLES[table].primary_key[0]
            row = self.conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (table, column)).fetchone()
            if row is None or row[0] is None:
                raise ValueError(f"{table}.{column} has no identity sequence")
            self._sequence[table] = str(row[0])
        values = self.conn.execute(
            "SELECT nextval(%s) FROM generate_series(1, %s)", (self._sequence[table], self.block)
        ).fetchall()
        return sorted((int(v[0]) for v in values), reverse=True)  # pop() hands them out in ascending order


def _table(table: str) -> sql.Composed:
    schema, name = table.split(".")
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


class Writer:
    """INSERT / UPDATE / DELETE by primary key, counted per (table, operation)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.ops: Counter[tuple[str, str]] = Counter()

    @property
    def changes(self) -> Counter[str]:
        """Row changes per table (all operations)."""
        out: Counter[str] = Counter()
        for (table, _), n in self.ops.items():
            out[table] += n
        return out

    def insert(self, table: str, row: dict[str, Any]) -> None:
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            _table(table),
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
        )
        self.conn.execute(query, list(row.values()))
        self.ops[(table, "insert")] += 1

    def update(self, table: str, key: str, key_value: Any, **values: Any) -> None:
        """UPDATE one row by its key; the caller knows the row exists (this process is its only writer)."""
        query = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
            _table(table),
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values),
            sql.Identifier(key),
        )
        self.conn.execute(query, [*values.values(), key_value])
        self.ops[(table, "update")] += 1

    def execute(self, table: str, operation: str, query: str, params: Any, rows: int = 1) -> None:
        """A statement of our own that changes `rows` rows of `table` by `operation` (counted as such)."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        self.conn.execute(query.encode(), params)
        self.ops[(table, operation)] += rows

    def delete(self, table: str, key: str, key_value: Any) -> None:
        self.conn.execute(
            sql.SQL("DELETE FROM {} WHERE {} = %s").format(_table(table), sql.Identifier(key)), [key_value]
        )
        self.ops[(table, "delete")] += 1
