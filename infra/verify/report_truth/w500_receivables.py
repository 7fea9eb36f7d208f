"""Truths of the W500 receivables reports, from w500.invoice_header / payment_record and w100.customer_master.

The rules (from the module docstring of `api.reports.library.w500_receivables`, written again here): live
payments are those not reversed; an invoice owes its total less its live payments; as of a day D an invoice
counts when dated by D and not voided by D (voided_at's Taipei date <= D, or voided without a date), a payment
when dated by D and not reversed; the branch is the customer's.
"""

from __future__ import annotations

from infra.verify.report_truth import Truth

_BRANCHES = "(%(branches)s::text[] IS NULL OR c.branch_code = ANY(%(branches)s))"
_BRANCH = "(%(branch)s::text IS NULL OR c.branch_code = %(branch)s)"
_ACTIVE = "(%(include_inactive)s OR c.status NOT IN ('closed', 'blacklisted'))"
_LIVE = "SELECT invoice_id, sum(amount) AS paid FROM w500.payment_record WHERE status <> 'reversed'"
_ON_AS_OF = ("i.invoice_date <= %(as_of)s AND NOT (i.status = 'voided' AND (i.voided_at IS NULL "
             "OR (i.voided_at AT TIME ZONE 'Asia/Taipei')::date <= %(as_of)s))")
_OWED = f"""
    p AS ({_LIVE} GROUP BY 1),
    r AS (SELECT i.customer_id, sum(i.total_amount) AS invoiced, sum(coalesce(p.paid, 0)) AS paid,
                 sum(i.total_amount - coalesce(p.paid, 0)) AS outstanding,
                 count(*) FILTER (WHERE i.total_amount - coalesce(p.paid, 0) > 0) AS open_invoices,
                 min(i.invoice_date) FILTER (WHERE i.total_amount - coalesce(p.paid, 0) > 0) AS oldest_open,
                 min(i.due_date) FILTER (WHERE i.total_amount - coalesce(p.paid, 0) > 0) AS earliest_due
          FROM w500.invoice_header i LEFT JOIN p USING (invoice_id) WHERE i.status <> 'voided' GROUP BY 1)"""


def _bucket(column: str) -> str:
    return f"CASE WHEN %(grain)s = 'month' THEN date_trunc('month', {column})::date ELSE {column} END"


_INVOICE = ("h.invoice_id, h.invoice_no, h.invoice_date, h.status AS invoice_status, h.total_amount, h.paid_amount, "
            "h.live")
_PAYMENT = "m.payment_id, m.payment_date, m.amount, m.status, m.amount"

TRUTHS = {
    "ar_aging": Truth(f"""
        WITH p AS ({_LIVE} AND payment_date <= %(as_of)s GROUP BY 1),
        o AS (SELECT i.customer_id, i.total_amount - coalesce(p.paid, 0) AS owed,
                     %(as_of)s::date - i.invoice_date AS age
              FROM w500.invoice_header i LEFT JOIN p USING (invoice_id) WHERE {_ON_AS_OF})
        SELECT c.customer_id, c.customer_code, c.name_zh, c.branch_code,
               coalesce(sum(owed) FILTER (WHERE age <= 30), 0),
               coalesce(sum(owed) FILTER (WHERE age BETWEEN 31 AND 60), 0),
               coalesce(sum(owed) FILTER (WHERE age BETWEEN 61 AND 90), 0),
               coalesce(sum(owed) FILTER (WHERE age > 90), 0),
               sum(owed), count(*) FILTER (WHERE owed > 0)
        FROM o JOIN w100.customer_master c USING (customer_id)
        WHERE o.owed <> 0 AND {_BRANCHES} AND {_BRANCH} AND {_ACTIVE}
        GROUP BY 1, 2, 3, 4""", ({}, {"as_of": "2026-10-31"}, {"as_of": "2026-11-15", "branch": "TPE"},
                                  {"as_of": "2026-09-30", "include_inactive": "true"})),
    "invoice_payments": Truth(f"""
        WITH p AS ({_LIVE} AND payment_date <= %(as_of)s GROUP BY 1)
        SELECT i.invoice_id, i.invoice_no, i.invoice_date, i.due_date, %(as_of)s::date - i.invoice_date, i.total_amount,
               coalesce(p.paid, 0), i.total_amount - coalesce(p.paid, 0), m.payment_id, m.payment_date, m.amount,
               m.method, m.status
        FROM w500.invoice_header i JOIN w100.customer_master c USING (customer_id) LEFT JOIN p USING (invoice_id)
        LEFT JOIN w500.payment_record m ON m.invoice_id = i.invoice_id
             AND m.status <> 'reversed' AND m.payment_date <= %(as_of)s
        WHERE i.customer_id = %(customer_id)s AND {_ON_AS_OF} AND {_BRANCHES}
          AND (NOT %(open_only)s OR i.total_amount - coalesce(p.paid, 0) <> 0)""",
                              ({"customer_id": "11633"}, {"customer_id": "11633", "as_of": "2026-10-15",
                                                          "open_only": "false"},
                               {"customer_id": "46537", "as_of": "2026-11-01"})),
    "collection_performance": Truth(f"""
        WITH s AS (
            SELECT {_bucket('i.invoice_date')} AS b, count(*) AS invoices, sum(i.total_amount) AS invoiced,
                   0::bigint AS payments, 0::numeric AS collected, 0::numeric AS weighted
            FROM w500.invoice_header i JOIN w100.customer_master c USING (customer_id)
            WHERE i.invoice_date BETWEEN %(date_from)s AND %(date_to)s AND i.status <> 'voided' AND {_BRANCHES}
              AND {_BRANCH} GROUP BY 1
            UNION ALL
            SELECT {_bucket('p.payment_date')}, 0, 0, count(*), sum(p.amount),
                   sum(p.amount * (p.payment_date - h.invoice_date))
            FROM w500.payment_record p JOIN w500.invoice_header h USING (invoice_id)
            JOIN w100.customer_master c ON c.customer_id = p.customer_id
            WHERE p.payment_date BETWEEN %(date_from)s AND %(date_to)s AND p.status <> 'reversed' AND {_BRANCHES}
              AND {_BRANCH} GROUP BY 1)
        SELECT greatest(b, %(date_from)s),
               least(CASE WHEN %(grain)s = 'month' THEN (b + interval '1 month' - interval '1 day')::date ELSE b END,
                     %(date_to)s),
               sum(invoices), sum(invoiced), sum(payments), sum(collected),
               sum(collected)::float8 / nullif(sum(invoiced), 0)::float8,
               sum(weighted)::float8 / nullif(sum(collected), 0)::float8
        FROM s GROUP BY b""", ({}, {"grain": "day", "date_from": "2026-11-01", "date_to": "2026-11-30"},
                                {"date_from": "2026-09-01", "date_to": "2026-12-31", "branch": "TPE"})),
    "period_invoices": Truth(f"""
        SELECT i.invoice_id, i.invoice_no, i.invoice_date, i.due_date, i.customer_id, c.branch_code, i.invoice_type,
               i.buyer_tax_id, i.status, i.sales_amount, i.tax_amount, i.total_amount, i.paid_amount, i.voided_at
        FROM w500.invoice_header i JOIN w100.customer_master c USING (customer_id)
        WHERE i.invoice_date BETWEEN %(date_from)s AND %(date_to)s AND {_BRANCHES} AND {_BRANCH}
          AND (%(invoice_type)s = 'all' OR i.invoice_type = %(invoice_type)s)
          AND (%(include_voided)s OR i.status <> 'voided')""",
                             ({"date_from": "2026-11-20", "date_to": "2026-11-22"},
                              {"date_from": "2026-10-01", "date_to": "2026-10-31", "invoice_type": "B2B",
                               "branch": "TPE", "include_voided": "true"})),
    "period_payments": Truth(f"""
        SELECT p.payment_id, p.payment_date, p.received_at, p.customer_id, c.branch_code, p.invoice_id, h.invoice_no,
               h.invoice_date, p.payment_date - h.invoice_date, p.amount, p.method, p.status, p.bank_reference
        FROM w500.payment_record p JOIN w500.invoice_header h USING (invoice_id)
        JOIN w100.customer_master c ON c.customer_id = p.customer_id
        WHERE p.payment_date BETWEEN %(date_from)s AND %(date_to)s AND {_BRANCHES} AND {_BRANCH}""",
                             ({"date_from": "2026-11-20", "date_to": "2026-11-22"},
                              {"date_from": "2026-10-01", "date_to": "2026-10-31", "branch": "TPE"})),
    "outstanding_balances": Truth(f"""
        WITH {_OWED}
        SELECT r.customer_id, c.customer_code, c.name_zh, c.branch_code, r.invoiced, r.paid, r.outstanding,
               r.open_invoices, r.oldest_open, r.earliest_due,
               CASE WHEN r.earliest_due IS NOT NULL THEN greatest(%(today)s::date - r.earliest_due, 0) END
        FROM r JOIN w100.customer_master c USING (customer_id)
        WHERE (%(include_settled)s OR r.outstanding <> 0 OR r.open_invoices > 0) AND {_BRANCHES} AND {_BRANCH}
          AND {_ACTIVE}""", ({}, {"branch": "TPE"}, {"include_settled": "true", "include_inactive": "true"})),
    "credit_analysis": Truth(f"""
        WITH {_OWED}
        SELECT c.customer_id, c.customer_code, c.name_zh, c.branch_code, c.customer_type, c.credit_terms_days,
               c.credit_limit, coalesce(r.outstanding, 0), c.credit_limit - coalesce(r.outstanding, 0),
               coalesce(r.outstanding, 0)::float8 / nullif(c.credit_limit, 0)::float8,
               c.credit_limit > 0 AND coalesce(r.outstanding, 0) > c.credit_limit
        FROM w100.customer_master c LEFT JOIN r USING (customer_id)
        WHERE (%(include_all)s OR c.credit_limit > 0 OR coalesce(r.outstanding, 0) > 0) AND {_BRANCHES} AND {_BRANCH}
          AND {_ACTIVE}""", ({}, {"branch": "TPE"}, {"include_all": "true"})),
    "receivable_exceptions": Truth(f"""
        WITH p AS ({_LIVE} GROUP BY 1),
        h AS (SELECT i.*, coalesce(p.paid, 0) AS live FROM w500.invoice_header i LEFT JOIN p USING (invoice_id)),
        e AS (
            SELECT 'paid_amount_mismatch' AS exception, h.customer_id, {_INVOICE}, NULL::bigint AS payment_id,
                   NULL::date AS payment_date, NULL::numeric AS payment_amount, NULL::text AS payment_status,
                   h.paid_amount - h.live AS difference
            FROM h WHERE h.invoice_date BETWEEN %(date_from)s AND %(date_to)s AND h.paid_amount <> h.live
            UNION ALL
            SELECT 'overpaid', h.customer_id, {_INVOICE}, NULL, NULL, NULL, NULL, h.live - h.total_amount
            FROM h WHERE h.invoice_date BETWEEN %(date_from)s AND %(date_to)s AND h.status <> 'voided'
              AND h.live > h.total_amount
            UNION ALL
            SELECT 'bounced_payment', m.customer_id, {_INVOICE}, {_PAYMENT}
            FROM w500.payment_record m JOIN h USING (invoice_id)
            WHERE m.payment_date BETWEEN %(date_from)s AND %(date_to)s AND m.status = 'bounced'
            UNION ALL
            SELECT 'payment_on_voided', m.customer_id, {_INVOICE}, {_PAYMENT}
            FROM w500.payment_record m JOIN h USING (invoice_id)
            WHERE m.payment_date BETWEEN %(date_from)s AND %(date_to)s AND m.status <> 'reversed'
              AND h.status = 'voided')
        SELECT e.exception, e.invoice_id, e.invoice_no, e.invoice_date, e.customer_id, c.branch_code, e.invoice_status,
               e.total_amount, e.paid_amount, e.live, e.payment_id, e.payment_date, e.payment_amount, e.payment_status,
               e.difference
        FROM e JOIN w100.customer_master c ON c.customer_id = e.customer_id WHERE {_BRANCHES} AND {_BRANCH}""",
                                   ({}, {"date_from": "2026-09-01", "date_to": "2026-12-31", "branch": "TPE"})),
}
