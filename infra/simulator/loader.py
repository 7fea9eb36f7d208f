"""Write generated history into the operational database (COPY), and the few set-based updates of append mode.

Contract: the caller runs everything in one transaction, so a backfill is all or nothing. `copy_batch`
writes each table's rows in foreign-key order; `advance_sequences` moves every identity sequence past the
ids used (a fresh history assigns ids itself), so the live simulator and other writers continue without
collisions.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from infra.clock import TAIPEI
from infra.postgres.tables import CAPTURED_TABLES
from schemas.registry import TABLES

Row = dict[str, Any]
# Serialises backfills: a second one waits, then sees the first one's orders and is refused.
LOCK_KEY = 0x4C75636B  # "Luck"


class BackfillRefused(RuntimeError):
    """The database already holds business data that this backfill would duplicate or overlap."""


def lock(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))


def last_order_day(conn: psycopg.Connection[Any]) -> date | None:
    """The Taipei business day of the latest order, None when there are no orders."""
    row = conn.execute("SELECT max(ordered_at) FROM w200.order_master").fetchone()
    latest: datetime | None = row[0] if row else None
    return latest.astimezone(TAIPEI).date() if latest else None


def has_master_data(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM w110.branch)").fetchone()
    return bool(row and row[0])


def copy_rows(conn: psycopg.Connection[Any], table: str, rows: list[Row]) -> None:
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


def copy_batch(conn: psycopg.Connection[Any], batch: dict[str, list[Row]], counts: Counter[str]) -> None:
    """COPY one batch, parents before children; adds the rows written to `counts`."""
    unknown = set(batch) - set(CAPTURED_TABLES)
    if unknown:
        raise ValueError(f"rows for tables that are not in the schema: {sorted(unknown)}")
    for table in CAPTURED_TABLES:
        rows = batch.get(table)
        if rows:
            copy_rows(conn, table, rows)
            counts[table] += len(rows)


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


def _temp(conn: psycopg.Connection[Any], name: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    conn.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(sql.Identifier(name), sql.SQL(columns)))
    with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))) as copy:
        for row in rows:
            copy.write_row(row)


def apply_stock_deltas(conn: psycopg.Connection[Any], deltas: list[tuple[int, int, int]]) -> int:
    """Add (stock_id, full change, empty change) to warehouse_stock; returns the rows updated."""
    if not deltas:
        return 0
    _temp(conn, "sim_stock_delta", "stock_id bigint, d_full integer, d_empty integer", deltas)
    cur = conn.execute(
        "UPDATE w300.warehouse_stock s SET qty_full = s.qty_full + d.d_full, qty_empty = s.qty_empty + d.d_empty, "
        "updated_at = now() FROM sim_stock_delta d WHERE s.stock_id = d.stock_id"
    )
    return cur.rowcount


def apply_invoice_updates(conn: psycopg.Connection[Any], updates: list[tuple[int, Decimal, str, datetime]]) -> int:
    """Set (invoice_id, paid_amount, status, updated_at) of invoices paid within an appended history."""
    if not updates:
        return 0
    _temp(conn, "sim_invoice_paid", "invoice_id bigint, paid numeric(14,2), status text, at timestamptz", updates)
    cur = conn.execute(
        "UPDATE w500.invoice_header i SET paid_amount = p.paid, status = p.status, updated_at = p.at "
        "FROM sim_invoice_paid p WHERE i.invoice_id = p.invoice_id"
    )
    return cur.rowcount


RECHAIN = (
    "UPDATE w600.account_balance b SET opening_balance = x.opening, "
    "closing_balance = x.opening + b.period_debit - b.period_credit, updated_at = now() "
    "FROM (SELECT balance_id, first_value(opening_balance) OVER (PARTITION BY account_code, cost_center "
    "ORDER BY period) + coalesce(sum(period_debit - period_credit) OVER (PARTITION BY account_code, cost_center "
    "ORDER BY period ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS opening "
    "FROM w600.account_balance) x WHERE b.balance_id = x.balance_id AND (b.opening_balance <> x.opening "
    "OR b.closing_balance <> x.opening + b.period_debit - b.period_credit)"
)


def merge_balances(
    conn: psycopg.Connection[Any], sums: dict[tuple[str, str, str], list[Decimal]], end: date
) -> tuple[int, int]:
    """Add an appended history's period sums to account_balance, re-chain openings and closings, close
    the periods before `end`'s. Returns (rows inserted, rows updated)."""
    if not sums:
        return 0, 0
    _temp(
        conn,
        "sim_period_sum",
        "account_code text, period char(7), cost_center text, d numeric, c numeric",
        [(a, p, cc, d, c) for (a, p, cc), (d, c) in sums.items()],
    )
    keys = "b.account_code = s.account_code AND b.period = s.period AND b.cost_center = s.cost_center"
    updated = conn.execute(
        (
            "UPDATE w600.account_balance b SET period_debit = b.period_debit + s.d, period_credit = b.period_credit "
            "+ s.c, closing_balance = b.closing_balance + s.d - s.c, updated_at = now() FROM sim_period_sum s WHERE "
            + keys
        ).encode()
    ).rowcount
    inserted = conn.execute(
        (
            "INSERT INTO w600.account_balance (account_code, period, cost_center, opening_balance, period_debit, "
            "period_credit, closing_balance, budget_amount, is_closed) SELECT s.account_code, s.period, s.cost_center, "
            "0, s.d, s.c, s.d - s.c, 0, false FROM sim_period_sum s WHERE NOT EXISTS (SELECT 1 FROM "
            "w600.account_balance b WHERE " + keys + ")"
        ).encode()
    ).rowcount
    updated += conn.execute(RECHAIN).rowcount
    updated += conn.execute(
        "UPDATE w600.account_balance SET is_closed = true, updated_at = now() WHERE period < %s AND NOT is_closed",
        (f"{end:%Y-%m}",),
    ).rowcount
    return inserted, updated
