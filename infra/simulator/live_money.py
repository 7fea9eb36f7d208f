"""Live actions that deliver, invoice and collect, move stock, post to the ledger and change master data."""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal

from infra.clock import business_day
from infra.simulator.live_orders import CENT, Writer, log_status
from infra.simulator.live_state import LiveState, OpenOrder
from infra.simulator.world import invoice_header

ZERO = Decimal("0.00")


def deliver_stop(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """The next stop of a truck on the road is delivered; the run completes with its last stop."""
    if not state.pending_stops:
        return False
    dispatch_id = rng.choice(list(state.pending_stops))
    stop_id, order_id = state.pending_stops[dispatch_id].pop(0)
    order = state.open_orders.get(order_id)
    w.update(
        "w700.route_detail",
        "route_stop_id",
        stop_id,
        stop_status="delivered",
        actual_arrival=now,
        gps_latitude=round(rng.uniform(22.0, 25.2), 6),
        gps_longitude=round(rng.uniform(120.2, 121.8), 6),
        updated_at=now,
    )
    if order is not None:
        fulfil(w, rng, state, order, now)
    if not state.pending_stops[dispatch_id]:
        del state.pending_stops[dispatch_id]
        w.execute(
            "w700.dispatch_master",
            "UPDATE w700.dispatch_master SET status = 'completed', returned_at = %s, "
            "actual_km = planned_km + %s, updated_at = %s WHERE dispatch_id = %s",
            [now, Decimal(rng.randint(0, 40)) / 10, now, dispatch_id],
        )
        w.execute(
            "w700.driver_assignment",
            "UPDATE w700.driver_assignment SET status = 'off_duty', shift_end = %s, "
            "updated_at = %s WHERE dispatch_id = %s",
            [now, now, dispatch_id],
        )
    return True


def counter_sale(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    order = state.pick(rng, "confirmed", walk_in=True)
    if order is None:
        return False
    fulfil(w, rng, state, order, now)
    return True


def fulfil(w: Writer, rng: random.Random, state: LiveState, order: OpenOrder, now: datetime) -> None:
    """Delivered: status, e-invoice, stock out (empties back), and cash collected on the spot."""
    w.update(
        "w200.order_master", "order_id", order.order_id, order_status="delivered", delivered_at=now, updated_at=now
    )
    log_status(w, order.order_id, order.status, "delivered", now)
    del state.open_orders[order.order_id]
    customer = order.customer
    subtotal = sum((ln["line_amount"] for ln in order.lines), ZERO)
    tax = sum((ln["tax_amount"] for ln in order.lines), ZERO)
    day = business_day(now)
    invoice_id = w.next_id("w500.invoice_header", "invoice_id")
    w.insert("w500.invoice_header", invoice_header(invoice_id, order.order_id, customer, day, subtotal, tax, now))
    for ln in order.lines:
        w.insert(
            "w500.invoice_detail",
            {
                "invoice_id": invoice_id,
                "line_no": ln["line_no"],
                "product_id": ln["product_id"],
                "description_zh": f"商品{ln['product_id']}",
                "quantity": ln["quantity"],
                "unit_price": ln["unit_price"],
                "amount": ln["line_amount"],
                "tax_amount": ln["tax_amount"],
                "created_at": now,
                "updated_at": now,
            },
        )
        move_stock(
            w,
            customer.branch,
            ln["product_id"],
            -ln["quantity"],
            ln["cylinders_returned"],
            "delivery",
            order.order_id,
            now,
        )
    if customer.credit_terms_days == 0:
        pay(w, rng, invoice_id, customer.customer_id, subtotal + tax, subtotal + tax, ZERO, "cash", None, now)
    else:
        state.old_unpaid.append(invoice_id)


def move_stock(
    w: Writer, warehouse: str, product_id: int, qty: int, empty: int, kind: str, ref_id: int | None, now: datetime
) -> None:
    """A stock movement and the matching on-hand change; restocks first when a delivery would go below zero."""
    row = w.conn.execute(
        "SELECT qty_full, qty_empty FROM w300.warehouse_stock WHERE warehouse_code = %s AND product_id = %s FOR UPDATE",
        (warehouse, product_id),
    ).fetchone()
    if row is None:
        return  # not a stocked product (services, deposits)
    if kind == "delivery" and row[0] + qty < 0:
        refill = -(row[0] + qty) + 100
        _movement(w, warehouse, product_id, refill, -min(row[1], refill), "receipt", "purchase", None, now)
    _movement(w, warehouse, product_id, qty, empty, kind, "order" if ref_id else "purchase", ref_id, now)


def _movement(
    w: Writer,
    warehouse: str,
    product_id: int,
    qty: int,
    empty: int,
    kind: str,
    ref_type: str,
    ref_id: int | None,
    now: datetime,
) -> None:
    w.insert(
        "w300.stock_movement",
        {
            "warehouse_code": warehouse,
            "product_id": product_id,
            "movement_type": kind,
            "quantity": qty,
            "empty_quantity": empty,
            "reference_type": ref_type,
            "reference_id": ref_id,
            "moved_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    w.execute(
        "w300.warehouse_stock",
        "UPDATE w300.warehouse_stock SET qty_full = qty_full + %s, qty_empty = "
        "qty_empty + %s, updated_at = %s WHERE warehouse_code = %s AND product_id = %s",
        [qty, empty, now, warehouse, product_id],
    )


def pay(
    w: Writer,
    rng: random.Random,
    invoice_id: int,
    customer_id: int,
    amount: Decimal,
    total: Decimal,
    already: Decimal,
    method: str,
    virtual_account: str | None,
    now: datetime,
) -> None:
    w.insert(
        "w500.payment_record",
        {
            "invoice_id": invoice_id,
            "customer_id": customer_id,
            "payment_date": business_day(now),
            "received_at": now,
            "amount": amount,
            "method": method,
            "virtual_account": virtual_account,
            "bank_reference": f"TX{now:%y%m%d}{rng.randrange(10**8):08d}" if virtual_account else None,
            "status": "received" if method != "cash" else "cleared",
            "created_at": now,
            "updated_at": now,
        },
    )
    paid = already + amount
    w.update(
        "w500.invoice_header",
        "invoice_id",
        invoice_id,
        paid_amount=paid,
        status="paid" if paid >= total else "partially_paid",
        updated_at=now,
    )


def late_payment(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A payment arrives for an invoice from weeks ago (it changes that period's receivables)."""
    while state.old_unpaid:
        invoice_id = state.old_unpaid.pop(rng.randrange(len(state.old_unpaid)))
        row = w.conn.execute(
            "SELECT i.customer_id, i.total_amount, i.paid_amount, c.virtual_account FROM "
            "w500.invoice_header i JOIN w100.customer_master c USING (customer_id) WHERE "
            "i.invoice_id = %s AND i.status IN ('issued', 'partially_paid') FOR UPDATE",
            (invoice_id,),
        ).fetchone()
        if row is None:
            continue
        customer_id, total, paid, account = row
        amount = total - paid if rng.random() < 0.8 else ((total - paid) / 2).quantize(Decimal(1)).quantize(CENT)
        pay(w, rng, invoice_id, customer_id, amount, total, paid, "virtual_account", account, now)
        if paid + amount < total:
            state.old_unpaid.append(invoice_id)
        return True
    return False
