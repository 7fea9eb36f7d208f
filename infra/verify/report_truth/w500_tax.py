"""Truths of the W500 tax and reconciliation reports, from w500, w100 and w600.gl_transaction.

Tax periods are the two-month VAT periods (Jan-Feb, Mar-Apr, …): a month m belongs to the period starting in
month m - ((m + 1) mod 2). The day close posts invoices as debits and receipts as credits to account 1191.
"""

from __future__ import annotations

from infra.verify.report_truth import Truth

_BRANCHES = "(%(branches)s::text[] IS NULL OR c.branch_code = ANY(%(branches)s))"
_BRANCH = "(%(branch)s::text IS NULL OR c.branch_code = %(branch)s)"


def _period_start(month: str) -> str:
    """SQL: the first day of the period holding the month of date expression `month`."""
    return (f"make_date(extract(year FROM {month})::int, "
            f"extract(month FROM {month})::int - (extract(month FROM {month})::int + 1) %% 2, 1)")


_LOW = "to_date(least(%(period)s, coalesce(%(period_to)s::text, %(period)s)), 'YYYY-MM')"
_HIGH = "to_date(greatest(%(period)s, coalesce(%(period_to)s::text, %(period)s)), 'YYYY-MM')"

TRUTHS = {
    "output_tax_summary": Truth(f"""
        WITH b AS (SELECT {_period_start(_LOW)} AS first_day,
                          ({_period_start(_HIGH)} + interval '2 month' - interval '1 day')::date AS last_day),
        d AS (SELECT invoice_id, sum(amount) FILTER (WHERE tax_amount <> 0) AS taxable,
                     sum(amount) FILTER (WHERE tax_amount = 0) AS tax_free
              FROM w500.invoice_detail GROUP BY 1),
        s AS (SELECT {_period_start('i.invoice_date')} AS ps, i.invoice_type, i.status <> 'voided' AS valid,
                     i.sales_amount, i.tax_amount, i.total_amount, coalesce(d.taxable, 0) AS taxable,
                     coalesce(d.tax_free, 0) AS tax_free
              FROM w500.invoice_header i JOIN w100.customer_master c USING (customer_id)
              LEFT JOIN d USING (invoice_id) CROSS JOIN b
              WHERE i.invoice_date BETWEEN b.first_day AND b.last_day AND {_BRANCHES} AND {_BRANCH})
        SELECT ps, (ps + interval '2 month' - interval '1 day')::date,
               format('%%s年%%s-%%s月', extract(year FROM ps)::int - 1911,
                      lpad(extract(month FROM ps)::int::text, 2, '0'),
                      lpad((extract(month FROM ps)::int + 1)::text, 2, '0')),
               invoice_type, count(*) FILTER (WHERE valid), coalesce(sum(sales_amount) FILTER (WHERE valid), 0),
               coalesce(sum(taxable) FILTER (WHERE valid), 0), coalesce(sum(tax_free) FILTER (WHERE valid), 0),
               coalesce(sum(tax_amount) FILTER (WHERE valid), 0), coalesce(sum(total_amount) FILTER (WHERE valid), 0),
               count(*) FILTER (WHERE NOT valid), coalesce(sum(sales_amount) FILTER (WHERE NOT valid), 0)
        FROM s GROUP BY ps, invoice_type""",
                                ({}, {"period": "2026-10"}, {"period": "2026-11", "branch": "TPE"},
                                 {"period": "2026-12", "period_to": "2026-09"})),
    "daily_balance_verification": Truth(f"""
        WITH s AS (
            SELECT c.branch_code, count(*) AS invoices, sum(i.total_amount) AS invoiced, 0::bigint AS payments,
                   0::numeric AS received, 0::numeric AS debit, 0::numeric AS credit
            FROM w500.invoice_header i JOIN w100.customer_master c USING (customer_id)
            WHERE i.invoice_date = %(day)s AND i.status <> 'voided' AND {_BRANCHES} GROUP BY 1
            UNION ALL
            SELECT c.branch_code, 0, 0, count(*), sum(p.amount), 0, 0
            FROM w500.payment_record p JOIN w100.customer_master c USING (customer_id)
            WHERE p.payment_date = %(day)s AND {_BRANCHES} GROUP BY 1
            UNION ALL
            SELECT coalesce(g.cost_center, ''), 0, 0, 0, 0, sum(g.debit), sum(g.credit)
            FROM w600.gl_transaction g
            WHERE g.posting_date = %(day)s AND g.source_module = 'W500' AND g.account_code = '1191'
              AND (%(branches)s::text[] IS NULL OR g.cost_center = ANY(%(branches)s)) GROUP BY 1)
        SELECT %(day)s::date, branch_code, sum(invoices), sum(invoiced), sum(payments), sum(received), sum(debit),
               sum(credit), sum(debit) - sum(invoiced), sum(credit) - sum(received),
               sum(debit) = sum(invoiced) AND sum(credit) = sum(received)
        FROM s WHERE (%(branch)s::text IS NULL OR branch_code = %(branch)s) GROUP BY branch_code""",
                                        ({}, {"day": "2026-11-15"}, {"day": "2026-09-03", "branch": "TPE"})),
}
