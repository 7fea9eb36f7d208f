"""Live actions on master data, stock receipts, the ledger and order notes."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from infra.clock import business_day
from infra.simulator.live_money import move_stock
from infra.simulator.live_orders import Writer, log_status
from infra.simulator.live_state import LiveState
from infra.simulator.reference import BRANCHES

UPSERT_BALANCE = (
    "INSERT INTO w600.account_balance (account_code, period, cost_center, opening_balance, period_debit, "
    "period_credit, closing_balance, budget_amount, is_closed) "
    "SELECT %(a)s, %(p)s, %(c)s, o, %(d)s, %(k)s, o + %(d)s - %(k)s, 0, false FROM (SELECT COALESCE((SELECT "
    "closing_balance FROM w600.account_balance WHERE account_code = %(a)s AND cost_center = %(c)s AND period < %(p)s "
    "ORDER BY period DESC LIMIT 1), 0) AS o) AS previous "
    "ON CONFLICT (account_code, period, cost_center) DO UPDATE SET "
    "period_debit = w600.account_balance.period_debit + EXCLUDED.period_debit, "
    "period_credit = w600.account_balance.period_credit + EXCLUDED.period_credit, "
    "closing_balance = w600.account_balance.closing_balance + EXCLUDED.period_debit - EXCLUDED.period_credit, "
    "updated_at = now()"
)
EXPENSES = (("6103", "燃料費"), ("6104", "車輛維修"), ("6108", "雜項費用"), ("6105", "水電瓦斯費"))


def price_change(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """Close the current price of a product for a customer type and open a new one from tomorrow."""
    key = rng.choice(list(state.prices))
    price_id, price, deposit, effective_from = state.prices[key]
    closes = max(business_day(now), effective_from)
    w.update("w110.product_price", "price_id", price_id, effective_to=closes, updated_at=now)
    new_price = (price * Decimal(rng.choice(("0.97", "1.02", "1.03", "1.05")))).quantize(Decimal(1))
    new_id = w.insert(
        "w110.product_price",
        {
            "product_id": key[0],
            "customer_type": key[1],
            "unit_price": new_price,
            "deposit_amount": deposit,
            "effective_from": closes + timedelta(days=1),
            "created_at": now,
            "updated_at": now,
        },
        returning="price_id",
    )
    state.prices[key] = (int(new_id), new_price, deposit, closes + timedelta(days=1))
    return True


def stock_receipt(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """The supplier's truck brings full cylinders to a branch and takes empties back."""
    branch = rng.choice(BRANCHES)[0]
    gas = [p.product_id for p in state.products.values() if p.product_type == "gas_refill"]
    product_id = rng.choice(gas)
    row = w.conn.execute(
        "SELECT qty_empty FROM w300.warehouse_stock WHERE warehouse_code = %s AND product_id = %s", (branch, product_id)
    ).fetchone()
    if row is None:
        return False
    qty = rng.choice((20, 40, 60))
    move_stock(w, branch, product_id, qty, -min(row[0], qty), "receipt", None, now)
    return True


def gl_posting(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A balanced two-line expense journal, with the period balances of both accounts updated."""
    day = business_day(now)
    branch = rng.choice(BRANCHES)[0]
    account, text = rng.choice(EXPENSES)
    amount = Decimal(rng.randrange(200, 20_000)).quantize(Decimal("0.01"))
    journal = f"JL{now:%Y%m%d}-{w.next_id('w600.gl_transaction', 'txn_id'):09d}"
    for line_no, (acct, debit, credit) in enumerate(((account, amount, 0), ("1101", 0, amount)), start=1):
        w.insert(
            "w600.gl_transaction",
            {
                "journal_no": journal,
                "line_no": line_no,
                "account_code": acct,
                "posting_date": day,
                "period": f"{day:%Y-%m}",
                "debit": debit,
                "credit": credit,
                "cost_center": branch,
                "source_module": "W600",
                "description_zh": text,
                "created_at": now,
                "updated_at": now,
            },
        )
        w.execute(
            "w600.account_balance",
            UPSERT_BALANCE,
            {"a": acct, "p": f"{day:%Y-%m}", "c": branch, "d": debit, "k": credit},
        )
    return True


def customer_update(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """Loyalty points, a credit limit review, or a suspension for overdue payments."""
    customer = rng.choice(state.customers)
    roll = rng.random()
    if roll < 0.7:
        w.execute(
            "w100.customer_master",
            "UPDATE w100.customer_master SET loyalty_points = loyalty_points + %s, "
            "updated_at = %s WHERE customer_id = %s",
            [rng.randint(1, 30), now, customer.customer_id],
        )
    elif roll < 0.95 or customer.customer_type == "household":
        w.execute(
            "w100.customer_master",
            "UPDATE w100.customer_master SET credit_limit = credit_limit + %s, updated_at = %s WHERE customer_id = %s",
            [Decimal(10_000), now, customer.customer_id],
        )
    else:
        w.update("w100.customer_master", "customer_id", customer.customer_id, status="suspended", updated_at=now)
        state.customers.remove(customer)
    return True


def note_then_delete(w: Writer, rng: random.Random, state: LiveState, now: datetime) -> bool:
    """A dispatcher adds a remark to an open order by mistake and removes it (an insert and a delete)."""
    orders = list(state.open_orders.values())
    if not orders:
        return False
    order = rng.choice(orders)
    log_id = log_status(w, order.order_id, order.status, order.status, now, note="備註：客戶要求改時段")
    if rng.random() < 0.5:
        w.delete("w200.order_status_log", "log_id", log_id)
    return True
