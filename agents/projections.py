"""Compact projections of the rows the aggregates depend on.

Contract: `project(table, row)` turns a validated row model into a small immutable tuple holding only what
some aggregate reads, in integer units (money in cents, kilometres in tenths, instants in epoch seconds,
business days as days since 1970-01-01 in Asia/Taipei). Tables no aggregate reads have no projector:
`PROJECTORS` lists the ones that do. Integers make every sum exact and cheap; the engine keeps millions
of these, so they stay tuples (NamedTuple), not models; `SHAPES` gives a stored tuple its type back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from infra.clock import TAIPEI
from schemas.tables import w100, w110, w200, w300, w500, w700
from schemas.types import EPOCH_DAY


def cents(amount: Decimal) -> int:
    """Money in integer cents (the source is numeric(_, 2), so this is exact)."""
    return int(amount.scaleb(2).to_integral_value())


def tenths(km: Decimal | None) -> int:
    """Kilometres in tenths (numeric(_, 1)); None counts as 0."""
    return 0 if km is None else int(km.scaleb(1).to_integral_value())


def epoch(moment: datetime) -> int:
    """Whole seconds since the epoch (the sources carry microseconds; buckets need no more than seconds)."""
    return int(moment.timestamp())


def epoch_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def day_number(day: date) -> int:
    """Days since 1970-01-01 (the form Debezium uses for dates)."""
    return (day - EPOCH_DAY).days


def taipei_day_number(moment: datetime) -> int:
    """The Asia/Taipei business day of an instant, as a day number."""
    return day_number(moment.astimezone(TAIPEI).date())


def taipei_day_from_epoch(instant: int) -> int:
    """The Asia/Taipei business day of an instant given in epoch seconds, as a day number."""
    return day_number(datetime.fromtimestamp(instant, TAIPEI).date())


class Order(NamedTuple):
    customer_id: int
    branch: str
    sales_employee: int | None
    cancelled: bool
    delivered: bool
    ordered_at: int
    promised_to: int
    delivered_at: int | None


class Line(NamedTuple):
    order_id: int
    product_id: int
    quantity: int
    net: int
    tax: int


class Product(NamedTuple):
    category_id: int
    product_type: str


class Customer(NamedTuple):
    customer_type: str


class Branch(NamedTuple):
    region: str


class Invoice(NamedTuple):
    customer_id: int
    invoice_day: int
    total: int
    voided: bool
    due_day: int
    voided_day: int  # the Taipei day it was voided; its invoice day when voided without a time (from the start)


class Payment(NamedTuple):
    invoice_id: int
    payment_day: int
    amount: int
    reversed: bool


class Movement(NamedTuple):
    warehouse: str
    product_id: int
    quantity: int
    empty_quantity: int


class StockRow(NamedTuple):
    warehouse: str
    product_id: int
    reorder_point: int
    safety_stock: int


class Dispatch(NamedTuple):
    branch: str
    day: int
    cancelled: bool
    planned_km: int
    actual_km: int


class Stop(NamedTuple):
    dispatch_id: int
    order_id: int
    delivered: bool
    failed: bool
    arrived_at: int | None


class Assignment(NamedTuple):
    dispatch_id: int
    employee_id: int
    is_driver: bool


def _order(r: w200.OrderMaster) -> Order:
    return Order(r.customer_id, r.branch_code, r.sales_employee_id, r.order_status == "cancelled",
                 r.order_status == "delivered", epoch(r.ordered_at), epoch(r.promised_to),
                 epoch_or_none(r.delivered_at))


def _line(r: w200.OrderDetail) -> Line:
    return Line(r.order_id, r.product_id, r.quantity, cents(r.line_amount), cents(r.tax_amount))


def _invoice(r: w500.InvoiceHeader) -> Invoice:
    invoice_day, voided = day_number(r.invoice_date), r.status == "voided"
    voided_day = 0 if not voided else invoice_day if r.voided_at is None else taipei_day_number(r.voided_at)
    return Invoice(r.customer_id, invoice_day, cents(r.total_amount), voided, day_number(r.due_date), voided_day)


def _payment(r: w500.PaymentRecord) -> Payment:
    return Payment(r.invoice_id, day_number(r.payment_date), cents(r.amount), r.status == "reversed")


def _dispatch(r: w700.DispatchMaster) -> Dispatch:
    return Dispatch(r.branch_code, day_number(r.dispatch_date), r.status == "cancelled",
                    tenths(r.planned_km), tenths(r.actual_km))


def _stop(r: w700.RouteDetail) -> Stop:
    return Stop(r.dispatch_id, r.order_id, r.stop_status == "delivered", r.stop_status in ("failed", "skipped"),
                epoch_or_none(r.actual_arrival))


def _assignment(r: w700.DriverAssignment) -> Assignment:
    # A reassigned driver no longer drives the run: only the current driver gets its deliveries.
    return Assignment(r.dispatch_id, r.employee_id, r.role == "driver" and r.status != "reassigned")


def _product(r: w110.ProductMaster) -> Product:
    return Product(r.category_id, r.product_type)


def _customer(r: w100.CustomerMaster) -> Customer:
    return Customer(r.customer_type)


def _branch(r: w110.Branch) -> Branch:
    return Branch(r.region)


def _movement(r: w300.StockMovement) -> Movement:
    return Movement(r.warehouse_code, r.product_id, r.quantity, r.empty_quantity)


def _stock_row(r: w300.WarehouseStock) -> StockRow:
    return StockRow(r.warehouse_code, r.product_id, r.reorder_point, r.safety_stock)


PROJECTORS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "w200.order_master": _order,
    "w200.order_detail": _line,
    "w110.product_master": _product,
    "w100.customer_master": _customer,
    "w110.branch": _branch,
    "w500.invoice_header": _invoice,
    "w500.payment_record": _payment,
    "w300.stock_movement": _movement,
    "w300.warehouse_stock": _stock_row,
    "w700.dispatch_master": _dispatch,
    "w700.route_detail": _stop,
    "w700.driver_assignment": _assignment,
}


def project(table: str, row: Any) -> tuple[Any, ...] | None:
    """The projection of `row` of `table`, or None when no aggregate reads that table."""
    projector = PROJECTORS.get(table)
    return None if projector is None else projector(row)

# The projection type of each table (a stored projection is a plain tuple, given its type back on reading).
SHAPES: dict[str, type[tuple[Any, ...]]] = {
    "w200.order_master": Order,
    "w200.order_detail": Line,
    "w110.product_master": Product,
    "w100.customer_master": Customer,
    "w110.branch": Branch,
    "w500.invoice_header": Invoice,
    "w500.payment_record": Payment,
    "w300.stock_movement": Movement,
    "w300.warehouse_stock": StockRow,
    "w700.dispatch_master": Dispatch,
    "w700.route_detail": Stop,
    "w700.driver_assignment": Assignment,
}
