"""Live postings to the general ledger: journals with their period balances, and the day close (日結).

Contract: `post` inserts a balanced journal and keeps account_balance equal to the ledger (period debits
and credits, closing = opening + debits - credits, later periods' openings moved along). `close_due_days`
books every day that has ended since the last close, from the day's invoices, payments and stock
movements as the database holds them, with the same journal shapes as the backfill — so the ledger ties
to the sub-ledgers for every closed day.
"""

from __future__ import annotations

from bisect import insort
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from infra.clock import business_day
from infra.simulator.ledger import (
    REVENUE_ACCOUNT,
    ZERO,
    Journal,
    day_journals,
    is_month_end,
    journal_rows,
    month_end_journals,
)
from infra.simulator.live_state import LiveState
from infra.simulator.orders import taipei
from infra.simulator.reference import TRACKED_TYPES
from infra.simulator.writer import Writer

BALANCE = "w600.account_balance"
ADD_TO_PERIOD = (
    "UPDATE w600.account_balance SET period_debit = period_debit + %s, period_credit = period_credit + %s, "
    "closing_balance = closing_balance + %s, updated_at = %s WHERE account_code = %s AND period = %s "
    "AND cost_center = %s"
)
NEW_PERIOD = (
    "INSERT INTO w600.account_balance (balance_id, account_code, period, cost_center, opening_balance, "
    "period_debit, period_credit, closing_balance, budget_amount, is_closed, created_at, updated_at) "
    "SELECT %(id)s, %(a)s, %(p)s, %(c)s, o, %(d)s, %(k)s, o + %(d)s - %(k)s, 0, false, %(at)s, %(at)s FROM "
    "(SELECT coalesce((SELECT closing_balance FROM w600.account_balance WHERE account_code = %(a)s AND "
    "cost_center = %(c)s AND period < %(p)s ORDER BY period DESC LIMIT 1), 0) AS o) AS previous"
)
SHIFT_LATER = (
    "UPDATE w600.account_balance SET opening_balance = opening_balance + %s, closing_balance = closing_balance + %s, "
    "updated_at = %s WHERE account_code = %s AND cost_center = %s AND period > %s"
)


def post(w: Writer, state: LiveState, journal: Journal, at: datetime) -> None:
    """Insert the journal's lines and bring the period balances along."""
    branch = journal.lines[0][3]
    accountants = state.world.ref.staff(branch, "accountant")
    sums: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for row in journal_rows(state.world, journal, at, accountants[0] if accountants else None):
        w.insert("w600.gl_transaction", row)
        key = (row["account_code"], row["period"], row["cost_center"])
        sums[key][0] += row["debit"]
        sums[key][1] += row["credit"]
    for (account, period, cc), (debit, credit) in sums.items():
        _balance(w, state, account, period, cc, debit, credit, at)


def _balance(
    w: Writer, state: LiveState, account: str, period: str, cc: str, debit: Decimal, credit: Decimal, at: datetime
) -> None:
    periods = state.balances.setdefault((account, cc), [])
    if period in periods:
        w.execute(BALANCE, "update", ADD_TO_PERIOD, [debit, credit, debit - credit, at, account, period, cc])
    else:
        params = {
            "id": state.world.ids.next(BALANCE),
            "a": account,
            "p": period,
            "c": cc,
            "d": debit,
            "k": credit,
            "at": at,
        }
        w.execute(BALANCE, "insert", NEW_PERIOD, params)
        insort(periods, period)
    later = sum(1 for p in periods if p > period)
    if later:
        w.execute(BALANCE, "update", SHIFT_LATER, [debit - credit, debit - credit, at, account, cc, period], later)


def close_due_days(w: Writer, state: LiveState, now: datetime) -> int:
    """Close every business day that ended since the last close; returns how many were closed."""
    today, closed = business_day(now), 0
    while state.last_closed + timedelta(days=1) < today:
        day = state.last_closed + timedelta(days=1)
        close_day(w, state, day, now)
        state.last_closed = day
        closed += 1
    return closed


def close_day(w: Writer, state: LiveState, day: date, now: datetime) -> None:
    """The day close of every branch (and the month-end costs, then the period is closed)."""
    totals, fuel = day_totals(w, day), day_fuel(w, day)
    for branch in state.world.ref.branches:
        for journal in day_journals(day, branch, totals.get(branch, {}), fuel.get(branch, {})):
            post(w, state, journal, now)
        if is_month_end(day):
            for journal in month_end_journals(day, branch):
                post(w, state, journal, now)
    if is_month_end(day):
        period = f"{day:%Y-%m}"
        held = sum(1 for periods in state.balances.values() if period in periods)
        w.execute(
            BALANCE,
            "update",
            "UPDATE w600.account_balance SET is_closed = true, updated_at = %s WHERE period = %s",
            [now, period],
            held,
        )


def day_fuel(w: Writer, day: date) -> dict[str, dict[str, Decimal]]:
    """Kilometres per branch and vehicle of the runs that came back on `day`."""
    out: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for branch, plate, km in w.conn.execute(
        "SELECT branch_code, vehicle_plate, sum(actual_km) FROM w700.dispatch_master WHERE status = 'completed' "
        "AND returned_at >= %s AND returned_at < %s GROUP BY 1, 2",
        (taipei(day, 0), taipei(day + timedelta(days=1), 0)),
    ):
        out[branch][plate] = km
    return out


def day_totals(w: Writer, day: date) -> dict[str, dict[str, Decimal]]:
    """The day's totals per branch (keys of `ledger.TOTAL_KEYS`) from what the database holds."""
    t: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    start, end = taipei(day, 0), taipei(day + timedelta(days=1), 0)
    for branch, ptype, amount, cost in w.conn.execute(
        "SELECT o.branch_code, p.product_type, sum(d.amount), sum(d.quantity * i.standard_cost) "
        "FROM w500.invoice_detail d JOIN w500.invoice_header h USING (invoice_id) "
        "JOIN w200.order_master o ON o.order_id = h.order_id JOIN w110.product_master p ON p.product_id = d.product_id "
        "JOIN w300.inventory_master i ON i.product_id = d.product_id "
        "WHERE h.invoice_date = %s AND h.status <> 'voided' GROUP BY 1, 2",
        (day,),
    ):
        t[branch][REVENUE_ACCOUNT[ptype]] += amount
        if ptype in TRACKED_TYPES:
            t[branch]["cogs_gas" if ptype == "gas_refill" else "cogs_goods"] += cost
    for branch, tax, total, deposits in w.conn.execute(
        "SELECT o.branch_code, sum(h.tax_amount), sum(h.total_amount), sum((SELECT coalesce(sum(deposit_amount), 0) "
        "FROM w200.order_detail od WHERE od.order_id = h.order_id)) FROM w500.invoice_header h "
        "JOIN w200.order_master o ON o.order_id = h.order_id WHERE h.invoice_date = %s AND h.status <> 'voided' "
        "GROUP BY 1",
        (day,),
    ):
        t[branch]["tax"] += tax
        t[branch]["ar"] += total
        t[branch]["deposits"] += deposits
    for branch, cash, amount in w.conn.execute(
        "SELECT c.branch_code, p.method = 'cash', sum(p.amount) FROM w500.payment_record p "
        "JOIN w100.customer_master c USING (customer_id) WHERE p.payment_date = %s GROUP BY 1, 2",
        (day,),
    ):
        t[branch]["cash_in" if cash else "bank_in"] += amount
    for branch, amount in w.conn.execute(
        "SELECT c.branch_code, sum(p.amount) FROM w500.payment_record p JOIN w100.customer_master c "
        "USING (customer_id) WHERE p.status = 'reversed' AND p.updated_at >= %s AND p.updated_at < %s GROUP BY 1",
        (start, end),
    ):
        t[branch]["bank_reversed"] += amount
    for branch, kind, gas, value in w.conn.execute(
        "SELECT m.warehouse_code, m.movement_type, p.product_type = 'gas_refill', sum(m.quantity * i.standard_cost) "
        "FROM w300.stock_movement m JOIN w300.inventory_master i USING (product_id) "
        "JOIN w110.product_master p USING (product_id) WHERE m.moved_at >= %s AND m.moved_at < %s "
        "AND m.movement_type IN ('receipt', 'adjustment') GROUP BY 1, 2, 3",
        (start, end),
    ):
        cls = "gas" if gas else "goods"
        t[branch][f"purchase_{cls}" if kind == "receipt" else f"adjust_{cls}"] += value
    return t
