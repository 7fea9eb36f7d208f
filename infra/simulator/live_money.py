"""Live actions that deliver, invoice and collect: stops on the road, counter sales, payments (on the spot,
around the due date, weeks late), reversed payments, and the stock movements deliveries cause."""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal

from infra.clock import business_day
from infra.simulator import dispatch
from infra.simulator.invoices import invoice_header, invoice_lines, payment_row
from infra.simulator.live_orders import set_status, staff
from infra.simulator.live_state import LiveState, OpenOrder, Run, Unpaid
from infra.simulator.money import whole
from infra.simulator.writer import Writer

INVOICE = "w500.invoice_header"
PAY = (
    "UPDATE w500.invoice_header SET paid_amount = paid_amount + %(a)s, status = CASE WHEN paid_amount + %(a)s "
    ">= total_amount THEN 'paid' WHEN paid_amount + %(a)s > 0 THEN 'partially_paid' ELSE 'issued' END, "
    "updated_at = %(at)s WHERE invoice_id = %(id)s"
)
STOCK = (
    "UPDATE w300.warehouse_stock SET qty_full = qty_full + %s, qty_empty = qty_empty + %s, updated_at = %s "
    "WHERE warehouse_code = %s AND product_id = %s"
)


def deliver_stop(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A truck reaches its next stop: delivered (GPS-confirmed) or, rarely, nobody home; the run completes
    with its last stop."""
    if not state.runs:
        return False
    run = state.runs[rng.choice(list(state.runs))]
    if not run.departed:
        w.update(
            "w700.dispatch_master", "dispatch_id", run.dispatch_id, status="en_route", departed_at=now, updated_at=now
        )
        for assignment_id in run.crew:
            w.update("w700.driver_assignment", "assignment_id", assignment_id, status="on_duty", updated_at=now)
        run.departed = True
    stop_id, order_id = run.stops.pop(0)
    o = state.open_orders.get(order_id)
    if o is None:  # no longer ours to deliver (changed outside this process): the driver skips it
        w.update("w700.route_detail", "route_stop_id", stop_id, stop_status="skipped", updated_at=now)
    else:
        lat, lon = dispatch.gps_fix(rng, o.customer.home)
        failed = rng.random() < 0.03
        w.update(
            "w700.route_detail",
            "route_stop_id",
            stop_id,
            stop_status="failed" if failed else "delivered",
            actual_arrival=now,
            gps_latitude=lat,
            gps_longitude=lon,
            updated_at=now,
        )
        run.km += dispatch.hop_km(rng)
        if failed:
            set_status(w, state, o, "confirmed", now, None, "客戶不在，改下一趟配送")
        else:
            fulfil(w, rng, state, o, now)
    if not run.stops:
        _complete(w, state, run, now)
    return True


def _complete(w: Writer, state: LiveState, run: Run, now: datetime) -> None:
    km = run.km + dispatch.hop_km(state.world.rng)
    w.update(
        "w700.dispatch_master",
        "dispatch_id",
        run.dispatch_id,
        status="completed",
        returned_at=now,
        actual_km=km.quantize(dispatch.KM),
        updated_at=now,
    )
    for assignment_id in run.crew:
        w.update(
            "w700.driver_assignment", "assignment_id", assignment_id, status="off_duty", shift_end=now, updated_at=now
        )
    del state.runs[run.dispatch_id]


def counter_sale(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    o = state.pick(rng, ("confirmed",), walk_in=True)
    if o is None:
        return False
    fulfil(w, rng, state, o, now)
    return True


def fulfil(w: Writer, rng: random.Random, state: LiveState, o: OpenOrder, now: datetime) -> None:
    """Delivered: status, e-invoice, stock out (empties back), paid on the spot unless on credit terms."""
    world, customer, branch = state.world, o.customer, o.customer.branch
    set_status(w, state, o, "delivered", now, staff(state, branch, "driver"), delivered_at=now)
    del state.open_orders[o.order_id]
    invoice_id = world.ids.next(INVOICE)
    header = invoice_header(
        invoice_id, o.order_id, customer, business_day(now), o.order["subtotal"], o.order["tax_amount"], now
    )
    w.insert(INVOICE, header)
    for line in invoice_lines(world, invoice_id, o.lines, now):
        w.insert("w500.invoice_detail", line)
    products = world.ref.product_index
    for d in o.lines:
        p = products[d["product_id"]]
        if p.tracked:
            empties = d["cylinders_returned"] if p.returnable else 0
            move_stock(w, state, branch, p.product_id, -d["quantity"], empties, "delivery", o.order_id, now)
    unpaid = Unpaid(invoice_id, customer, header["total_amount"], Decimal(0))
    if o.order["payment_method"] in ("cash", "credit_card"):
        pay(w, state, unpaid, unpaid.total, o.order["payment_method"], now)
    else:
        state.new_unpaid.append(unpaid)


def move_stock(
    w: Writer,
    state: LiveState,
    warehouse: str,
    product_id: int,
    qty: int,
    empty: int,
    kind: str,
    order_id: int | None,
    now: datetime,
) -> None:
    """A movement and the matching on-hand change; an urgent delivery from the supplier first when a
    delivery would take stock below zero."""
    level = state.stock.get((warehouse, product_id))
    if level is None:
        return  # not held in this warehouse
    if qty < 0 and level[0] + qty < 0:
        refill = -(level[0] + qty) + 50
        movement(w, state, warehouse, product_id, refill, -min(level[1], refill), "receipt", None, now)
    movement(w, state, warehouse, product_id, qty, empty, kind, order_id, now)


def movement(
    w: Writer,
    state: LiveState,
    warehouse: str,
    product_id: int,
    qty: int,
    empty: int,
    kind: str,
    order_id: int | None,
    now: datetime,
) -> None:
    ref_type = {"delivery": "order", "receipt": "purchase", "adjustment": "count"}.get(kind, "transfer")
    w.insert(
        "w300.stock_movement",
        {
            "movement_id": state.world.ids.next("w300.stock_movement"),
            "warehouse_code": warehouse,
            "product_id": product_id,
            "movement_type": kind,
            "quantity": qty,
            "empty_quantity": empty,
            "reference_type": ref_type,
            "reference_id": order_id,
            "moved_at": now,
            "employee_id": staff(state, warehouse, "warehouse"),
            "created_at": now,
            "updated_at": now,
        },
    )
    w.execute("w300.warehouse_stock", "update", STOCK, [qty, empty, now, warehouse, product_id])
    level = state.stock[(warehouse, product_id)]
    level[0] += qty
    level[1] += empty


def pay(w: Writer, state: LiveState, invoice: Unpaid, amount: Decimal, method: str, now: datetime) -> int:
    """Record a payment and add it to the invoice's paid amount; returns the payment id."""
    row = payment_row(state.world, invoice.invoice_id, invoice.customer, now, amount, method, False)
    w.insert("w500.payment_record", row)
    w.execute(INVOICE, "update", PAY, {"a": amount, "at": now, "id": invoice.invoice_id})
    invoice.paid += amount
    if method not in ("cash", "credit_card"):
        state.reversible.append((int(row["payment_id"]), invoice, amount))
        del state.reversible[:-500]  # only recent payments get reversed
    return int(row["payment_id"])


def _collect(w: Writer, rng: random.Random, state: LiveState, pool: list[Unpaid], now: datetime) -> bool:
    while pool:
        invoice = pool.pop(rng.randrange(len(pool)))
        remaining = invoice.total - invoice.paid
        if remaining <= 0:
            continue
        amount = remaining if rng.random() < 0.8 or remaining < 2 else whole(remaining / 2)
        pay(w, state, invoice, amount, rng.choice(("virtual_account", "virtual_account", "bank_transfer")), now)
        if invoice.paid < invoice.total:
            pool.append(invoice)
        return True
    return False


def collect_payment(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A credit customer pays a recent invoice (virtual account or transfer), in full or in part."""
    return _collect(w, rng, state, state.new_unpaid, now)


def late_payment(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A payment arrives for an invoice weeks old (it changes that period's receivables ageing)."""
    return _collect(w, rng, state, state.old_unpaid, now)


def reverse_payment(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A transfer booked to the wrong invoice is reversed; the invoice is open again."""
    if not state.reversible:
        return False
    payment_id, invoice, amount = state.reversible.pop(rng.randrange(len(state.reversible)))
    w.update("w500.payment_record", "payment_id", payment_id, status="reversed", updated_at=now)
    w.execute(INVOICE, "update", PAY, {"a": -amount, "at": now, "id": invoice.invoice_id})
    invoice.paid -= amount
    if invoice not in state.new_unpaid:
        state.new_unpaid.append(invoice)
    return True
