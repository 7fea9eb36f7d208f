"""What the live simulator needs to know of the database when it starts (loaded once, then kept)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from infra.simulator.reference import Product
from infra.simulator.world import Customer


@dataclass
class OpenOrder:
    order_id: int
    customer: Customer
    status: str
    walk_in: bool
    lines: list[dict[str, Any]]  # detail_id, line_no, product_id, quantity, unit_price, line_amount, tax_amount


@dataclass
class LiveState:
    customers: list[Customer]
    products: dict[int, Product]
    prices: dict[tuple[int, str], tuple[int, Decimal, Decimal, date]]  # -> price_id, price, deposit, from
    drivers: dict[str, list[int]]
    open_orders: dict[int, OpenOrder] = field(default_factory=dict)
    pending_stops: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # dispatch -> (stop, order)
    old_unpaid: list[int] = field(default_factory=list)  # invoice ids

    def pick(self, rng: random.Random, status: str, walk_in: bool | None = None) -> OpenOrder | None:
        candidates = [
            o for o in self.open_orders.values() if o.status == status and (walk_in is None or o.walk_in == walk_in)
        ]
        return rng.choice(candidates) if candidates else None


def load_state(conn: psycopg.Connection[Any], today: date) -> LiveState:
    """Customers, products, current prices, drivers, open orders, pending stops, old unpaid invoices."""
    customers = {
        row[0]: Customer(row[0], row[1], row[2], [], row[3], row[4], row[5], row[6])
        for row in conn.execute(
            "SELECT customer_id, customer_type, branch_code, sales_employee_id, credit_terms_days, virtual_account, "
            "tax_id FROM w100.customer_master WHERE status = 'active'"
        )
    }
    for customer_id, address_id in conn.execute(
        "SELECT customer_id, address_id FROM w100.customer_address WHERE address_type = 'delivery'"
    ):
        if customer_id in customers:
            customers[customer_id].address_ids.append(address_id)
    products = {
        row[0]: Product(
            row[0], row[1], int(row[2]) if row[2] is not None else None, row[3], row[4], Decimal(0), Decimal(0), row[5]
        )
        for row in conn.execute(
            "SELECT p.product_id, p.product_type, p.cylinder_kg, p.category_id, i.standard_cost, i.is_returnable "
            "FROM w110.product_master p JOIN w300.inventory_master i USING (product_id) WHERE p.is_active"
        )
    }
    prices = {
        (r[0], r[1]): (r[2], r[3], r[4], r[5])
        for r in conn.execute(
            "SELECT product_id, customer_type, price_id, unit_price, deposit_amount, effective_from "
            "FROM w110.product_price WHERE effective_to IS NULL"
        )
    }
    drivers: dict[str, list[int]] = {}
    for branch, employee_id in conn.execute(
        "SELECT e.branch_code, e.employee_id FROM w110.employee_master e JOIN w110.employee_role r "
        "USING (role_id) WHERE r.code = 'driver' AND e.status = 'active'"
    ):
        drivers.setdefault(branch, []).append(employee_id)
    state = LiveState([c for c in customers.values() if c.address_ids], products, prices, drivers)
    _load_open_orders(conn, state, customers)
    for dispatch_id, stop_id, order_id in conn.execute(
        "SELECT dispatch_id, route_stop_id, order_id FROM w700.route_detail WHERE stop_status = 'pending' "
        "ORDER BY stop_seq"
    ):
        state.pending_stops.setdefault(dispatch_id, []).append((stop_id, order_id))
    state.old_unpaid = [
        r[0]
        for r in conn.execute(
            "SELECT invoice_id FROM w500.invoice_header WHERE status IN ('issued', 'partially_paid') "
            "AND invoice_date < %s::date - 14 ORDER BY invoice_id LIMIT 20000",
            (today,),
        )
    ]
    return state


def _load_open_orders(conn: psycopg.Connection[Any], state: LiveState, customers: dict[int, Customer]) -> None:
    lines: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(
        "SELECT d.order_id, d.detail_id, d.line_no, d.product_id, d.quantity, d.unit_price, d.line_amount, "
        "d.tax_amount, d.cylinders_returned FROM w200.order_detail d JOIN w200.order_master o USING (order_id) "
        "WHERE o.order_status IN ('pending', 'confirmed', 'dispatched') ORDER BY d.order_id, d.line_no"
    ):
        lines.setdefault(row[0], []).append(
            dict(
                zip(
                    (
                        "detail_id",
                        "line_no",
                        "product_id",
                        "quantity",
                        "unit_price",
                        "line_amount",
                        "tax_amount",
                        "cylinders_returned",
                    ),
                    row[1:],
                    strict=True,
                )
            )
        )
    for order_id, customer_id, status, channel in conn.execute(
        "SELECT order_id, customer_id, order_status, channel FROM w200.order_master "
        "WHERE order_status IN ('pending', 'confirmed', 'dispatched')"
    ):
        customer = customers.get(customer_id)
        if customer is not None and order_id in lines:
            state.open_orders[order_id] = OpenOrder(order_id, customer, status, channel == "walk_in", lines[order_id])
