"""Live business actions on orders and dispatch. Each runs inside the caller's transaction, changes rows
only through the `Writer` (which counts them), and keeps `LiveState` in step. An action returns False
when there is nothing for it to do (the driver then picks another)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from infra.simulator import dispatch
from infra.simulator.live_state import LiveState, OpenOrder, Run
from infra.simulator.money import CENT
from infra.simulator.orders import CANCEL_REASONS, new_order, retax, status_log_row
from infra.simulator.writer import Writer

ORDER = "w200.order_master"
DETAIL = "w200.order_detail"
LOG = "w200.order_status_log"


def log_status(
    w: Writer,
    state: LiveState,
    order_id: int,
    old: str | None,
    new: str,
    at: datetime,
    by: int | None = None,
    note: str | None = None,
) -> int:
    row = status_log_row(state.world, order_id, old, new, at, by, note)
    w.insert(LOG, row)
    return int(row["log_id"])


def staff(state: LiveState, branch: str, role: str) -> int | None:
    people = state.world.ref.staff(branch, role)
    return state.world.rng.choice(people) if people else None


def place_order(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A customer phones, messages or walks in: a pending order with its lines."""
    customer = state.world.pick_customer()
    order, details = new_order(state.world, customer, now)
    w.insert(ORDER, order)
    for d in details:
        w.insert(DETAIL, d)
    log_status(w, state, order["order_id"], None, "pending", now)
    state.open_orders[order["order_id"]] = OpenOrder(order, customer, details)
    return True


def set_status(
    w: Writer,
    state: LiveState,
    o: OpenOrder,
    new: str,
    at: datetime,
    by: int | None,
    note: str | None = None,
    **extra: object,
) -> None:
    """Move an order to `new` (row + status log), keeping the in-memory copy in step."""
    old = o.status
    w.update(ORDER, "order_id", o.order_id, order_status=new, updated_at=at, **extra)
    log_status(w, state, o.order_id, old, new, at, by, note)
    o.order.update(order_status=new, updated_at=at, **extra)


def confirm(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    o = state.pick(rng, ("pending",))
    if o is None:
        return False
    set_status(w, state, o, "confirmed", now, staff(state, o.customer.branch, "dispatcher"))
    return True


def cancel(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    o = state.pick(rng, ("pending", "confirmed"))
    if o is None:
        return False
    set_status(
        w,
        state,
        o,
        "cancelled",
        now,
        staff(state, o.customer.branch, "dispatcher"),
        cancelled_at=now,
        cancel_reason=rng.choice(CANCEL_REASONS),
    )
    del state.open_orders[o.order_id]
    return True


def correct_amount(w: Writer, rng: random.Random, state: LiveState, now: datetime, delete_line: bool) -> bool:
    """Fix a quantity on an open order, or delete a line entered by mistake; taxes and totals follow."""
    candidates = [
        o
        for o in state.open_orders.values()
        if o.status in ("pending", "confirmed") and (len(o.lines) > 1 if delete_line else True)
    ]
    if not candidates:
        return False
    o = rng.choice(candidates)
    if delete_line:
        changed = o.lines.pop(rng.randrange(1, len(o.lines)))  # never the refill itself
        w.delete(DETAIL, "detail_id", changed["detail_id"])
    else:
        changed = rng.choice(o.lines)
        changed["quantity"] += 1 if changed["quantity"] == 1 or rng.random() < 0.6 else -1
        changed["line_amount"] = (changed["unit_price"] * changed["quantity"]).quantize(CENT)
        changed["cylinders_returned"] = min(changed["cylinders_returned"], changed["quantity"])
    before = {d["detail_id"]: d["tax_amount"] for d in o.lines}
    subtotal, tax = retax(o.lines)
    for d in o.lines:
        if d is changed or d["tax_amount"] != before[d["detail_id"]]:
            w.update(
                DETAIL,
                "detail_id",
                d["detail_id"],
                quantity=d["quantity"],
                line_amount=d["line_amount"],
                tax_amount=d["tax_amount"],
                cylinders_returned=d["cylinders_returned"],
                updated_at=now,
            )
    totals = {"subtotal": subtotal, "tax_amount": tax, "total_amount": subtotal + tax, "updated_at": now}
    w.update(ORDER, "order_id", o.order_id, **totals)
    o.order.update(totals)
    return True


def dispatch_run(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """Load up to eight confirmed delivery orders of one branch onto one of its vehicles."""
    first = state.pick(rng, ("confirmed",), walk_in=False)
    if first is None:
        return False
    branch, world = first.customer.branch, state.world
    orders = [
        o
        for o in state.open_orders.values()
        if o.status == "confirmed" and not o.walk_in and o.customer.branch == branch
    ][:8]
    dispatch_id = world.ids.next("w700.dispatch_master")
    hops = [dispatch.hop_km(rng) for _ in orders]
    departure = now + timedelta(minutes=20)
    planned = (sum(hops, Decimal(0)) + dispatch.hop_km(rng) * 2) * Decimal("0.9")
    run = dispatch.dispatch_row(world, dispatch_id, branch, departure, rng.choice(dispatch.fleet(branch)), planned)
    run.update(status="loading", departed_at=None, created_at=now, updated_at=now)
    w.insert("w700.dispatch_master", run)
    crew = dispatch.assignment_rows(
        world, dispatch_id, world.ref.staff(branch, "driver"), departure, rng.randrange(1000)
    )
    for a in crew:
        a.update(assigned_at=now, created_at=now, updated_at=now, status="assigned")
        w.insert("w700.driver_assignment", a)
    driver = crew[0]["employee_id"] if crew else None
    stops = []
    for seq, (o, hop) in enumerate(zip(orders, hops, strict=True), start=1):
        stop = dispatch.stop_row(world, dispatch_id, seq, o.order, departure, hop)
        stop.update(created_at=now, updated_at=now)
        w.insert("w700.route_detail", stop)
        stops.append((int(stop["route_stop_id"]), o.order_id))
        set_status(w, state, o, "dispatched", now, driver)
    state.runs[dispatch_id] = Run(
        dispatch_id, run["dispatch_no"], branch, run["planned_km"], stops, [a["assignment_id"] for a in crew], False
    )
    return True


def add_note(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A dispatcher adds a remark to an open order's log (some turn out to be on the wrong order)."""
    orders = list(state.open_orders.values())
    if not orders:
        return False
    o = rng.choice(orders)
    note = rng.choice(("客戶要求改時段", "請先電話聯絡", "管理室代收", "樓梯狹窄請注意"))
    log_id = log_status(
        w, state, o.order_id, o.status, o.status, now, staff(state, o.customer.branch, "dispatcher"), note
    )
    if rng.random() < 0.4:
        state.notes.append(log_id)
    return True


def delete_note(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """The mistaken remark is deleted."""
    if not state.notes:
        return False
    w.delete(LOG, "log_id", state.notes.pop(rng.randrange(len(state.notes))))
    return True
