"""Orders: when they come (business-day patterns), what they contain, what they cost, and their rows.

Pure functions over a `World`, shared by backfill and live mode so both write the same kind of order.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from infra.clock import TAIPEI
from infra.simulator.money import CENT, split_tax, tax_of
from infra.simulator.reference import Product
from infra.simulator.world import Customer, Row, World

# Orders by hour of day in Taipei: peaks before lunch and dinner (cooking gas runs out then); the spec's
# peak hour carries ~15% of the day.
HOUR_WEIGHT = {7: 2, 8: 5, 9: 8, 10: 12, 11: 13, 12: 7, 13: 5, 14: 6, 15: 8, 16: 11, 17: 10, 18: 5, 19: 3, 20: 1}
# Winter raises household gas use (water heaters); summer is quiet.
MONTH_FACTOR = {1: 1.35, 2: 1.3, 3: 1.1, 4: 0.95, 5: 0.85, 6: 0.8, 7: 0.8, 8: 0.8, 9: 0.85, 10: 0.95, 11: 1.1, 12: 1.3}
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 1.05, 0.9, 0.55)  # Monday … Sunday
CHANNELS = ("phone", "phone", "line", "web", "standing_order")
CANCEL_REASONS = ("客戶取消", "重複下單", "地址錯誤", "已向他處購買")
WALK_IN_SHARE = 0.45  # of household orders, collected at the branch counter
SIZES = {"household": (16, 20, 20, 4), "restaurant": (20, 20, 50), "industrial": (50,)}
QUANTITIES = {"household": (1, 2), "restaurant": (2, 6), "industrial": (4, 20)}

Line = tuple[Product, int, int]  # product, quantity, empty cylinders returned


def taipei(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Taipei on a business day."""
    return datetime.combine(day, time(hour, minute), TAIPEI)


def order_hour(rng: random.Random) -> int:
    return rng.choices(list(HOUR_WEIGHT), weights=list(HOUR_WEIGHT.values()))[0]


def expected_orders(day: date, per_day: int) -> float:
    """The mean order count of a day: `per_day` scaled by season and weekday."""
    return per_day * MONTH_FACTOR[day.month] * WEEKDAY_FACTOR[day.weekday()]


def daily_orders(rng: random.Random, day: date, per_day: int) -> int:
    mean = expected_orders(day, per_day)
    return max(0, round(rng.gauss(mean, mean * 0.05)))


def order_lines(world: World, customer: Customer) -> list[Line]:
    """A refill of the customer's usual size, sometimes with a new cylinder's deposit or an extra item."""
    rng, catalog = world.rng, world.ref.catalog
    sizes = [k for k in SIZES[customer.customer_type] if k in catalog.refills_by_kg] or list(catalog.refills_by_kg)
    kg = rng.choice(sizes)
    refill = rng.choice(catalog.refills_by_kg[kg])
    qty = rng.randint(*QUANTITIES[customer.customer_type])
    lines: list[Line] = [(refill, qty, qty if rng.random() < 0.96 else max(0, qty - 1))]
    roll = rng.random()
    if roll < 0.04 and kg in catalog.deposit_by_kg:  # a new customer cylinder: a deposit, no empty back
        lines.append((catalog.deposit_by_kg[kg], 1, 0))
    elif roll < 0.12 and catalog.extras:
        lines.append((rng.choice(catalog.extras), 1, 0))
    return lines


def price_lines(world: World, order_id: int, customer: Customer, lines: list[Line], at: datetime) -> list[Row]:
    """order_detail rows at the customer type's current prices; line taxes add up to the order's tax."""
    details: list[Row] = []
    for no, (product, qty, returned) in enumerate(lines, start=1):
        _, unit, deposit = world.prices[(product.product_id, customer.customer_type)]
        details.append(
            {
                "detail_id": world.ids.next("w200.order_detail"),
                "order_id": order_id,
                "line_no": no,
                "product_id": product.product_id,
                "quantity": qty,
                "unit_price": unit,
                "line_amount": (unit * qty).quantize(CENT),
                "tax_amount": Decimal(0),
                "deposit_amount": (deposit * qty).quantize(CENT),
                "cylinders_returned": returned,
                "created_at": at,
                "updated_at": at,
            }
        )
    retax(details)
    return details


def retax(details: list[Row]) -> tuple[Decimal, Decimal]:
    """Set every line's tax from the document rule; return (subtotal, tax) of the lines."""
    amounts = [d["line_amount"] for d in details]
    for row, tax in zip(details, split_tax(amounts), strict=True):
        row["tax_amount"] = tax
    subtotal = sum(amounts, Decimal(0)).quantize(CENT)
    return subtotal, tax_of(subtotal)


def order_row(world: World, order_id: int, customer: Customer, at: datetime, walk_in: bool, details: list[Row]) -> Row:
    """A new order (status pending) with totals from its lines and a two-hour promised window."""
    rng = world.rng
    subtotal, tax = retax(details)
    window_start = at + (timedelta(minutes=10) if walk_in else timedelta(hours=1))
    day = at.astimezone(TAIPEI)
    return {
        "order_id": order_id,
        "order_no": f"SO{day:%Y%m%d}{order_id:08d}",
        "customer_id": customer.customer_id,
        "address_id": customer.address_ids[0],
        "branch_code": customer.branch,
        "sales_employee_id": customer.sales_employee_id,
        "channel": "walk_in" if walk_in else rng.choice(CHANNELS),
        "order_status": "pending",
        "ordered_at": at,
        "promised_from": window_start,
        "promised_to": window_start + timedelta(hours=2),
        "delivered_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "subtotal": subtotal,
        "tax_amount": tax,
        "total_amount": subtotal + tax,
        "payment_method": customer.payment_method if rng.random() < 0.9 else "credit_card",
        "created_at": at,
        "updated_at": at,
    }


def new_order(world: World, customer: Customer, at: datetime) -> tuple[Row, list[Row]]:
    """An order and its lines for `customer` placed at `at` (ids drawn from the world's id source)."""
    walk_in = customer.customer_type == "household" and world.rng.random() < WALK_IN_SHARE
    order_id = world.ids.next("w200.order_master")
    details = price_lines(world, order_id, customer, order_lines(world, customer), at)
    return order_row(world, order_id, customer, at, walk_in, details), details


def status_log_row(
    world: World, order_id: int, old: str | None, new: str, at: datetime, by: int | None = None, note: str | None = None
) -> Row:
    return {
        "log_id": world.ids.next("w200.order_status_log"),
        "order_id": order_id,
        "from_status": old,
        "to_status": new,
        "changed_at": at,
        "changed_by": by,
        "note_zh": note,
        "created_at": at,
        "updated_at": at,
    }
