"""Live business actions on orders, dispatch, invoices and payments: each runs inside the caller's
transaction and records every row it changes in `Writer.changes` (table -> count)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from infra.simulator.live_state import LiveState, OpenOrder
from infra.simulator.money import split_tax, tax_of
from infra.simulator.world import Customer

CENT = Decimal("0.01")


class Writer:
    """Row-level SQL helpers that count what they change."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.changes: Counter[str] = Counter()

    def insert(self, table: str, row: dict[str, Any], returning: str | None = None) -> Any:
        schema, name = table.split(".")
        query = sql.SQL("INSERT INTO {}.{} ({}) VALUES ({})").format(
            sql.Identifier(schema),
            sql.Identifier(name),
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
        )
        if returning:
            query = query + sql.SQL(" RETURNING {}").format(sql.Identifier(returning))
        cur = self.conn.execute(query, list(row.values()))
        self.changes[table] += 1
        return cur.fetchone()[0] if returning else None  # type: ignore[index]

    def update(self, table: str, key: str, key_value: Any, **values: Any) -> None:
        schema, name = table.split(".")
        query = sql.SQL("UPDATE {}.{} SET {} WHERE {} = %s").format(
            sql.Identifier(schema),
            sql.Identifier(name),
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values),
            sql.Identifier(key),
        )
        self.conn.execute(query, [*values.values(), key_value])
        self.changes[table] += 1

    def execute(self, table: str, query: str, params: Any) -> Any:
        """A statement of our own on `table`; counts the rows it changed; returns the first row, if any."""
        cur = self.conn.execute(query, params)
        self.changes[table] += max(cur.rowcount, 0)
        return cur.fetchone() if cur.description else None

    def next_id(self, table: str, column: str) -> int:
        """The next value of the table's identity sequence (so document numbers can be derived from ids)."""
        row = self.conn.execute("SELECT nextval(pg_get_serial_sequence(%s, %s))", (table, column)).fetchone()
        return int(row[0])  # type: ignore[index]

    def delete(self, table: str, key: str, key_value: Any) -> None:
        schema, name = table.split(".")
        self.conn.execute(
            sql.SQL("DELETE FROM {}.{} WHERE {} = %s").format(
                sql.Identifier(schema), sql.Identifier(name), sql.Identifier(key)
            ),
            [key_value],
        )
        self.changes[table] += 1


def log_status(w: Writer, order_id: int, old: str | None, new: str, at: datetime, note: str | None = None) -> int:
    return int(
        w.insert(
            "w200.order_status_log",
            {"order_id": order_id, "from_status": old, "to_status": new, "changed_at": at, "note_zh": note},
            returning="log_id",
        )
    )


def new_order(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    customer = rng.choice(state.customers)
    walk_in = customer.customer_type == "household" and rng.random() < 0.45
    lines = [line for line in _lines(rng, state, customer)]
    amounts = [price * qty for _, qty, _, price, _ in lines]
    subtotal = sum(amounts, Decimal(0)).quantize(CENT)
    tax = tax_of(subtotal)
    start = now + (timedelta(minutes=10) if walk_in else timedelta(hours=1))
    order_id = w.next_id("w200.order_master", "order_id")
    w.insert(
        "w200.order_master",
        {
            "order_id": order_id,
            "order_no": f"SO{now:%Y%m%d}{order_id:08d}",
            "customer_id": customer.customer_id,
            "address_id": customer.address_ids[0],
            "branch_code": customer.branch,
            "sales_employee_id": customer.sales_employee_id,
            "channel": "walk_in" if walk_in else rng.choice(("phone", "line", "web")),
            "order_status": "pending",
            "ordered_at": now,
            "promised_from": start,
            "promised_to": start + timedelta(hours=2),
            "subtotal": subtotal,
            "tax_amount": tax,
            "total_amount": subtotal + tax,
            "payment_method": customer.payment_method,
            "created_at": now,
            "updated_at": now,
        },
    )
    details = []
    for no, ((product_id, qty, returned, price, deposit), line_tax) in enumerate(
        zip(lines, split_tax(amounts), strict=True), start=1
    ):
        row = {
            "order_id": order_id,
            "line_no": no,
            "product_id": product_id,
            "quantity": qty,
            "unit_price": price,
            "line_amount": (price * qty).quantize(CENT),
            "tax_amount": line_tax,
            "deposit_amount": deposit * qty,
            "cylinders_returned": returned,
            "created_at": now,
            "updated_at": now,
        }
        row["detail_id"] = w.insert("w200.order_detail", row, returning="detail_id")
        details.append(row)
    log_status(w, order_id, None, "pending", now)
    state.open_orders[order_id] = OpenOrder(order_id, customer, "pending", walk_in, details)
    return True


def _lines(rng: random.Random, state: LiveState, customer: Customer) -> list[tuple[int, int, int, Decimal, Decimal]]:
    gas = [p for p in state.products.values() if p.product_type == "gas_refill"]
    kg = rng.choice({"household": (16, 20, 20, 4), "restaurant": (20, 50), "industrial": (50,)}[customer.customer_type])
    product = rng.choice([p for p in gas if p.cylinder_kg == kg] or gas)
    qty = rng.randint(*{"household": (1, 2), "restaurant": (2, 6), "industrial": (4, 20)}[customer.customer_type])
    _, price, deposit, _ = state.prices[(product.product_id, customer.customer_type)]
    return [(product.product_id, qty, qty, price, deposit)]


def advance(w: Writer, rng: random.Random, state: LiveState, now: datetime, old: str, new: str) -> bool:
    """Move one open order from `old` to `new` status (confirm or cancel)."""
    order = state.pick(rng, old)
    if order is None:
        return False
    extra = {"cancelled_at": now, "cancel_reason": "客戶取消"} if new == "cancelled" else {}
    w.update("w200.order_master", "order_id", order.order_id, order_status=new, updated_at=now, **extra)
    log_status(w, order.order_id, old, new, now)
    order.status = new
    if new == "cancelled":
        del state.open_orders[order.order_id]
    return True


def correct_amount(w: Writer, rng: random.Random, state: LiveState, now: datetime, delete_line: bool) -> bool:
    """Fix a quantity on an open order (or delete its last line when it has several), totals and taxes kept."""
    candidates = [
        o
        for o in state.open_orders.values()
        if o.status in ("pending", "confirmed") and (len(o.lines) > 1 if delete_line else True)
    ]
    if not candidates:
        return False
    order = rng.choice(candidates)
    if delete_line:
        line = order.lines.pop()
        w.delete("w200.order_detail", "detail_id", line["detail_id"])
    else:
        line = rng.choice(order.lines)
        line["quantity"] += 1 if line["quantity"] == 1 or rng.random() < 0.6 else -1
        line["line_amount"] = (line["unit_price"] * line["quantity"]).quantize(CENT)
        line["cylinders_returned"] = line["quantity"]
    subtotal = sum((ln["line_amount"] for ln in order.lines), Decimal(0))
    taxes = split_tax([ln["line_amount"] for ln in order.lines])
    for ln, tax in zip(order.lines, taxes, strict=True):
        if ln["tax_amount"] != tax or ln is line:
            ln["tax_amount"] = tax
            w.update(
                "w200.order_detail",
                "detail_id",
                ln["detail_id"],
                quantity=ln["quantity"],
                line_amount=ln["line_amount"],
                tax_amount=tax,
                cylinders_returned=ln["cylinders_returned"],
                updated_at=now,
            )
    tax = tax_of(subtotal)
    w.update(
        "w200.order_master",
        "order_id",
        order.order_id,
        subtotal=subtotal,
        tax_amount=tax,
        total_amount=subtotal + tax,
        updated_at=now,
    )
    return True


def dispatch_run(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """Load up to six confirmed delivery orders of one branch onto a truck."""
    order = state.pick(rng, "confirmed", walk_in=False)
    if order is None:
        return False
    branch = order.customer.branch
    orders = [
        o
        for o in state.open_orders.values()
        if o.status == "confirmed" and not o.walk_in and o.customer.branch == branch
    ][:6]
    dispatch_id = w.next_id("w700.dispatch_master", "dispatch_id")
    w.insert(
        "w700.dispatch_master",
        {
            "dispatch_id": dispatch_id,
            "dispatch_no": f"DS{now:%Y%m%d}-{dispatch_id:06d}",
            "branch_code": branch,
            "dispatch_date": now.date(),
            "vehicle_plate": f"KL{rng.choice('ABC')}-{rng.randint(1000, 9999)}",
            "vehicle_type": "light_truck",
            "status": "en_route",
            "planned_km": Decimal(len(orders) * 4 + 6),
            "departed_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    drivers = state.drivers.get(branch) or [d for ds in state.drivers.values() for d in ds]
    w.insert(
        "w700.driver_assignment",
        {
            "dispatch_id": dispatch_id,
            "employee_id": rng.choice(drivers),
            "role": "driver",
            "assigned_at": now,
            "shift_start": now,
            "status": "on_duty",
            "created_at": now,
            "updated_at": now,
        },
    )
    stops = []
    for seq, o in enumerate(orders, start=1):
        stops.append(
            (
                w.insert(
                    "w700.route_detail",
                    {
                        "dispatch_id": dispatch_id,
                        "stop_seq": seq,
                        "order_id": o.order_id,
                        "address_id": o.customer.address_ids[0],
                        "planned_arrival": now + timedelta(minutes=12 * seq),
                        "stop_status": "pending",
                        "distance_km": Decimal(rng.randint(8, 60)) / 10,
                        "created_at": now,
                        "updated_at": now,
                    },
                    returning="route_stop_id",
                ),
                o.order_id,
            )
        )
        w.update("w200.order_master", "order_id", o.order_id, order_status="dispatched", updated_at=now)
        log_status(w, o.order_id, "confirmed", "dispatched", now)
        o.status = "dispatched"
    state.pending_stops[dispatch_id] = stops
    return True
