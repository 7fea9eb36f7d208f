"""Duplicate detection across files and days, and the store of statements already imported.

A statement's identity is `StatementKey` = (account :25:, currency and date and amount of the opening
balance :60F:, statement number :28C:). The :20: reference is not part of it: banks reuse :20: values. A
file's identity is the sha256 of its bytes, which catches an exact re-delivery even under another name.

Contract of every `SeenStatementStore`:
- `file_seen` / `statements_seen` answer from what `record` stored, for any store on the same data;
- `record` remembers a file and all its statement keys at once: either all of them or (on any conflict:
  the file's bytes, or one of its statements, seen before, or a statement twice in the file) none, and
  the conflict is raised as `DuplicateStatementFile` carrying the problems `find_duplicates` gives;
- `exclusive()` is a lock around a whole import (check, deliver, record) held by at most one holder among
  all stores on the same data: in-process for `MemorySeenStatementStore`, across processes and machines
  for `PostgresSeenStatementStore`. It is not re-entrant: do not nest it.

`PostgresSeenStatementStore` keeps both in the operational PostgreSQL database, schema `bank_import`
(created on first use), so every importer on every machine shares it. The schema is not captured by
Debezium: the connector's publication is created in "filtered" mode from `table.include.list`, which is
exactly `infra.postgres.tables.CAPTURED_TABLES` (the w100 … w700 tables), see
`connectors/debezium/postgres_connector.py` and `infra/kafka/connect.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import psycopg
from psycopg import sql

from connectors.bank.errors import DuplicateStatementFile, RejectReason, StatementProblem
from connectors.bank.statement import ImportedFile, ImportedStatement, StatementNumber

DEFAULT_SCHEMA = "bank_import"


def canonical_amount(amount: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros: 1000, 1000.0 and 1000.00 give "1000"."""
    if amount == 0:
        return "0"
    return f"{amount.normalize():f}"


@dataclass(frozen=True, slots=True)
class StatementKey:
    """What makes a statement the same statement, whichever file or day it arrives in."""

    account: str
    currency: str
    number: StatementNumber
    opening_date: date
    opening_amount: Decimal

    @classmethod
    def of(cls, statement: ImportedStatement) -> StatementKey:
        opening = statement.opening
        return cls(statement.account, opening.currency, statement.number, opening.on, opening.amount)

    def as_text(self) -> str:
        """The canonical text form ("1000," and "1000,00" give the same key), e.g.
        ``0081234567890|TWD|12/1|2026-01-13|1000``."""
        return (f"{self.account}|{self.currency}|{self.number}|{self.opening_date.isoformat()}|"
                f"{canonical_amount(self.opening_amount)}")


@dataclass(frozen=True, slots=True)
class SeenImport:
    """The earlier import a duplicate points at."""

    file_name: str
    sha256: str
    imported_at: datetime


class SeenStatementStore(Protocol):
    """Remembers imported files and statements; see the module contract."""

    async def file_seen(self, sha256: str) -> SeenImport | None:
        """The earlier import of a file with these bytes, if any."""
        ...

    async def statements_seen(self, keys: Iterable[StatementKey]) -> dict[StatementKey, SeenImport]:
        """For each key already imported, the import it came in."""
        ...

    async def record(self, imported: ImportedFile, imported_at: datetime) -> None:
        """Remember the file and all its statements at once; raises `DuplicateStatementFile` (and
        remembers nothing) when the file or any statement is already known or repeated in the file.
        Raises `ValueError` for a naive `imported_at`."""
        ...

    def exclusive(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the import lock for the `async with` block (waits while another holder has it)."""
        ...


async def find_duplicates(imported: ImportedFile, store: SeenStatementStore) -> list[StatementProblem]:
    """Every reason the file is a duplicate: the same bytes, a statement seen in an earlier file, or the
    same statement twice in this file. Empty when the file is new."""
    problems: list[StatementProblem] = []
    earlier_file = await store.file_seen(imported.sha256)
    if earlier_file is not None:
        detail = f"same bytes as {earlier_file.file_name!r} imported {earlier_file.imported_at.isoformat()}"
        problems.append(StatementProblem(0, "duplicate_file", detail, RejectReason.DUPLICATE))
    keys = [StatementKey.of(s) for s in imported.statements]
    seen = await store.statements_seen(keys)
    first_index: dict[StatementKey, int] = {}
    for index, key in enumerate(keys, start=1):
        if key in seen:
            earlier = seen[key]
            detail = (f"{key.as_text()} already imported from {earlier.file_name!r} "
                      f"at {earlier.imported_at.isoformat()}")
            problems.append(StatementProblem(index, "duplicate_statement", detail, RejectReason.DUPLICATE))
        elif key in first_index:
            detail = f"{key.as_text()} repeats statement {first_index[key]} of this file"
            problems.append(StatementProblem(index, "duplicate_statement", detail, RejectReason.DUPLICATE))
        first_index.setdefault(key, index)
    return problems


def _require_aware(imported_at: datetime) -> None:
    if imported_at.tzinfo is None:
        raise ValueError("imported_at must be timezone-aware")


class MemorySeenStatementStore:
    """`SeenStatementStore` in memory, for tests and single-process tools; `exclusive` is an asyncio.Lock."""

    def __init__(self) -> None:
        self._files: dict[str, SeenImport] = {}
        self._statements: dict[StatementKey, SeenImport] = {}
        self._lock = asyncio.Lock()

    async def file_seen(self, sha256: str) -> SeenImport | None:
        return self._files.get(sha256)

    async def statements_seen(self, keys: Iterable[StatementKey]) -> dict[StatementKey, SeenImport]:
        return {key: self._statements[key] for key in keys if key in self._statements}

    async def record(self, imported: ImportedFile, imported_at: datetime) -> None:
        _require_aware(imported_at)
        # No await below suspends (the lookups are plain dict reads), so check and insert are one step.
        problems = await find_duplicates(imported, self)
        if problems:
            raise DuplicateStatementFile(imported.file_name, imported.sha256, tuple(problems))
        seen = SeenImport(imported.file_name, imported.sha256, imported_at)
        self._files[imported.sha256] = seen
        for statement in imported.statements:
            self._statements[StatementKey.of(statement)] = seen

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._lock:
            yield

    async def close(self) -> None:
        """Nothing to release (present so callers treat both stores alike)."""


def advisory_lock_key(schema: str, purpose: str = "import") -> int:
    """The fixed bigint of a PostgreSQL advisory lock of the bank import on `schema` (a stable hash, so
    every process on every machine computes the same key; other schemas, e.g. tests', get other keys)."""
    digest = hashlib.sha256(f"luckygas.bank_import.{purpose}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_DDL = (
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    "CREATE TABLE IF NOT EXISTS {schema}.seen_file ("
    " sha256 text PRIMARY KEY,"
    " file_name text NOT NULL,"
    " imported_at timestamptz NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {schema}.seen_statement ("
    " statement_key text PRIMARY KEY,"
    " sha256 text NOT NULL REFERENCES {schema}.seen_file (sha256),"
    " account text NOT NULL,"
    " currency text NOT NULL,"
    " statement_number text NOT NULL,"
    " opening_date date NOT NULL,"
    " opening_amount numeric NOT NULL)",
)
_FILE_SEEN = "SELECT file_name, sha256, imported_at FROM {schema}.seen_file WHERE sha256 = %s"
_STATEMENTS_SEEN = (
    "SELECT s.statement_key, f.file_name, f.sha256, f.imported_at FROM {schema}.seen_statement s "
    "JOIN {schema}.seen_file f USING (sha256) WHERE s.statement_key = ANY(%s)"
)
_INSERT_FILE = "INSERT INTO {schema}.seen_file (sha256, file_name, imported_at) VALUES (%s, %s, %s)"
_INSERT_STATEMENT = (
    "INSERT INTO {schema}.seen_statement (statement_key, sha256, account, currency, statement_number, "
    "opening_date, opening_amount) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


class PostgresSeenStatementStore:
    """`SeenStatementStore` in PostgreSQL (psycopg 3, async), shared by importers on every machine.

    One connection, opened on first use and reopened if it broke, is held until `close()`; the first use
    creates the schema and tables (idempotent, serialised by an advisory transaction lock so two first
    uses at once do not collide). Operations of one store take turns on that connection. `record` is one
    transaction; a unique violation rolls it back and raises `DuplicateStatementFile`. `exclusive()`
    takes the session advisory lock `advisory_lock_key(schema)` on a connection of its own, opened for the
    block and closed after it (so a crashed holder's lock is released by the server).
    """

    def __init__(self, dsn: str, schema: str = DEFAULT_SCHEMA) -> None:
        self.dsn = dsn
        self.schema = schema
        self.lock_key = advisory_lock_key(schema)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._ready = False
        self._turn = asyncio.Lock()

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(schema=sql.Identifier(self.schema))

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """The store's connection (call with `_turn` held), schema created on first use."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        if not self._ready:
            async with self._conn.transaction():
                await self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_lock_key(self.schema, "ddl"),))
                for statement in _DDL:
                    await self._conn.execute(self._sql(statement))
            self._ready = True
        return self._conn

    async def file_seen(self, sha256: str) -> SeenImport | None:
        async with self._turn:
            conn = await self._connection()
            cur = await conn.execute(self._sql(_FILE_SEEN), (sha256,))
            row = await cur.fetchone()
        return None if row is None else SeenImport(row[0], row[1], row[2])

    async def statements_seen(self, keys: Iterable[StatementKey]) -> dict[StatementKey, SeenImport]:
        by_text = {key.as_text(): key for key in keys}
        if not by_text:
            return {}
        async with self._turn:
            conn = await self._connection()
            cur = await conn.execute(self._sql(_STATEMENTS_SEEN), (list(by_text),))
            rows = await cur.fetchall()
        return {by_text[row[0]]: SeenImport(row[1], row[2], row[3]) for row in rows}

    async def record(self, imported: ImportedFile, imported_at: datetime) -> None:
        _require_aware(imported_at)
        keys = [StatementKey.of(s) for s in imported.statements]
        rows = [(k.as_text(), imported.sha256, k.account, k.currency, str(k.number), k.opening_date,
                 k.opening_amount) for k in keys]
        try:
            async with self._turn:
                conn = await self._connection()
                async with conn.transaction(), conn.cursor() as cur:
                    await cur.execute(self._sql(_INSERT_FILE), (imported.sha256, imported.file_name, imported_at))
                    await cur.executemany(self._sql(_INSERT_STATEMENT), rows)
        except psycopg.errors.UniqueViolation:
            problems = await find_duplicates(imported, self)
            if problems:
                raise DuplicateStatementFile(imported.file_name, imported.sha256, tuple(problems)) from None
            raise  # the conflicting row has gone again (its transaction rolled back): not a duplicate we can name

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        try:
            await conn.execute("SELECT pg_advisory_lock(%s)", (self.lock_key,))
            try:
                yield
            finally:
                if not conn.broken:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (self.lock_key,))
        finally:
            await conn.close()

    async def close(self) -> None:
        """Close the store's connection (a later call opens a new one)."""
        async with self._turn:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
