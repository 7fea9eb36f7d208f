"""Live actions on stock (receipts, counts, transfers), the ledger (expenses), prices and customers."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from infra.clock import business_day
from infra.simulator.ledger import ZERO, Journal
from infra.simulator.live_ledger import post
from infra.simulator.live_money import move_stock, movement
from infra.simulator.live_state import LiveState
from infra.simulator.world import new_customer
from infra.simulator.writer import Writer

EXPENSES = (("6103", "加油"), ("6104", "車輛維修"), ("6108", "文具雜支"), ("6105", "水電瓦斯費"))
PRICE = "w110.product_price"


def _gas(rng: random.Random, state: LiveState) -> int:
    refills = [p for ps in state.world.ref.catalog.refills_by_kg.values() for p in ps]
    return rng.choice(refills).product_id


def stock_receipt(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """The supplier's truck brings full cylinders to a branch and takes its empties back."""
    branch, product_id = rng.choice(state.world.ref.branches), _gas(rng, state)
    level = state.stock.get((branch, product_id))
    if level is None:
        return False
    qty = rng.choice((20, 40, 60))
    move_stock(w, state, branch, product_id, qty, -min(level[1], qty), "receipt", None, now)
    return True


def stock_count(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A cycle count finds a cylinder or two more or less than the books: an adjustment movement."""
    if not state.stock:
        return False
    branch, product_id = rng.choice(list(state.stock))
    diff = rng.choice((-2, -1, -1, 1))
    if state.stock[(branch, product_id)][0] + diff < 0:
        diff = 1
    movement(w, state, branch, product_id, diff, 0, "adjustment", None, now)
    w.execute(
        "w300.warehouse_stock",
        "update",
        "UPDATE w300.warehouse_stock SET last_counted_at = %s, "
        "updated_at = %s WHERE warehouse_code = %s AND product_id = %s",
        [now, now, branch, product_id],
    )
    return True


def transfer(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """One branch lends full cylinders to another; inventory moves between cost centres at standard cost."""
    if len(state.world.ref.branches) < 2:
        return False
    source, target = rng.sample(state.world.ref.branches, 2)
    product_id = _gas(rng, state)
    have, need = state.stock.get((source, product_id)), state.stock.get((target, product_id))
    if have is None or need is None or have[0] < 60:
        return False
    qty = rng.choice((10, 20, 30))
    movement(w, state, source, product_id, -qty, 0, "transfer_out", None, now)
    movement(w, state, target, product_id, qty, 0, "transfer_in", None, now)
    value = state.world.ref.product_index[product_id].standard_cost * qty
    lines = [("1231", value, ZERO, target), ("1231", ZERO, value, source)]
    post(w, state, Journal(business_day(now), "W300", lines, "分公司調撥", f"TRF-{source}-{target}"), now)
    return True


def gl_posting(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A branch pays a small expense in cash."""
    branch = rng.choice(state.world.ref.branches)
    account, text = rng.choice(EXPENSES)
    amount = Decimal(rng.randrange(200, 20_000)).quantize(Decimal("0.01"))
    post(
        w,
        state,
        Journal(
            business_day(now), "W600", [(account, amount, ZERO, branch), ("1101", ZERO, amount, branch)], text, None
        ),
        now,
    )
    return True


def price_change(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A new price from today: the current row is closed yesterday and a new one opened (a second change
    on the same day corrects today's row instead)."""
    prices = state.world.prices
    key = rng.choice(list(prices))
    price_id, price, deposit = prices[key]
    if price <= 0:
        return False
    today = business_day(now)
    new_price = (price * Decimal(rng.choice(("0.97", "1.02", "1.03", "1.05")))).quantize(Decimal(1))
    if state.price_from.get(key, today) >= today:
        w.update(PRICE, "price_id", price_id, unit_price=new_price, updated_at=now)
    else:
        w.update(PRICE, "price_id", price_id, effective_to=today - timedelta(days=1), updated_at=now)
        price_id = state.world.ids.next(PRICE)
        w.insert(
            PRICE,
            {
                "price_id": price_id,
                "product_id": key[0],
                "customer_type": key[1],
                "unit_price": new_price,
                "deposit_amount": deposit,
                "effective_from": today,
                "effective_to": None,
                "created_at": now,
                "updated_at": now,
            },
        )
        state.price_from[key] = today
    prices[key] = (price_id, new_price, deposit)
    return True


def customer_update(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """Loyalty points, a credit limit review, or a suspension for overdue payments."""
    customer = state.world.pick_customer()
    roll = rng.random()
    table = "w100.customer_master"
    if roll < 0.7:
        w.execute(
            table,
            "update",
            "UPDATE w100.customer_master SET loyalty_points = loyalty_points + %s, "
            "updated_at = %s WHERE customer_id = %s",
            [rng.randint(1, 30), now, customer.customer_id],
        )
    elif roll < 0.97 or customer.customer_type == "household":
        w.execute(
            table,
            "update",
            "UPDATE w100.customer_master SET credit_limit = credit_limit + %s, updated_at = %s WHERE customer_id = %s",
            [Decimal(10_000), now, customer.customer_id],
        )
    else:
        w.update(table, "customer_id", customer.customer_id, status="suspended", updated_at=now)
        state.world.forget(customer)
    return True


def register_customer(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A new customer signs up (master row, addresses, contact) and can order at once."""
    customer, rows = new_customer(state.world, business_day(now))
    for table in ("w100.customer_master", "w100.customer_address", "w100.customer_contact"):
        for row in rows[table]:
            w.insert(table, {**row, "created_at": now, "updated_at": now})
    state.world.add(customer)
    return True
