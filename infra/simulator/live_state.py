"""What the live simulator knows of the database: loaded once at start, then kept in step by every action.

The simulator is the only writer of the legacy tables (it *is* the legacy application), so after the
initial load it needs no reads: every statement can be sent without waiting for an answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from infra.simulator.dbworld import load_customers, load_world
from infra.simulator.world import Customer, Row, World
from infra.simulator.writer import SequenceIds

OLD_INVOICE_DAYS = 14


@dataclass
class OpenOrder:
    order: Row  # order_id, order_status, channel, branch_code, subtotal …
    customer: Customer
    lines: list[Row]  # detail_id, line_no, product_id, quantity, unit_price, line_amount, tax_amount, …

    @property
    def order_id(self) -> int:
        return int(self.order["order_id"])

    @property
    def status(self) -> str:
        return str(self.order["order_status"])

    @property
    def walk_in(self) -> bool:
        return bool(self.order["channel"] == "walk_in")


@dataclass
class Run:
    dispatch_id: int
    dispatch_no: str
    branch: str
    planned_km: Decimal
    stops: list[tuple[int, int]]  # (route_stop_id, order_id) still pending, in order
    crew: list[int]  # assignment ids
    departed: bool
    km: Decimal = Decimal(0)


@dataclass
class Unpaid:
    invoice_id: int
    customer: Customer
    total: Decimal
    paid: Decimal


@dataclass
class LiveState:
    world: World
    open_orders: dict[int, OpenOrder] = field(default_factory=dict)
    runs: dict[int, Run] = field(default_factory=dict)
    stock: dict[tuple[str, int], list[int]] = field(default_factory=dict)  # -> [full, empty]
    old_unpaid: list[Unpaid] = field(default_factory=list)  # invoices weeks old
    new_unpaid: list[Unpaid] = field(default_factory=list)  # credit invoices issued by this run
    reversible: list[tuple[int, Unpaid, Decimal]] = field(default_factory=list)  # payment id, invoice, amount
    notes: list[int] = field(default_factory=list)  # status-log remarks that may turn out to be mistakes
    balances: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (account, cc) -> periods held
    price_from: dict[tuple[int, str], date] = field(default_factory=dict)  # effective_from of current prices
    last_closed: date = date.min

    def pick(self, rng: random.Random, statuses: tuple[str, ...], walk_in: bool | None = None) -> OpenOrder | None:
        candidates = [
            o for o in self.open_orders.values() if o.status in statuses and (walk_in is None or o.walk_in == walk_in)
        ]
        return rng.choice(candidates) if candidates else None


def load_state(conn: psycopg.Connection[Any], rng: random.Random, today: date) -> LiveState:
    """The world, open orders, runs on the road, stock, unpaid invoices, period balances, last closed day."""
    world = load_world(conn, rng, SequenceIds(conn), today)
    state = LiveState(world)
    for wh, pid, full, empty in conn.execute(
        "SELECT warehouse_code, product_id, qty_full, qty_empty FROM w300.warehouse_stock ORDER BY stock_id"
    ):
        state.stock[(wh, pid)] = [full, empty]
    _load_open_orders(conn, state)
    _load_runs(conn, state)
    _load_unpaid(conn, state, today)
    for account, cc, period in conn.execute(
        "SELECT account_code, cost_center, period FROM w600.account_balance ORDER BY account_code, cost_center, period"
    ):
        state.balances.setdefault((account, cc), []).append(period)
    for pid, ctype, effective_from in conn.execute(
        "SELECT product_id, customer_type, effective_from FROM w110.product_price WHERE price_id = ANY(%s)",
        ([price_id for price_id, _, _ in world.prices.values()],),
    ):
        state.price_from[(pid, ctype)] = effective_from
    row = conn.execute("SELECT max(posting_date) FROM w600.gl_transaction WHERE source_ref LIKE 'DAY-%'").fetchone()
    state.last_closed = row[0] if row and row[0] else today - timedelta(days=1)
    return state


def _load_open_orders(conn: psycopg.Connection[Any], state: LiveState) -> None:
    cur = conn.execute(
        "SELECT * FROM w200.order_master WHERE order_status IN ('pending', 'confirmed', 'dispatched') ORDER BY order_id"
    )
    names = [c.name for c in cur.description or []]
    orders = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if not orders:
        return
    owners = {c.customer_id: c for c in load_customers(conn, sorted({o["customer_id"] for o in orders}))}
    lines: dict[int, list[Row]] = {}
    cur = conn.execute(
        "SELECT * FROM w200.order_detail WHERE order_id = ANY(%s) ORDER BY order_id, line_no",
        ([o["order_id"] for o in orders],),
    )
    names = [c.name for c in cur.description or []]
    for r in cur.fetchall():
        line = dict(zip(names, r, strict=True))
        lines.setdefault(line["order_id"], []).append(line)
    for o in orders:
        customer = owners.get(o["customer_id"])
        if customer is not None and o["order_id"] in lines:
            state.open_orders[o["order_id"]] = OpenOrder(o, customer, lines[o["order_id"]])


def _load_runs(conn: psycopg.Connection[Any], state: LiveState) -> None:
    for dispatch_id, number, branch, planned, status in conn.execute(
        "SELECT dispatch_id, dispatch_no, branch_code, planned_km, status FROM w700.dispatch_master "
        "WHERE status IN ('planned', 'loading', 'en_route') ORDER BY dispatch_id"
    ):
        state.runs[dispatch_id] = Run(dispatch_id, number, branch, planned, [], [], status == "en_route")
    if not state.runs:
        return
    for dispatch_id, stop_id, order_id, km, stop_status in conn.execute(
        "SELECT dispatch_id, route_stop_id, order_id, distance_km, stop_status FROM w700.route_detail "
        "WHERE dispatch_id = ANY(%s) ORDER BY dispatch_id, stop_seq",
        (list(state.runs),),
    ):
        run = state.runs[dispatch_id]
        if stop_status == "pending":
            run.stops.append((stop_id, order_id))
        else:
            run.km += km
    for dispatch_id, assignment_id in conn.execute(
        "SELECT dispatch_id, assignment_id FROM w700.driver_assignment WHERE dispatch_id = ANY(%s) "
        "AND status IN ('assigned', 'on_duty') ORDER BY assignment_id",
        (list(state.runs),),
    ):
        state.runs[dispatch_id].crew.append(assignment_id)


def _load_unpaid(conn: psycopg.Connection[Any], state: LiveState, today: date) -> None:
    """Open invoices of the last year: the weeks-old ones are candidates for late payments."""
    rows = conn.execute(
        "SELECT invoice_id, customer_id, total_amount, paid_amount, invoice_date FROM w500.invoice_header "
        "WHERE status IN ('issued', 'partially_paid') AND invoice_date > %s::date - 365 ORDER BY invoice_id",
        (today,),
    ).fetchall()
    owners = {c.customer_id: c for c in load_customers(conn, sorted({r[1] for r in rows}))} if rows else {}
    for invoice_id, customer_id, total, paid, day in rows:
        if customer_id in owners:
            unpaid = Unpaid(invoice_id, owners[customer_id], total, paid)
            old = day <= today - timedelta(days=OLD_INVOICE_DAYS)
            (state.old_unpaid if old else state.new_unpaid).append(unpaid)
