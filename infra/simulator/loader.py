"""Write generated history into the operational database.

Contract: all or nothing. The whole history goes in one transaction (COPY per table, in foreign-key
order); afterwards every identity sequence is moved past the ids used, so the live simulator and any
other writer continue without collisions. A database that already holds orders is refused with
`BackfillRefused` and left untouched.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from infra.postgres.tables import CAPTURED_TABLES
from schemas.registry import TABLES


class BackfillRefused(RuntimeError):
    """The database already has business data; backfilling would duplicate history."""


def copy_rows(conn: psycopg.Connection[Any], table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    schema, name = table.split(".")
    statement = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def advance_sequences(conn: psycopg.Connection[Any]) -> None:
    for table, spec in TABLES.items():
        if len(spec.primary_key) != 1:
            continue
        column = spec.primary_key[0]
        seq = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (table, column)).fetchone()
        if seq and seq[0]:
            conn.execute(
                sql.SQL("SELECT setval(%s, GREATEST((SELECT max({}) FROM {}), 1))").format(
                    sql.Identifier(column), sql.SQL(table)
                ),
                (seq[0],),
            )


def load_history(dsn: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """COPY every table's rows in one transaction; return the row count per table."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT EXISTS (SELECT 1 FROM w200.order_master)").fetchone() == (True,):
            raise BackfillRefused(
                "the operational database already holds orders: refusing to backfill again "
                "(use `make clean` for a fresh database)"
            )
        for table in CAPTURED_TABLES:
            copy_rows(conn, table, rows.get(table, []))
        advance_sequences(conn)
        conn.commit()
    return {table: len(rows.get(table, [])) for table in CAPTURED_TABLES}
