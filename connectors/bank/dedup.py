"""Duplicate detection across files and days, and the store of statements already imported.

A statement's identity is `StatementKey` = (account :25:, statement number :28C:, opening balance date
and amount :60F:). The :20: reference is not part of it: banks reuse :20: values. A file's identity is
the sha256 of its bytes, which catches an exact re-delivery even under another name.

`SqliteSeenStatementStore` keeps both in one SQLite file. `record` writes a file and all its statement
keys in one transaction: either all are remembered or (on any conflict) none, and the conflict is raised
as `DuplicateStatementFile`. Calls are synchronous and short (one small transaction each).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from connectors.bank.errors import DuplicateStatementFile, RejectReason, StatementProblem
from connectors.bank.statement import ImportedFile, ImportedStatement, StatementNumber


@dataclass(frozen=True, slots=True)
class StatementKey:
    """What makes a statement the same statement, whichever file or day it arrives in."""

    account: str
    number: StatementNumber
    opening_date: date
    opening_amount: Decimal

    @classmethod
    def of(cls, statement: ImportedStatement) -> StatementKey:
        return cls(statement.account, statement.number, statement.opening.on, statement.opening.amount)

    def as_text(self) -> str:
        """A canonical text form ("1000," and "1000,00" give the same key)."""
        return f"{self.account}|{self.number}|{self.opening_date.isoformat()}|{self.opening_amount:.2f}"


@dataclass(frozen=True, slots=True)
class SeenImport:
    """The earlier import a duplicate points at."""

    file_name: str
    sha256: str
    imported_at: datetime


class SeenStatementStore(Protocol):
    """Remembers imported files and statements."""

    def file_seen(self, sha256: str) -> SeenImport | None:
        """The earlier import of a file with these bytes, if any."""
        ...

    def statements_seen(self, keys: Iterable[StatementKey]) -> dict[StatementKey, SeenImport]:
        """For each key already imported, the import it came in."""
        ...

    def record(self, imported: ImportedFile, imported_at: datetime) -> None:
        """Remember the file and all its statements at once; raises `DuplicateStatementFile` (and
        remembers nothing) when the file or any statement is already known."""
        ...


def find_duplicates(imported: ImportedFile, store: SeenStatementStore) -> list[StatementProblem]:
    """Every reason the file is a duplicate: the same bytes, a statement seen in an earlier file, or the
    same statement twice in this file. Empty when the file is new."""
    problems: list[StatementProblem] = []
    earlier_file = store.file_seen(imported.sha256)
    if earlier_file is not None:
        detail = f"same bytes as {earlier_file.file_name!r} imported {earlier_file.imported_at.isoformat()}"
        problems.append(StatementProblem(0, "duplicate_file", detail, RejectReason.DUPLICATE))
    keys = [StatementKey.of(s) for s in imported.statements]
    seen = store.statements_seen(keys)
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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_file (
    sha256 TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_statement (
    statement_key TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL REFERENCES seen_file (sha256),
    account TEXT NOT NULL,
    statement_number TEXT NOT NULL,
    opening_date TEXT NOT NULL,
    opening_amount TEXT NOT NULL
);
"""


class SqliteSeenStatementStore:
    """`SeenStatementStore` in a local SQLite file (created with its directory on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit mode: transactions are explicit (BEGIN IMMEDIATE) so a record is all-or-nothing.
        with closing(sqlite3.connect(self.path, timeout=30.0, isolation_level=None)) as conn:
            conn.execute("PRAGMA foreign_keys = ON")
            if not self._ready:
                conn.executescript(_SCHEMA)
                self._ready = True
            yield conn

    def file_seen(self, sha256: str) -> SeenImport | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT file_name, sha256, imported_at FROM seen_file WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return None if row is None else SeenImport(row[0], row[1], datetime.fromisoformat(row[2]))

    def statements_seen(self, keys: Iterable[StatementKey]) -> dict[StatementKey, SeenImport]:
        found: dict[StatementKey, SeenImport] = {}
        with self._connect() as conn:
            for key in keys:
                row = conn.execute(
                    "SELECT f.file_name, f.sha256, f.imported_at FROM seen_statement s "
                    "JOIN seen_file f USING (sha256) WHERE s.statement_key = ?",
                    (key.as_text(),),
                ).fetchone()
                if row is not None:
                    found[key] = SeenImport(row[0], row[1], datetime.fromisoformat(row[2]))
        return found

    def record(self, imported: ImportedFile, imported_at: datetime) -> None:
        if imported_at.tzinfo is None:
            raise ValueError("imported_at must be timezone-aware")
        keys = [StatementKey.of(s) for s in imported.statements]
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO seen_file (sha256, file_name, imported_at) VALUES (?, ?, ?)",
                    (imported.sha256, imported.file_name, imported_at.isoformat()),
                )
                conn.executemany(
                    "INSERT INTO seen_statement VALUES (?, ?, ?, ?, ?, ?)",
                    [(k.as_text(), imported.sha256, k.account, str(k.number), k.opening_date.isoformat(),
                      f"{k.opening_amount:.2f}") for k in keys],
                )
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                self._raise_duplicate(imported)
                raise  # a constraint we did not expect to break: let it surface as is
            conn.execute("COMMIT")

    def _raise_duplicate(self, imported: ImportedFile) -> None:
        problems = find_duplicates(imported, self)
        if problems:
            raise DuplicateStatementFile(imported.file_name, imported.sha256, tuple(problems))
