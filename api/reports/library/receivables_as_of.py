"""The receivables' as-of rule in SQL, shared by the W500 reports that read invoices and payments on a day.

An invoice counts on day D if dated on or before D and not voided by then; a payment counts if dated on or
before D and not reversed now (api/reports/library/w500_receivables.py says what cannot be rebuilt).
"""

from __future__ import annotations

from api.reports.query import QueryContext


def open_on(ctx: QueryContext, day: str) -> str:
    """Per invoice open on `day` by the as-of rule: invoice_id, customer_id, invoice_date, amount_open
    (never 0). What is open now (the streamed `open_invoices`, voided ones with their void day) plus the live
    payments dated after `day`, which had not been made yet then: exact for any day, and cheap for a recent
    one (a few thousand open invoices, the payments of the days since) instead of every invoice and payment."""
    later = (f"(SELECT p.invoice_id, sum(p.amount) AS later FROM {ctx.table('v_w500_payment_record')} AS p "
             f"WHERE p.status != 'reversed' AND p.payment_date > {day} GROUP BY p.invoice_id)")
    return (
        "(SELECT x.invoice_id AS invoice_id, any(x.customer_id) AS customer_id, any(x.invoice_date) AS invoice_date, "
        "sum(x.amount) AS amount_open FROM ("
        "SELECT f.invoice_id AS invoice_id, f.customer_id AS customer_id, f.invoice_date AS invoice_date, "
        f"toDecimal128(f.outstanding, 4) AS amount FROM {ctx.table('open_invoices')} AS f "
        f"WHERE f.invoice_date <= {day} AND NOT (f.voided != 0 AND f.voided_on <= {day}) UNION ALL "
        "SELECT i.invoice_id, i.customer_id, i.invoice_date, toDecimal128(l.later, 4) "
        f"FROM {ctx.table('v_w500_invoice_header')} AS i INNER JOIN {later} AS l ON l.invoice_id = i.invoice_id "
        f"WHERE i.invoice_id IN (SELECT invoice_id FROM {later}) AND i.invoice_date <= {day} "
        f"AND {not_voided_on('i', day)}) AS x GROUP BY x.invoice_id HAVING amount_open != 0)"
    )


def not_voided_on(alias: str, day: str) -> str:
    """The invoice `alias` was not voided on `day` (voided without a time: voided from the start)."""
    return (f"NOT ({alias}.status = 'voided' AND ({alias}.voided_at IS NULL "
            f"OR toDate({alias}.voided_at, 'Asia/Taipei') <= {day}))")
