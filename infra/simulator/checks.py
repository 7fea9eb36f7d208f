"""The invariants the simulator keeps, as SQL: each query counts the rows that break one.

`broken_invariants(conn)` returns {name: count} for every invariant that does not hold (empty when all
do). The ledger-to-sub-ledger ties are checked through the last closed day (the day close books a day
once it has ended; until then its sales are not yet in the ledger by design).
"""

from __future__ import annotations

from typing import Any

import psycopg

# The last day the ledger has closed, and the instant that day ends in Taipei.
_CLOSED = (
    "WITH closed AS (SELECT max(posting_date) AS day, (max(posting_date) + 1)::timestamp AT TIME ZONE "
    "'Asia/Taipei' AS ends FROM w600.gl_transaction WHERE source_ref LIKE 'DAY-%') "
)


def _tie(account_filter: str, sign: str, subledger: str) -> str:
    """Rows (0 or 1) where the ledger's balance of the accounts through the closed day differs from
    the sub-ledger's figure for the same days."""
    return (
        _CLOSED + f"SELECT count(*) FROM closed WHERE closed.day IS NOT NULL AND "
        f"(SELECT coalesce(sum({sign}), 0) FROM w600.gl_transaction g WHERE {account_filter} "
        f"AND g.posting_date <= closed.day) <> ({subledger})"
    )


INVARIANTS: dict[str, str] = {
    "unbalanced journals": "SELECT count(*) FROM (SELECT journal_no FROM w600.gl_transaction GROUP BY 1 "
    "HAVING sum(debit) <> sum(credit)) x",
    "stock differs from its movements": "SELECT count(*) FROM w300.warehouse_stock s LEFT JOIN (SELECT "
    "warehouse_code, product_id, sum(quantity) q, sum(empty_quantity) e FROM w300.stock_movement GROUP BY 1, 2) m "
    "USING (warehouse_code, product_id) WHERE s.qty_full <> coalesce(m.q, 0) OR s.qty_empty <> coalesce(m.e, 0)",
    "movements without a stock row": "SELECT count(*) FROM (SELECT DISTINCT warehouse_code, product_id FROM "
    "w300.stock_movement) m LEFT JOIN w300.warehouse_stock s USING (warehouse_code, product_id) "
    "WHERE s.stock_id IS NULL",
    "negative stock": "SELECT count(*) FROM w300.warehouse_stock WHERE qty_full < 0 OR qty_empty < 0",
    "paid amount differs from payments": "SELECT count(*) FROM w500.invoice_header i LEFT JOIN (SELECT invoice_id, "
    "sum(amount) a FROM w500.payment_record WHERE status <> 'reversed' GROUP BY 1) p USING (invoice_id) "
    "WHERE i.paid_amount <> coalesce(p.a, 0) OR i.paid_amount > i.total_amount OR i.paid_amount < 0",
    "invoice status differs from its paid amount": "SELECT count(*) FROM w500.invoice_header WHERE status <> "
    "'voided' AND status <> CASE WHEN paid_amount = 0 THEN 'issued' WHEN paid_amount >= total_amount THEN 'paid' "
    "ELSE 'partially_paid' END",
    "order totals differ from lines": "SELECT count(*) FROM w200.order_master o LEFT JOIN (SELECT order_id, "
    "sum(line_amount) s, sum(tax_amount) t FROM w200.order_detail GROUP BY 1) d USING (order_id) "
    "WHERE d.order_id IS NULL OR o.subtotal <> d.s OR o.tax_amount <> d.t "
    "OR o.total_amount <> o.subtotal + o.tax_amount",
    "order tax is not 5% rounded to the dollar": "SELECT count(*) FROM w200.order_master "
    "WHERE tax_amount <> round(subtotal * 0.05)",
    "line amount is not quantity times price": "SELECT count(*) FROM w200.order_detail "
    "WHERE line_amount <> quantity * unit_price",
    "invoice differs from its order": "SELECT count(*) FROM w500.invoice_header i JOIN w200.order_master o "
    "USING (order_id) LEFT JOIN (SELECT invoice_id, sum(amount) a, sum(tax_amount) t FROM w500.invoice_detail "
    "GROUP BY 1) d USING (invoice_id) WHERE i.sales_amount <> o.subtotal OR i.tax_amount <> o.tax_amount "
    "OR d.a IS DISTINCT FROM i.sales_amount OR d.t IS DISTINCT FROM i.tax_amount "
    "OR i.customer_id <> o.customer_id",
    "B2B invoice without the buyer's tax id": "SELECT count(*) FROM w500.invoice_header i JOIN "
    "w100.customer_master c USING (customer_id) WHERE (i.invoice_type = 'B2B') <> (i.buyer_tax_id IS NOT NULL) "
    "OR i.buyer_tax_id IS DISTINCT FROM c.tax_id",
    "delivered order without exactly one invoice": "SELECT count(*) FROM w200.order_master o LEFT JOIN (SELECT "
    "order_id, count(*) n FROM w500.invoice_header GROUP BY 1) i USING (order_id) WHERE (o.order_status = "
    "'delivered') <> (coalesce(i.n, 0) = 1) OR coalesce(i.n, 0) > 1",
    "delivered by truck without a delivered route stop": "SELECT count(*) FROM w200.order_master o WHERE "
    "order_status = 'delivered' AND channel <> 'walk_in' AND NOT EXISTS (SELECT 1 FROM w700.route_detail r "
    "WHERE r.order_id = o.order_id AND r.stop_status = 'delivered')",
    "status differs from the last status log": "SELECT count(*) FROM w200.order_master o WHERE o.order_status "
    "IS DISTINCT FROM (SELECT to_status FROM w200.order_status_log l WHERE l.order_id = o.order_id "
    "ORDER BY changed_at DESC, log_id DESC LIMIT 1)",
    "delivered stop without a GPS fix near the address": "SELECT count(*) FROM w700.route_detail r JOIN "
    "w100.customer_address a USING (address_id) WHERE r.stop_status = 'delivered' AND (r.gps_latitude IS NULL "
    "OR abs(r.gps_latitude - a.latitude) > 0.001 OR abs(r.gps_longitude - a.longitude) > 0.001)",
    "completed run with stops left": "SELECT count(*) FROM w700.dispatch_master d WHERE status = 'completed' "
    "AND EXISTS (SELECT 1 FROM w700.route_detail r WHERE r.dispatch_id = d.dispatch_id "
    "AND r.stop_status = 'pending')",
    "overlapping prices": "SELECT count(*) FROM w110.product_price a JOIN w110.product_price b ON a.product_id = "
    "b.product_id AND a.customer_type = b.customer_type AND a.price_id < b.price_id AND "
    "daterange(a.effective_from, a.effective_to, '[]') && daterange(b.effective_from, b.effective_to, '[]')",
    "period balances differ from the ledger": "SELECT count(*) FROM w600.account_balance b LEFT JOIN (SELECT "
    "account_code, period, cost_center, sum(debit) d, sum(credit) c FROM w600.gl_transaction GROUP BY 1, 2, 3) g "
    "USING (account_code, period, cost_center) WHERE b.period_debit <> coalesce(g.d, 0) "
    "OR b.period_credit <> coalesce(g.c, 0) OR b.closing_balance <> b.opening_balance + b.period_debit "
    "- b.period_credit",
    "ledger lines without a period balance": "SELECT count(*) FROM (SELECT DISTINCT account_code, period, "
    "cost_center FROM w600.gl_transaction) g LEFT JOIN w600.account_balance b USING (account_code, period, "
    "cost_center) WHERE b.balance_id IS NULL",
    "opening differs from the previous closing": "SELECT count(*) FROM (SELECT opening_balance, lag(closing_balance) "
    "OVER (PARTITION BY account_code, cost_center ORDER BY period) AS previous FROM w600.account_balance) x "
    "WHERE previous IS NOT NULL AND opening_balance <> previous",
    "receivables (1191) do not tie to open invoices": _tie(
        "g.account_code = '1191'",
        "g.debit - g.credit",
        "SELECT coalesce((SELECT sum(total_amount) FROM w500.invoice_header WHERE status <> 'voided' AND "
        "invoice_date <= closed.day), 0) - coalesce((SELECT sum(amount) FROM w500.payment_record WHERE "
        "payment_date <= closed.day), 0) + coalesce((SELECT sum(amount) FROM w500.payment_record WHERE "
        "status = 'reversed' AND updated_at < closed.ends), 0)",
    ),
    "output tax (2194) does not tie to invoices": _tie(
        "g.account_code = '2194'",
        "g.credit - g.debit",
        "SELECT coalesce(sum(tax_amount), 0) FROM w500.invoice_header WHERE status <> 'voided' "
        "AND invoice_date <= closed.day",
    ),
    "revenue (41xx) does not tie to invoices": _tie(
        "g.account_code IN ('4101', '4102', '4111')",
        "g.credit - g.debit",
        "SELECT coalesce(sum(sales_amount), 0) FROM w500.invoice_header WHERE status <> 'voided' "
        "AND invoice_date <= closed.day",
    ),
    "inventory (1231/1232) does not tie to stock at cost": _tie(
        "g.account_code IN ('1231', '1232')",
        "g.debit - g.credit",
        "SELECT coalesce(sum(m.quantity * i.standard_cost), 0) FROM w300.stock_movement m "
        "JOIN w300.inventory_master i USING (product_id) WHERE m.moved_at < closed.ends",
    ),
}


def broken_invariants(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """{invariant: rows breaking it} for every invariant that does not hold."""
    broken: dict[str, int] = {}
    for name, query in INVARIANTS.items():
        row = conn.execute(query.encode()).fetchone()
        if row and row[0]:
            broken[name] = int(row[0])
    return broken
