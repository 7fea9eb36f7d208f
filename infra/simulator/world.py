"""Customers and the simulator's view of the business, shared by backfill and live mode."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from infra.clock import TAIPEI
from infra.simulator.identity import (
    DISTRICTS,
    FACTORY_KINDS,
    SHOP_KINDS,
    address_in,
    make_ubn,
    mobile,
    person_name,
    virtual_account,
)
from infra.simulator.money import split_tax, tax_of
from infra.simulator.reference import CUSTOMER_TYPE_FACTOR, Product, Reference

Row = dict[str, Any]
BRANCH_WEIGHT = {
    "TPE": 14,
    "NTP": 16,
    "TYN": 11,
    "HSZ": 7,
    "TXG": 14,
    "CHW": 7,
    "TNN": 10,
    "KHH": 13,
    "PIF": 4,
    "HUN": 4,
}
TYPE_SHARE = (("household", 0.82), ("restaurant", 0.14), ("industrial", 0.04))
# Orders by hour of day in Taipei: peaks before lunch and dinner (cooking gas runs out then).
HOUR_WEIGHT = {7: 2, 8: 5, 9: 8, 10: 12, 11: 13, 12: 7, 13: 5, 14: 6, 15: 8, 16: 11, 17: 10, 18: 5, 19: 3, 20: 1}
# Winter doubles household gas use (water heaters); summer is quiet.
MONTH_FACTOR = {1: 1.35, 2: 1.3, 3: 1.1, 4: 0.95, 5: 0.85, 6: 0.8, 7: 0.8, 8: 0.8, 9: 0.85, 10: 0.95, 11: 1.1, 12: 1.3}
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 1.05, 0.9, 0.55)  # Monday … Sunday


@dataclass
class Customer:
    customer_id: int
    customer_type: str
    branch: str
    address_ids: list[int]
    sales_employee_id: int | None
    credit_terms_days: int
    virtual_account: str
    tax_id: str | None

    @property
    def payment_method(self) -> str:
        return "monthly" if self.credit_terms_days else "cash"


class Ids:
    """Next id per table: local counters (backfill) or blocks drawn from the database sequences (live)."""

    def __init__(self, start: dict[str, int] | None = None) -> None:
        self._next = dict(start or {})

    def next(self, table: str) -> int:
        value = self._next.get(table, 1)
        self._next[table] = value + 1
        return value

    def peek(self) -> dict[str, int]:
        return dict(self._next)


@dataclass
class World:
    rng: random.Random
    ref: Reference
    ids: Ids
    customers: list[Customer] = field(default_factory=list)
    by_branch: dict[str, list[Customer]] = field(default_factory=dict)
    prices: dict[tuple[int, str], tuple[int, Decimal, Decimal]] = field(default_factory=dict)  # -> id, price, deposit

    def index(self) -> None:
        self.by_branch = {}
        for c in self.customers:
            self.by_branch.setdefault(c.branch, []).append(c)

    def pick_customer(self) -> Customer:
        branch = self.rng.choices(list(BRANCH_WEIGHT), weights=list(BRANCH_WEIGHT.values()))[0]
        pool = self.by_branch.get(branch) or self.customers
        ctype = self.rng.choices([t for t, _ in TYPE_SHARE], weights=[w for _, w in TYPE_SHARE])[0]
        for _ in range(6):
            c = self.rng.choice(pool)
            if c.customer_type == ctype:
                return c
        return self.rng.choice(pool)


def new_customer(world: World, registered: date) -> tuple[Customer, dict[str, list[Row]]]:
    """A customer with a delivery address (and a billing one for companies) and a contact."""
    rng, ids = world.rng, world.ids
    ctype = rng.choices([t for t, _ in TYPE_SHARE], weights=[w for _, w in TYPE_SHARE])[0]
    branch = rng.choices(list(BRANCH_WEIGHT), weights=list(BRANCH_WEIGHT.values()))[0]
    cid = ids.next("w100.customer_master")
    person = person_name(rng)
    company = None
    if ctype == "restaurant":
        company = f"{person[0]}記{rng.choice(SHOP_KINDS)}"
    elif ctype == "industrial":
        company = f"{rng.choice('大新永順合興台聯')}{rng.choice('豐昌益達盛泰')}{rng.choice(FACTORY_KINDS)}股份有限公司"
    terms = 0 if ctype == "household" else rng.choice((30, 30, 60) if ctype == "industrial" else (0, 30))
    sales = world.ref.staff(branch, "sales")
    customer = Customer(
        cid,
        ctype,
        branch,
        [],
        rng.choice(sales) if sales and ctype != "household" else None,
        terms,
        virtual_account(cid),
        make_ubn(rng) if ctype != "household" else None,
    )
    rows: dict[str, list[Row]] = {
        "w100.customer_master": [
            {
                "customer_id": cid,
                "customer_code": f"C{cid:07d}",
                "customer_type": ctype,
                "name_zh": person,
                "company_name_zh": company,
                "tax_id": customer.tax_id,
                "branch_code": branch,
                "sales_employee_id": customer.sales_employee_id,
                "status": "active",
                "credit_terms_days": terms,
                "credit_limit": Decimal(0 if ctype == "household" else rng.choice((50_000, 100_000, 300_000))),
                "virtual_account": customer.virtual_account,
                "loyalty_points": 0,
                "registered_on": registered,
            }
        ],
        "w100.customer_address": [],
        "w100.customer_contact": [],
    }
    district = rng.choice(DISTRICTS[branch])
    for kind in ("delivery", "billing") if company else ("delivery",):
        text, lat, lon, floor = address_in(rng, district)
        aid = ids.next("w100.customer_address")
        rows["w100.customer_address"].append(
            {
                "address_id": aid,
                "customer_id": cid,
                "address_type": kind,
                "city_zh": district.city_zh,
                "district_zh": district.district_zh,
                "address_zh": text,
                "postal_code": district.postal_code,
                "latitude": lat,
                "longitude": lon,
                "floor": floor,
                "has_elevator": bool(floor and floor > 4),
                "is_primary": True,
            }
        )
        if kind == "delivery":
            customer.address_ids.append(aid)
    rows["w100.customer_contact"].append(
        {
            "contact_id": ids.next("w100.customer_contact"),
            "customer_id": cid,
            "name_zh": person,
            "mobile": mobile(rng),
            "phone": None,
            "email": f"c{cid}@example.com.tw" if company else None,
            "line_id": None,
            "is_primary": True,
            "accepts_sms": rng.random() < 0.9,
        }
    )
    return customer, rows


def order_lines(world: World, customer: Customer) -> list[tuple[Product, int, int]]:
    """(product, quantity, empty cylinders returned) for a new order of this customer."""
    rng = world.rng
    gas = [p for p in world.ref.products if p.product_type == "gas_refill"]
    sizes = {"household": (16, 20, 20, 4), "restaurant": (20, 20, 50), "industrial": (50,)}[customer.customer_type]
    qty_range = {"household": (1, 2), "restaurant": (2, 6), "industrial": (4, 20)}[customer.customer_type]
    kg = rng.choice(sizes)
    refill = rng.choice([p for p in gas if p.cylinder_kg == kg])
    qty = rng.randint(*qty_range)
    lines = [(refill, qty, qty if rng.random() < 0.96 else max(0, qty - 1))]
    roll = rng.random()
    if roll < 0.03:  # a new cylinder needs a deposit
        deposit = next(p for p in world.ref.products if p.product_type == "cylinder_deposit" and p.cylinder_kg == kg)
        lines.append((deposit, 1, 0))
    elif roll < 0.07:
        extra = [p for p in world.ref.products if p.product_type in ("appliance", "accessory", "service")]
        lines.append((rng.choice(extra), 1, 0))
    return lines


def price_lines(
    world: World,
    order_id: int,
    customer: Customer,
    lines: list[tuple[Product, int, int]],
) -> tuple[list[Row], Decimal, Decimal]:
    """Order detail rows, subtotal and tax."""
    details: list[Row] = []
    amounts: list[Decimal] = []
    for no, (product, qty, returned) in enumerate(lines, start=1):
        _, unit, deposit = world.prices[(product.product_id, customer.customer_type)]
        amounts.append(unit * qty)
        details.append(
            {
                "detail_id": world.ids.next("w200.order_detail"),
                "order_id": order_id,
                "line_no": no,
                "product_id": product.product_id,
                "quantity": qty,
                "unit_price": unit,
                "line_amount": (unit * qty).quantize(Decimal("0.01")),
                "deposit_amount": deposit * qty,
                "cylinders_returned": returned,
            }
        )
    for row, tax in zip(details, split_tax(amounts), strict=True):
        row["tax_amount"] = tax
    subtotal = sum(amounts, Decimal(0)).quantize(Decimal("0.01"))
    return details, subtotal, tax_of(subtotal)


def current_prices(ref: Reference) -> dict[tuple[int, str], tuple[int, Decimal, Decimal]]:
    return {
        (r["product_id"], r["customer_type"]): (r["price_id"], r["unit_price"], r["deposit_amount"])
        for r in ref.rows["w110.product_price"]
        if r["effective_to"] is None
    }


def taipei(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TAIPEI)


def order_hour(rng: random.Random) -> int:
    return rng.choices(list(HOUR_WEIGHT), weights=list(HOUR_WEIGHT.values()))[0]


def daily_orders(rng: random.Random, day: date, per_day: int) -> int:
    mean = per_day * MONTH_FACTOR[day.month] * WEEKDAY_FACTOR[day.weekday()]
    return max(0, round(rng.gauss(mean, mean * 0.05)))


def price_factor(ctype: str) -> Decimal:
    return CUSTOMER_TYPE_FACTOR[ctype]


def end_of_day(day: date) -> datetime:
    return taipei(day, 23, 59)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def invoice_no(day: date, serial: int) -> str:
    """E-invoice numbers: a two-letter track per two-month period, then an 8-digit serial."""
    track = (day.year * 6 + (day.month - 1) // 2) % (26 * 26)
    return f"{chr(65 + track // 26)}{chr(65 + track % 26)}{serial % 10**8:08d}"


def invoice_header(
    invoice_id: int, order_id: int, customer: Customer, day: date, subtotal: Decimal, tax: Decimal, at: datetime
) -> Row:
    """The e-invoice of a delivered order: B2B when the buyer has a 統一編號, due after the credit terms."""
    return {
        "invoice_id": invoice_id,
        "invoice_no": invoice_no(day, invoice_id),
        "order_id": order_id,
        "customer_id": customer.customer_id,
        "buyer_tax_id": customer.tax_id,
        "invoice_type": "B2B" if customer.tax_id else "B2C",
        "invoice_date": day,
        "due_date": day + timedelta(days=customer.credit_terms_days),
        "status": "issued",
        "sales_amount": subtotal,
        "tax_amount": tax,
        "total_amount": subtotal + tax,
        "paid_amount": Decimal("0.00"),
        "voided_at": None,
        "created_at": at,
        "updated_at": at,
    }
