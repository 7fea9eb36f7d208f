"""E-invoices and payments: numbers, rows, and when (and how much) customers pay.

Contract: an invoice's `paid_amount` is the sum of its payment rows that are not reversed, its status
follows from that (issued / partially_paid / paid), and `total_amount = sales_amount + tax_amount`.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from infra.clock import TAIPEI
from infra.simulator.money import CENT, whole
from infra.simulator.orders import taipei
from infra.simulator.reference import Product
from infra.simulator.world import Customer, Row, World

Payment = tuple[datetime, Decimal, str]  # received at, amount, method
BANK_METHODS = ("virtual_account", "virtual_account", "bank_transfer", "check")


def invoice_no(day: date, serial: int) -> str:
    """E-invoice numbers: a two-letter track per two-month period, then an 8-digit serial."""
    track = (day.year * 6 + (day.month - 1) // 2) % (26 * 26)
    return f"{chr(65 + track // 26)}{chr(65 + track % 26)}{serial % 10**8:08d}"


def invoice_status(paid: Decimal, total: Decimal) -> str:
    if paid <= 0:
        return "issued"
    return "paid" if paid >= total else "partially_paid"


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


def invoice_lines(world: World, invoice_id: int, details: list[Row], at: datetime) -> list[Row]:
    """One invoice line per order line, described by the product's name."""
    products: dict[int, Product] = world.ref.product_index
    return [
        {
            "detail_id": world.ids.next("w500.invoice_detail"),
            "invoice_id": invoice_id,
            "line_no": d["line_no"],
            "product_id": d["product_id"],
            "description_zh": products[d["product_id"]].name_zh or f"商品{d['product_id']}",
            "quantity": d["quantity"],
            "unit_price": d["unit_price"],
            "amount": d["line_amount"],
            "tax_amount": d["tax_amount"],
            "created_at": at,
            "updated_at": at,
        }
        for d in details
    ]


def payment_plan(rng: random.Random, invoice: Row, order_payment_method: str, delivered_at: datetime) -> list[Payment]:
    """When the buyer pays: on the spot for cash and card; credit customers around the due date (a few
    partly, a few much later, ~5% not at all within the history)."""
    total = invoice["total_amount"] - invoice["paid_amount"]
    if order_payment_method in ("cash", "credit_card"):
        return [(delivered_at, total, order_payment_method)]
    roll = rng.random()
    if roll < 0.05:
        return []
    due = taipei(invoice["due_date"], 10) + timedelta(days=round(rng.gauss(0, 6)), hours=rng.randint(0, 6))
    due = max(due, delivered_at + timedelta(hours=2))
    method = rng.choice(BANK_METHODS)
    if roll < 0.12 and total >= 2:
        half = whole(total / 2)
        return [(due, half, method), (due + timedelta(days=rng.randint(20, 45)), total - half, method)]
    if roll < 0.18:
        return [(due + timedelta(days=rng.randint(25, 70)), total, method)]  # late
    return [(due, total, method)]


def settle_plan(rng: random.Random, invoice: Row, after: datetime) -> list[Payment]:
    """For an invoice still open when an appended history starts: the rest, late or around its due date."""
    remaining = invoice["total_amount"] - invoice["paid_amount"]
    if remaining <= 0 or rng.random() < 0.05:
        return []
    base = max(taipei(invoice["due_date"], 10), after)
    when = base + timedelta(days=rng.randint(0, 45), hours=rng.randint(0, 6))
    return [(when, remaining, rng.choice(BANK_METHODS))]


def payment_row(
    world: World, invoice_id: int, customer: Customer, when: datetime, amount: Decimal, method: str, settled: bool
) -> Row:
    """A payment; cash and card clear at once, bank money stays `received` until `settled` (the bank's
    statement has confirmed it)."""
    bank = method in ("bank_transfer", "virtual_account")
    return {
        "payment_id": world.ids.next("w500.payment_record"),
        "invoice_id": invoice_id,
        "customer_id": customer.customer_id,
        "payment_date": when.astimezone(TAIPEI).date(),
        "received_at": when,
        "amount": amount.quantize(CENT),
        "method": method,
        "bank_reference": f"TX{when.astimezone(TAIPEI):%y%m%d}{world.rng.randrange(10**8):08d}" if bank else None,
        "virtual_account": customer.virtual_account if method == "virtual_account" else None,
        "status": "cleared" if settled or method in ("cash", "credit_card") else "received",
        "created_at": when,
        "updated_at": when,
    }
