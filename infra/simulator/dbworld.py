"""The simulator's world as the database holds it: master data, prices and customers (live and append mode)."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from infra.simulator.reference import Product, Reference
from infra.simulator.world import Customer, IdSource, World


class EmptyDatabase(RuntimeError):
    """The operational database has no master data or customers yet: run a backfill first."""


def load_world(conn: psycopg.Connection[Any], rng: random.Random, ids: IdSource, today: date) -> World:
    """Branches, products with their costs, the prices in force `today`, active staff and active customers."""
    ref = Reference(
        branches=[
            r[0] for r in conn.execute("SELECT branch_code FROM w110.branch WHERE is_active ORDER BY branch_code")
        ]
    )
    prices = _prices(conn, today)
    household = {pid: (price, deposit) for (pid, ctype), (_, price, deposit) in prices.items() if ctype == "household"}
    for pid, ptype, kg, category, name, cost, returnable in conn.execute(
        "SELECT p.product_id, p.product_type, p.cylinder_kg, p.category_id, p.name_zh, i.standard_cost, "
        "i.is_returnable FROM w110.product_master p JOIN w300.inventory_master i USING (product_id) "
        "WHERE p.is_active ORDER BY p.product_id"
    ):
        price, deposit = household.get(pid, (Decimal(0), Decimal(0)))
        ref.products.append(
            Product(pid, ptype, int(kg) if kg is not None else None, category, cost, price, deposit, returnable, name)
        )
    for branch, role, employee_id in conn.execute(
        "SELECT e.branch_code, r.code, e.employee_id FROM w110.employee_master e JOIN w110.employee_role r "
        "USING (role_id) WHERE e.status = 'active' ORDER BY e.employee_id"
    ):
        ref.employees_by_role.setdefault((branch, role), []).append(employee_id)
    world = World(rng, ref, ids, customers=load_customers(conn), prices=prices)
    if not ref.branches or not ref.products or not world.customers:
        raise EmptyDatabase("the operational database has no branches, products or customers: run a backfill first")
    world.index()
    return world


def _prices(conn: psycopg.Connection[Any], today: date) -> dict[tuple[int, str], tuple[int, Decimal, Decimal]]:
    """The price row in force on `today` per (product, customer type); the latest one when several are."""
    out: dict[tuple[int, str], tuple[int, Decimal, Decimal]] = {}
    for pid, ctype, price_id, price, deposit in conn.execute(
        "SELECT product_id, customer_type, price_id, unit_price, deposit_amount FROM w110.product_price "
        "WHERE effective_from <= %s AND (effective_to IS NULL OR effective_to >= %s) "
        "ORDER BY product_id, customer_type, effective_from, price_id",
        (today, today),
    ):
        out[(pid, ctype)] = (price_id, price, deposit)
    return out


def load_customers(conn: psycopg.Connection[Any], ids: list[int] | None = None) -> list[Customer]:
    """Active customers (or exactly `ids`, whatever their status) with their delivery addresses; the first
    address is where orders go."""
    customers: dict[int, Customer] = {}
    where, params = ("c.status = 'active'", ()) if ids is None else ("c.customer_id = ANY(%s)", (ids,))
    query = (
        "SELECT c.customer_id, c.customer_type, c.branch_code, c.sales_employee_id, c.credit_terms_days, "
        "c.virtual_account, c.tax_id FROM w100.customer_master c WHERE " + where + " ORDER BY c.customer_id"
    )
    for cid, ctype, branch, sales, terms, account, tax_id in conn.execute(query.encode(), params):
        customers[cid] = Customer(cid, ctype, branch, [], sales, terms, account, tax_id)
    only = "" if ids is None else " AND customer_id = ANY(%s)"
    for cid, aid, lat, lon in conn.execute(
        (
            "SELECT customer_id, address_id, latitude, longitude FROM w100.customer_address "
            "WHERE address_type = 'delivery'" + only + " ORDER BY customer_id, is_primary DESC, address_id"
        ).encode(),
        params,
    ):
        customer = customers.get(cid)
        if customer is not None:
            if not customer.address_ids:
                customer.home = (lat, lon)
            customer.address_ids.append(aid)
    return [c for c in customers.values() if c.address_ids]


def open_invoices(conn: psycopg.Connection[Any], before: date) -> list[tuple[dict[str, Any], Customer]]:
    """Invoices issued before `before` and not yet fully paid, with their customers."""
    rows = conn.execute(
        "SELECT invoice_id, customer_id, invoice_date, due_date, status, total_amount, paid_amount, updated_at "
        "FROM w500.invoice_header WHERE status IN ('issued', 'partially_paid') AND invoice_date < %s "
        "ORDER BY invoice_id",
        (before,),
    ).fetchall()
    ids = sorted({r[1] for r in rows})
    owners = {c.customer_id: c for c in load_customers(conn, ids)} if ids else {}
    keys = (
        "invoice_id",
        "customer_id",
        "invoice_date",
        "due_date",
        "status",
        "total_amount",
        "paid_amount",
        "updated_at",
    )
    return [(dict(zip(keys, r, strict=True)), owners[r[1]]) for r in rows if r[1] in owners]
