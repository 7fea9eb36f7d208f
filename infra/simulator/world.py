"""Customers and the simulator's view of the business, shared by backfill and live mode.

A `World` holds the random source, the master data, the customers and the current prices, plus an id
source: local counters while generating a fresh history (`Ids`), blocks drawn from the database's
identity sequences in live and append mode (`writer.SequenceIds`). Everything here is pure: the same
seed and the same calls give the same customers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import accumulate
from typing import Any, Protocol

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
from infra.simulator.reference import Reference

Row = dict[str, Any]
# Share of the business per branch (customers and orders), roughly by population served.
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
    "TTT": 3,
}
TYPE_SHARE = (("household", 0.82), ("restaurant", 0.14), ("industrial", 0.04))
CUSTOMER_TYPES = tuple(t for t, _ in TYPE_SHARE)
_TYPE_CUM = list(accumulate(w for _, w in TYPE_SHARE))


class IdSource(Protocol):
    """Hands out the next primary key of a table (`w200.order_master` …)."""

    def next(self, table: str) -> int: ...


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
    home: tuple[float, float] = (25.0330, 121.5654)  # (lat, lon) of the first delivery address

    @property
    def payment_method(self) -> str:
        return "monthly" if self.credit_terms_days else "cash"


class Ids:
    """Next id per table from local counters (a fresh history), optionally starting past existing ids."""

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
    ids: IdSource
    customers: list[Customer] = field(default_factory=list)
    prices: dict[tuple[int, str], tuple[int, Decimal, Decimal]] = field(default_factory=dict)  # -> id, price, deposit
    _pools: dict[tuple[str, str], list[Customer]] = field(default_factory=dict)
    _branches: list[str] = field(default_factory=list)
    _branch_cum: list[int] = field(default_factory=list)

    def index(self) -> None:
        """Rebuild the (branch, customer type) pools `pick_customer` draws from."""
        self._pools = {}
        for c in self.customers:
            self._pools.setdefault((c.branch, c.customer_type), []).append(c)
        self._branches = [b for b in BRANCH_WEIGHT if any((b, t) in self._pools for t in CUSTOMER_TYPES)]
        self._branch_cum = list(accumulate(BRANCH_WEIGHT[b] for b in self._branches))

    def pick_customer(self) -> Customer:
        """A customer for a new order: branch by its share of the business, then type by its share."""
        if not self._branches:
            raise ValueError("the world has no customers to take orders from")
        branch = self.rng.choices(self._branches, cum_weights=self._branch_cum)[0]
        ctype = self.rng.choices(CUSTOMER_TYPES, cum_weights=_TYPE_CUM)[0]
        pool = self._pools.get((branch, ctype)) or next(
            self._pools[(branch, t)] for t in CUSTOMER_TYPES if (branch, t) in self._pools
        )
        return self.rng.choice(pool)

    def add(self, customer: Customer) -> None:
        """A newly registered customer starts ordering."""
        self.customers.append(customer)
        self._pools.setdefault((customer.branch, customer.customer_type), []).append(customer)

    def forget(self, customer: Customer) -> None:
        """Stop taking orders from a customer (suspended or closed)."""
        pool = self._pools.get((customer.branch, customer.customer_type), [])
        if customer in pool and len(pool) > 1:
            pool.remove(customer)


def new_customer(world: World, registered: date) -> tuple[Customer, dict[str, list[Row]]]:
    """A customer with a delivery address (and a billing one for companies) and a contact."""
    rng, ids = world.rng, world.ids
    ctype = rng.choices(CUSTOMER_TYPES, cum_weights=_TYPE_CUM)[0]
    branch = rng.choices(list(BRANCH_WEIGHT), weights=list(BRANCH_WEIGHT.values()))[0]
    cid = ids.next("w100.customer_master")
    person = person_name(rng)
    company = None
    if ctype == "restaurant":
        company = f"{person[0]}記{rng.choice(SHOP_KINDS)}"
    elif ctype == "industrial":
        company = f"{rng.choice('大新永順合興台聯')}{rng.choice('豐昌益達盛泰')}{rng.choice(FACTORY_KINDS)}股份有限公司"
    terms = 0 if ctype == "household" else rng.choice((30, 30, 60, 90) if ctype == "industrial" else (0, 30))
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
    master: Row = {
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
    rows: dict[str, list[Row]] = {
        "w100.customer_master": [master],
        "w100.customer_address": _addresses(world, customer, bool(company)),
        "w100.customer_contact": [_contact(world, cid, person, bool(company))],
    }
    return customer, rows


def _addresses(world: World, customer: Customer, company: bool) -> list[Row]:
    """A delivery address near the customer's branch (and a billing one for companies)."""
    rng = world.rng
    district = rng.choice(DISTRICTS[customer.branch])
    rows: list[Row] = []
    for kind in ("delivery", "billing") if company else ("delivery",):
        text, lat, lon, floor = address_in(rng, district)
        aid = world.ids.next("w100.customer_address")
        rows.append(
            {
                "address_id": aid,
                "customer_id": customer.customer_id,
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
            customer.home = (lat, lon)
    return rows


def _contact(world: World, cid: int, person: str, company: bool) -> Row:
    rng = world.rng
    return {
        "contact_id": world.ids.next("w100.customer_contact"),
        "customer_id": cid,
        "name_zh": person,
        "mobile": mobile(rng),
        "phone": None,
        "email": f"c{cid}@example.com.tw" if company else None,
        "line_id": f"line_{cid}" if rng.random() < 0.3 else None,
        "is_primary": True,
        "accepts_sms": rng.random() < 0.9,
    }


def current_prices(ref: Reference) -> dict[tuple[int, str], tuple[int, Decimal, Decimal]]:
    """(product, customer type) -> (price_id, unit price, deposit) of the open-ended price rows."""
    return {
        (r["product_id"], r["customer_type"]): (r["price_id"], r["unit_price"], r["deposit_amount"])
        for r in ref.rows["w110.product_price"]
        if r["effective_to"] is None
    }
