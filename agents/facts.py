"""What one fact root contributes to the aggregates, computed from the state alone.

Contract: `contributions(state, root, today)` is a pure function of the state (and, for receivables aging,
of the business day `today`): the engine subtracts a root's contribution before a change and adds it
after, so every aggregate always equals the sum over roots of their current contributions, whatever the
order, lateness or repetition of the changes. The rules (the same as `infra/verify` writes in SQL):

- sales: orders not cancelled, on `ordered_at` in Asia/Taipei; net = Σ line_amount, tax = Σ line tax
  (deposits are held separately in `deposit_amount` and are not revenue); quantity = Σ line quantity;
  cylinders = Σ quantity of gas refills; `orders` counts each order once per cell it reaches.
- fulfilment: by the Taipei day of `promised_to` and branch; due = not cancelled; on time = delivered at
  or before `promised_to`.
- receivables: invoices not voided; paid = Σ payments not reversed; aging by days since the invoice date.
- invoice_open: every invoice (voided too) whose total minus its live payments is not zero, with its
  customer, dates, and whether and on which Taipei day it was voided (its invoice day when voided without
  a time): a few thousand cells where the invoices are hundreds of thousands.
- collections: payments not reversed, by payment date.
- stock: Σ movements per warehouse and product, with the stock row's reorder point and safety stock.
- route / driver_day: dispatches not cancelled; the driver is the current (not reassigned) driver with
  the lowest employee id (0 = none); a stop is on time when it arrived by its order's `promised_to`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from agents.aggregates import GRAINS, bucket_start
from agents.projections import (
    Branch,
    Customer,
    Dispatch,
    Invoice,
    Line,
    Movement,
    Order,
    Payment,
    Product,
    StockRow,
    Stop,
    taipei_day_from_epoch,
)
from agents.state import Root, State

# (family, key) -> measures
Contribution = dict[tuple[str, tuple[Any, ...]], list[int]]

AGING_LIMITS: tuple[int, ...] = (30, 60, 90)


def contributions(state: State, root: Root, today: int) -> Contribution:
    """The measures `root` adds to each aggregate cell, given the state now."""
    kind, key = root
    return _BUILDERS[kind](state, key, today)


def _add(out: Contribution, family: str, key: tuple[Any, ...], values: list[int]) -> None:
    cell = out.get((family, key))
    if cell is None:
        out[(family, key)] = list(values)
    else:
        for i, value in enumerate(values):
            cell[i] += value


def _order(state: State, order_id: Any, _today: int) -> Contribution:
    out: Contribution = {}
    order: Order | None = state.get("w200.order_master", order_id)
    if order is None:
        return out
    _fulfilment(out, order)
    if not order.cancelled:
        _sales(state, out, order_id, order)
    return out


def _fulfilment(out: Contribution, order: Order) -> None:
    day = taipei_day_from_epoch(order.promised_to)
    if order.cancelled:
        _add(out, "fulfilment", (day, order.branch), [0, 0, 0, 1])
        return
    on_time = order.delivered and order.delivered_at is not None and order.delivered_at <= order.promised_to
    _add(out, "fulfilment", (day, order.branch), [1, int(order.delivered), int(on_time), 0])


def _sales(state: State, out: Contribution, order_id: Any, order: Order) -> None:
    customer: Customer | None = state.get("w100.customer_master", order.customer_id)
    branch: Branch | None = state.get("w110.branch", order.branch)
    totals = [0, 0, 1, 0, 0]
    by_product: dict[str, list[int]] = defaultdict(lambda: [0, 0, 1, 0, 0])
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0, 1, 0, 0])
    for line_id in state.children("lines_of_order", order_id):
        line: Line = state.get("w200.order_detail", line_id)
        product: Product | None = state.get("w110.product_master", line.product_id)
        cylinders = line.quantity if product is not None and product.product_type == "gas_refill" else 0
        measures = (line.net, line.tax, line.quantity, cylinders)
        category = "" if product is None else str(product.category_id)
        for cell in (totals, by_product[str(line.product_id)], by_category[category]):
            cell[0] += measures[0]
            cell[1] += measures[1]
            cell[3] += measures[2]
            cell[4] += measures[3]
    members = {
        "total": "",
        "customer_type": "" if customer is None else customer.customer_type,
        "branch": order.branch,
        "region": "" if branch is None else branch.region,
        "sales_employee": "" if order.sales_employee is None else str(order.sales_employee),
    }
    for grain in GRAINS:
        bucket = bucket_start(grain, order.ordered_at)
        for dimension, member in members.items():
            _add(out, "sales", (grain, bucket, dimension, member), totals)
        for member, cell in by_product.items():
            _add(out, "sales", (grain, bucket, "product", member), cell)
        for member, cell in by_category.items():
            _add(out, "sales", (grain, bucket, "category", member), cell)


def aging_bucket(age_days: int) -> int:
    """0 for 0–30 days, 1 for 31–60, 2 for 61–90, 3 beyond (an invoice dated in the future counts as 0)."""
    for i, limit in enumerate(AGING_LIMITS):
        if age_days <= limit:
            return i
    return len(AGING_LIMITS)


def _invoice(state: State, invoice_id: Any, today: int) -> Contribution:
    out: Contribution = {}
    invoice: Invoice | None = state.get("w500.invoice_header", invoice_id)
    if invoice is None:
        return out
    paid = sum(p.amount for pid in state.children("payments_of_invoice", invoice_id)
               if not (p := state.get("w500.payment_record", pid)).reversed)
    outstanding = invoice.total - paid
    if outstanding != 0:
        _add(out, "invoice_open", (invoice_id, invoice.customer_id, invoice.invoice_day, invoice.due_day),
             [invoice.total, paid, outstanding, int(invoice.voided), invoice.voided_day])
    if invoice.voided:
        return out
    aging = [0, 0, 0, 0]
    aging[aging_bucket(today - invoice.invoice_day)] = outstanding
    _add(out, "receivables", (invoice.customer_id,),
         [invoice.total, paid, outstanding, *aging, int(outstanding > 0)])
    return out


def _payment(state: State, payment_id: Any, _today: int) -> Contribution:
    payment: Payment | None = state.get("w500.payment_record", payment_id)
    if payment is None or payment.reversed:
        return {}
    return {("collections", (payment.payment_day,)): [payment.amount, 1]}


def _movement(state: State, movement_id: Any, _today: int) -> Contribution:
    m: Movement | None = state.get("w300.stock_movement", movement_id)
    if m is None:
        return {}
    return {("stock", (m.warehouse, m.product_id)): [m.quantity, m.empty_quantity, 0, 0, 1]}


def _stock_row(state: State, stock_id: Any, _today: int) -> Contribution:
    s: StockRow | None = state.get("w300.warehouse_stock", stock_id)
    if s is None:
        return {}
    return {("stock", (s.warehouse, s.product_id)): [0, 0, s.reorder_point, s.safety_stock, 0]}


def _dispatch(state: State, dispatch_id: Any, _today: int) -> Contribution:
    out: Contribution = {}
    d: Dispatch | None = state.get("w700.dispatch_master", dispatch_id)
    if d is None or d.cancelled:
        return out
    drivers = [a.employee_id for aid in state.children("assignments_of_dispatch", dispatch_id)
               if (a := state.get("w700.driver_assignment", aid)).is_driver]
    driver = min(drivers) if drivers else 0
    counts = [0, 0, 0, 0]  # stops, delivered, on time, failed
    for stop_id in state.children("stops_of_dispatch", dispatch_id):
        stop: Stop = state.get("w700.route_detail", stop_id)
        order: Order | None = state.get("w200.order_master", stop.order_id)
        on_time = (stop.delivered and stop.arrived_at is not None and order is not None
                   and stop.arrived_at <= order.promised_to)
        counts[0] += 1
        counts[1] += int(stop.delivered)
        counts[2] += int(on_time)
        counts[3] += int(stop.failed)
    _add(out, "route", (d.day, d.branch, dispatch_id, driver), [*counts, d.planned_km, d.actual_km])
    _add(out, "driver_day", (d.day, driver), [1, counts[0], counts[1], counts[2], d.actual_km])
    return out


_BUILDERS: dict[str, Callable[[State, Any, int], Contribution]] = {
    "order": _order,
    "invoice": _invoice,
    "payment": _payment,
    "movement": _movement,
    "stock": _stock_row,
    "dispatch": _dispatch,
}
