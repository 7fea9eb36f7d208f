"""The backfill driver: N days of consistent history into the operational database, in one transaction.

A fresh backfill writes master data, customers and the history, all generated from `random.Random(seed)`
(the same seed gives the same rows). It is refused (`BackfillRefused`, nothing written) when the database
already holds orders or master data — unless `append` is asked for: then the history continues from the
database as it is (its master data, customers, prices, stock and open invoices) for days after its last
order, with ids from the tables' sequences.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import psycopg

from infra.simulator import loader
from infra.simulator.dbworld import open_invoices
from infra.simulator.history import Batch, History
from infra.simulator.live_ledger import close_due_days
from infra.simulator.live_state import load_state
from infra.simulator.orders import taipei
from infra.simulator.reference import build_reference
from infra.simulator.world import Ids, Row, World, current_prices, new_customer
from infra.simulator.writer import Writer

CUSTOMER_CHUNK = 5_000


@dataclass(frozen=True)
class BackfillPlan:
    """What to generate: `days` ending at `end` (inclusive), at the given scale."""

    days: int
    end: date
    seed: int = 42
    customers: int = 50_000
    products: int = 500
    orders_per_day: int = 1_000

    def __post_init__(self) -> None:
        if self.days < 1 or self.customers < 1 or self.products < 1 or self.orders_per_day < 0:
            raise ValueError(f"a backfill needs days, customers and products >= 1: {self}")

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days - 1)


@dataclass
class BackfillReport:
    start: date
    end: date
    appended: bool
    seconds: float = 0.0
    inserted: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        return sum(self.inserted.values())


def fresh_batches(plan: BackfillPlan) -> Iterator[Batch]:
    """Every row of a fresh history, in batches: master data, customers, opening stock, each day, closing."""
    rng = random.Random(plan.seed)
    ref = build_reference(rng, plan.start - timedelta(days=30), plan.products)
    world = World(rng, ref, Ids(), prices=current_prices(ref))
    yield dict(ref.rows)
    for first in range(0, plan.customers, CUSTOMER_CHUNK):
        batch: Batch = defaultdict(list)
        for _ in range(min(CUSTOMER_CHUNK, plan.customers - first)):
            customer, rows = new_customer(world, plan.start - timedelta(days=rng.randint(1, 3650)))
            world.customers.append(customer)
            for table, table_rows in rows.items():
                batch[table].extend(table_rows)
        yield dict(batch)
    world.index()
    history = History(world, plan.start, plan.end, plan.orders_per_day)
    yield history.opening()
    yield from history.days()
    yield {
        "w300.warehouse_stock": history.stock.stock_rows(taipei(plan.start, 0)),
        "w600.account_balance": history.ledger.balance_rows(plan.end),
    }


def generate(plan: BackfillPlan) -> dict[str, list[Row]]:
    """All rows of a fresh history in memory (tests and small runs)."""
    out: dict[str, list[Row]] = defaultdict(list)
    for batch in fresh_batches(plan):
        for table, rows in batch.items():
            out[table].extend(rows)
    return dict(out)


def backfill(dsn: str, plan: BackfillPlan, append: bool = False) -> BackfillReport:
    """Write the plan's history in one transaction; `BackfillRefused` (and nothing written) when it would
    duplicate or overlap what the database holds."""
    started = time.monotonic()
    report = BackfillReport(plan.start, plan.end, append)
    with psycopg.connect(dsn) as conn:
        loader.lock(conn)
        last = loader.last_order_day(conn)
        if not append:
            if last is not None or loader.has_master_data(conn):
                held = f"orders up to {last}" if last else "master data"
                raise loader.BackfillRefused(
                    f"the operational database already holds {held}: refusing to backfill again "
                    "(append with --append, or start from an empty database)"
                )
            for batch in fresh_batches(plan):
                loader.copy_batch(conn, batch, report.inserted)
            loader.advance_sequences(conn)
        else:
            _append(conn, plan, last, report)
        conn.commit()
    report.seconds = time.monotonic() - started
    return report


def _append(conn: psycopg.Connection[Any], plan: BackfillPlan, last: date | None, report: BackfillReport) -> None:
    if last is not None and plan.start <= last:
        raise loader.BackfillRefused(
            f"the database's orders reach {last}: an appended history must start after it, "
            f"not on {plan.start} (choose --end and --days so that it starts on {last + timedelta(days=1)} or later)"
        )
    if not loader.has_master_data(conn):
        raise loader.BackfillRefused("nothing to append to: the database has no master data (run a fresh backfill)")
    state = load_state(conn, random.Random(plan.seed), plan.start)
    if state.last_closed >= plan.start:
        raise loader.BackfillRefused(f"the ledger is closed up to {state.last_closed}: append after that day")
    # Days between the books' last close and the appended history (live mode's last days) are closed first,
    # so every day is booked exactly once.
    writer = Writer(conn)
    close_due_days(writer, state, taipei(plan.start, 0))
    for (table, operation), n in writer.ops.items():
        (report.inserted if operation == "insert" else report.updated)[table] += n
    history = History(state.world, plan.start, plan.end, plan.orders_per_day)
    history.stock.load(
        [
            (int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]))
            for r in conn.execute(
                "SELECT stock_id, warehouse_code, product_id, qty_full, qty_empty FROM w300.warehouse_stock"
            ).fetchall()
        ]
    )
    history.open_invoices = open_invoices(conn, plan.start)
    for batch in history.days():
        loader.copy_batch(conn, batch, report.inserted)
    report.updated["w300.warehouse_stock"] += loader.apply_stock_deltas(conn, history.stock.deltas())
    report.updated["w500.invoice_header"] += loader.apply_invoice_updates(conn, history.invoice_updates)
    inserted, updated = loader.merge_balances(conn, history.ledger.sums, plan.end)
    report.inserted["w600.account_balance"] += inserted
    report.updated["w600.account_balance"] += updated
