"""Versioned changes to our own ClickHouse tables, applied at start (additive: no rebuild).

Why: `CREATE TABLE IF NOT EXISTS` (sinks/ddl.py) makes a fresh install whole but never changes a table that
already exists, so a measure added to a definition would not reach it. Each such change gets a `Migration`
here, appended to `MIGRATIONS` with the next version.

Contract:
- A migration's statements are idempotent and additive, typically `add_column(...)` (`ALTER TABLE … ADD
  COLUMN IF NOT EXISTS … DEFAULT …`): on a fresh install, whose CREATE already has the column, they are
  no-ops, and rows already stored get the DEFAULT.
- `migrate(client, database)` creates `schema_migrations` if needed, then applies every migration not
  recorded there, in version order, recording each after all its statements succeeded; it returns the ones
  it applied. If a statement fails, the error propagates and that migration stays unrecorded: the next start
  retries it (its statements are idempotent). Two workers starting together may both apply a migration;
  harmless for the same reason (the version is then recorded twice, read as a set).
- `check_columns(client, database)` compares `system.columns` with `table_defs()` and raises
  `SchemaMismatch` naming every missing table and missing, extra or retyped column.
The ClickHouse client used: `command(sql, parameters=...)` and `query(sql, parameters=...).result_rows`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sinks.base import SinkError
from sinks.ddl import TableDef, table_defs

log = logging.getLogger("luckygas.migrations")

MIGRATIONS_TABLE = "schema_migrations"
_FIX = "add a migration in sinks/migrations.py"


class SchemaMismatch(SinkError):
    """The ClickHouse tables do not have the columns their definitions say (or the migration history does
    not match the code); the message names every difference and what to do."""


class _Result(Protocol):
    @property
    def result_rows(self) -> Sequence[Sequence[Any]]: ...


class MigrationClient(Protocol):
    """The part of a clickhouse-connect client migrations use (a fake in the unit tests)."""

    def command(self, cmd: str, parameters: Any = None) -> Any: ...

    def query(self, query: str, parameters: Any = None) -> _Result: ...


@dataclass(frozen=True)
class Migration:
    """One versioned change: `statements(database)` gives its idempotent DDL, run in order."""

    version: int
    name: str
    statements: Callable[[str], list[str]]


def add_column(database: str, table: str, column: str, kind: str, default: str | None = None) -> str:
    """`ALTER TABLE … ADD COLUMN IF NOT EXISTS`: a no-op where the column exists; stored rows read `default`
    (an SQL expression; without it, the type's zero value)."""
    clause = f" DEFAULT {default}" if default is not None else ""
    return f"ALTER TABLE `{database}`.`{table}` ADD COLUMN IF NOT EXISTS `{column}` {kind}{clause}"


def _baseline(database: str) -> list[str]:
    # The tables as sinks/ddl.py defines them at the introduction of migrations: nothing to change. (The one
    # column change before it, dead_letters gaining _version/_deleted, came with an engine change no ALTER
    # can make, and predates any install.)
    return []


def _shards(database: str) -> list[str]:
    # Several streaming workers (agents/shards.py): each aggregate cell, position and freshness row per shard.
    # A key may only be extended by a column the same ALTER adds, without a DEFAULT (stored rows read 0, the
    # single worker's shard); on a fresh install both are no-ops.
    statements = []
    for name, definition in table_defs().items():
        if "shard" not in definition.keys:
            continue
        order = ", ".join(f"`{k}`" for k in definition.keys)
        statements.append(f"{add_column(database, name, 'shard', 'UInt16')}, MODIFY ORDER BY ({order})")
    statements.append(add_column(database, "stream_offsets", "shards", "UInt16", "1"))
    return statements


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "baseline", _baseline),
    Migration(2, "worker shards", _shards),
)


def migrations_table_statement(database: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS `{database}`.`{MIGRATIONS_TABLE}` (version UInt32, name String, "
            f"applied_at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY version")


def _check_order(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if any(v <= 0 for v in versions) or versions != sorted(set(versions)):
        raise ValueError(f"migration versions must be positive, unique and increasing: {versions}")


def applied_versions(client: MigrationClient, database: str) -> dict[int, str]:
    """Version -> name of every migration recorded in `database`."""
    rows = client.query(f"SELECT version, name FROM `{database}`.`{MIGRATIONS_TABLE}`").result_rows
    return {int(version): str(name) for version, name in rows}


def migrate(client: MigrationClient, database: str, migrations: Sequence[Migration] = MIGRATIONS
            ) -> list[Migration]:
    """Apply the pending migrations in version order; the ones applied (see the module contract)."""
    _check_order(migrations)
    client.command(migrations_table_statement(database))
    recorded = applied_versions(client, database)
    known = {m.version: m.name for m in migrations}
    renamed = [f"version {v} is recorded as {recorded[v]!r} but the code calls it {name!r}"
               for v, name in known.items() if v in recorded and recorded[v] != name]
    if renamed:
        raise SchemaMismatch(f"migration history of {database} does not match sinks/migrations.py: "
                             + "; ".join(renamed) + " (never renumber or rename an applied migration)")
    ahead = sorted(set(recorded) - set(known))
    if ahead:
        log.warning("%s has migrations this code does not know (%s): a newer version ran here", database, ahead)
    applied = []
    for migration in migrations:
        if migration.version in recorded:
            continue
        for statement in migration.statements(database):
            client.command(statement)
        client.command(f"INSERT INTO `{database}`.`{MIGRATIONS_TABLE}` (version, name, applied_at) "
                       "SELECT {version:UInt32}, {name:String}, now64(3, 'UTC')",
                       parameters={"version": migration.version, "name": migration.name})
        log.info("applied migration %d (%s) to %s", migration.version, migration.name, database)
        applied.append(migration)
    return applied


def _normal(kind: str) -> str:
    # system.columns spells types canonically; tolerate spacing differences in our definitions.
    return "".join(kind.split())


def column_differences(definition: TableDef, actual: Mapping[str, str] | None) -> list[str]:
    """What differs between a table's definition and its columns in ClickHouse (name -> type); [] if none."""
    if actual is None:
        return [f"table `{definition.name}` does not exist"]
    expected = dict(definition.columns)
    problems = [f"`{definition.name}`.`{c}` is missing ({kind})" for c, kind in expected.items() if c not in actual]
    problems += [f"`{definition.name}`.`{c}` is not in the definition ({kind})" for c, kind in actual.items()
                 if c not in expected]
    problems += [f"`{definition.name}`.`{c}` is {actual[c]}, the definition says {kind}"
                 for c, kind in expected.items() if c in actual and _normal(actual[c]) != _normal(kind)]
    return problems


def check_columns(client: MigrationClient, database: str, defs: Mapping[str, TableDef] | None = None) -> None:
    """SchemaMismatch unless every table of `defs` (default: `table_defs()`) exists in `database` with exactly
    its defined columns and types."""
    rows = client.query("SELECT table, name, type FROM system.columns WHERE database = {database:String}",
                        parameters={"database": database}).result_rows
    actual: dict[str, dict[str, str]] = {}
    for table, name, kind in rows:
        actual.setdefault(str(table), {})[str(name)] = str(kind)
    definitions = defs if defs is not None else table_defs()
    problems = [p for name, d in definitions.items() for p in column_differences(d, actual.get(name))]
    if problems:
        raise SchemaMismatch(f"ClickHouse tables in {database} do not match sinks/ddl.py: " + "; ".join(problems)
                             + f" ({_FIX}: an ALTER TABLE … ADD COLUMN IF NOT EXISTS … DEFAULT … for each change)")
