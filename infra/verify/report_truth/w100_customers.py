"""Truths of the W100 customer reports, from w100 customers, w200 orders and w500 invoices and payments.

Each table a report reads is limited to the caller's branches as the role model says: customers by their branch,
orders by the order's branch, invoices and payments by their customer's branch.
"""

from __future__ import annotations

from infra.verify.report_truth import Truth


def _branches(column: str) -> str:
    return f"(%(branches)s::text[] IS NULL OR {column} = ANY(%(branches)s))"


_ACTIVE = "(%(include_inactive)s OR c.status NOT IN ('closed', 'blacklisted'))"
_BRANCH = "(%(branch)s::text IS NULL OR c.branch_code = %(branch)s)"
_CUSTOMERS = f"{_ACTIVE} AND {_branches('c.branch_code')}"
_DAY = "(o.ordered_at AT TIME ZONE 'Asia/Taipei')::date"
_IN_RANGE = f"{_DAY} BETWEEN %(date_from)s AND %(date_to)s"

# Open amount of every invoice not voided: its total less its payments that were not reversed.
_OPEN = """
    SELECT i.invoice_id, i.invoice_no, i.customer_id, i.invoice_date, i.due_date, i.status, i.total_amount,
           coalesce((SELECT sum(pr.amount) FROM w500.payment_record pr
                     WHERE pr.invoice_id = i.invoice_id AND pr.status <> 'reversed'), 0) AS paid,
           %(today)s::date - i.invoice_date AS age
    FROM w500.invoice_header i WHERE i.status <> 'voided'"""

TRUTHS = {
    "customer_profile": Truth(f"""
        SELECT c.customer_id, c.customer_code, c.name_zh, c.branch_code, c.company_name_zh, c.customer_type, c.status,
               c.credit_terms_days, c.credit_limit, c.sales_employee_id, c.loyalty_points, c.registered_on,
               k.name_zh, k.mobile, a.city_zh, a.district_zh, a.address_zh, c.tax_id
        FROM w100.customer_master c
        LEFT JOIN (SELECT DISTINCT ON (customer_id) customer_id, name_zh, mobile FROM w100.customer_contact
                   WHERE is_primary ORDER BY customer_id, contact_id) k ON k.customer_id = c.customer_id
        LEFT JOIN (SELECT DISTINCT ON (customer_id) customer_id, city_zh, district_zh, address_zh
                   FROM w100.customer_address WHERE is_primary AND address_type = 'delivery'
                   ORDER BY customer_id, address_id) a ON a.customer_id = c.customer_id
        WHERE {_CUSTOMERS} AND {_BRANCH}
          AND (%(customer_type)s::text IS NULL OR c.customer_type = %(customer_type)s)""",
                              ({}, {"branch": "TPE", "customer_type": "restaurant"},
                               {"customer_type": "industrial", "include_inactive": "true"})),
    "customer_aging": Truth(f"""
        WITH v AS ({_OPEN}),
        a AS (SELECT customer_id, sum(total_amount - paid) AS outstanding,
                     coalesce(sum(total_amount - paid) FILTER (WHERE age <= 30), 0) AS b1,
                     coalesce(sum(total_amount - paid) FILTER (WHERE age BETWEEN 31 AND 60), 0) AS b2,
                     coalesce(sum(total_amount - paid) FILTER (WHERE age BETWEEN 61 AND 90), 0) AS b3,
                     coalesce(sum(total_amount - paid) FILTER (WHERE age > 90), 0) AS b4,
                     count(*) FILTER (WHERE total_amount - paid > 0) AS open_count
              FROM v GROUP BY customer_id)
        SELECT c.customer_id, c.customer_code, c.name_zh, c.branch_code, c.credit_terms_days, c.credit_limit,
               a.outstanding, a.b1, a.b2, a.b3, a.b4, a.open_count
        FROM a JOIN w100.customer_master c ON c.customer_id = a.customer_id
        WHERE a.outstanding <> 0 AND {_CUSTOMERS} AND {_BRANCH}""", ({}, {"branch": "TPE"})),
    "customer_invoices": Truth(f"""
        SELECT v.invoice_id, v.invoice_no, v.customer_id, v.invoice_date, v.due_date, v.status, v.total_amount,
               v.paid, v.total_amount - v.paid, v.age,
               CASE WHEN v.age > 90 THEN '>90' WHEN v.age > 60 THEN '61-90' WHEN v.age > 30 THEN '31-60'
                    ELSE '0-30' END
        FROM ({_OPEN}) v JOIN w100.customer_master c ON c.customer_id = v.customer_id
        WHERE v.customer_id = %(customer_id)s AND v.total_amount <> v.paid AND {_CUSTOMERS}""",
                               ({"customer_id": "11070"}, {"customer_id": "30033"}, {"customer_id": "34441"})),
    "service_history": Truth(f"""
        SELECT o.order_id, o.order_no, o.ordered_at, o.channel, o.order_status, o.promised_from, o.promised_to,
               o.delivered_at,
               CASE WHEN o.order_status = 'cancelled' THEN 'cancelled' WHEN o.delivered_at IS NULL THEN 'open'
                    WHEN o.delivered_at > o.promised_to THEN 'late' ELSE 'on_time' END,
               o.cancel_reason, o.total_amount
        FROM w200.order_master o JOIN w100.customer_master c ON c.customer_id = o.customer_id
        WHERE o.customer_id = %(customer_id)s AND {_IN_RANGE} AND {_branches('o.branch_code')} AND {_CUSTOMERS}""",
                             ({"customer_id": "31410"},
                              {"customer_id": "13344", "date_from": "2026-09-01", "date_to": "2026-12-01"})),
    "payment_history": Truth(f"""
        SELECT pr.payment_id, pr.payment_date, pr.received_at, pr.invoice_id, iv.invoice_no, pr.amount, pr.method,
               pr.status
        FROM w500.payment_record pr JOIN w100.customer_master c ON c.customer_id = pr.customer_id
        LEFT JOIN (SELECT i.invoice_id, i.invoice_no FROM w500.invoice_header i
                   JOIN w100.customer_master ic ON ic.customer_id = i.customer_id
                   WHERE {_branches('ic.branch_code')}) iv ON iv.invoice_id = pr.invoice_id
        WHERE pr.customer_id = %(customer_id)s AND pr.payment_date BETWEEN %(date_from)s AND %(date_to)s
          AND {_CUSTOMERS}""",
                             ({"customer_id": "40827"},
                              {"customer_id": "19635", "date_from": "2026-10-01", "date_to": "2026-11-30"})),
    # Mean interval recomputed as the average of the gaps between consecutive refill orders (LAG).
    "usage_patterns": Truth(f"""
        WITH r AS (SELECT o.customer_id, o.order_id, o.ordered_at, {_DAY} AS day, sum(d.quantity) AS cylinders
                   FROM w200.order_master o JOIN w200.order_detail d ON d.order_id = o.order_id
                   JOIN w110.product_master p ON p.product_id = d.product_id
                   WHERE p.product_type = 'gas_refill' AND o.order_status <> 'cancelled' AND {_IN_RANGE}
                     AND {_branches('o.branch_code')}
                   GROUP BY o.customer_id, o.order_id, o.ordered_at),
        g AS (SELECT r.*, day - lag(day) OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS gap
              FROM r),
        u AS (SELECT customer_id, count(*) AS n, sum(cylinders) AS cylinders, min(day) AS first_day,
                     max(day) AS last_day, avg(gap) AS mean_gap
              FROM g GROUP BY customer_id),
        e AS (SELECT u.*, u.last_day + round(u.mean_gap)::int AS expected FROM u)
        SELECT c.customer_id, c.customer_code, c.name_zh, c.branch_code, c.customer_type, e.n, e.cylinders,
               e.first_day, e.last_day, e.mean_gap::float8, e.expected,
               CASE WHEN e.expected IS NOT NULL THEN greatest(0, %(date_to)s::date - e.expected) END
        FROM e JOIN w100.customer_master c ON c.customer_id = e.customer_id
        WHERE {_CUSTOMERS} AND {_BRANCH}
          AND (NOT %(overdue_only)s OR %(date_to)s::date - e.expected > 0)""",
                            ({}, {"overdue_only": "true", "branch": "TPE"},
                             {"date_from": "2026-10-01", "date_to": "2026-11-15"})),
    "loyalty_programme": Truth(f"""
        SELECT c.customer_id, c.customer_code, c.name_zh, c.branch_code, c.customer_type, c.loyalty_points,
               CASE WHEN c.loyalty_points >= 10000 THEN '金' WHEN c.loyalty_points >= 3000 THEN '銀'
                    WHEN c.loyalty_points >= 1000 THEN '銅' ELSE '一般' END,
               coalesce(s.orders, 0), coalesce(s.net, 0), s.last_day
        FROM w100.customer_master c
        LEFT JOIN (SELECT o.customer_id, count(*) AS orders, sum(o.subtotal) AS net, max({_DAY}) AS last_day
                   FROM w200.order_master o
                   WHERE o.order_status <> 'cancelled' AND {_IN_RANGE} AND {_branches('o.branch_code')}
                   GROUP BY o.customer_id) s ON s.customer_id = c.customer_id
        WHERE {_CUSTOMERS} AND {_BRANCH} AND c.loyalty_points >= %(min_points)s""",
                               ({"branch": "TPE"}, {"date_from": "2026-11-01", "date_to": "2026-11-30"})),
    "customer_satisfaction": Truth(f"""
        WITH s AS (SELECT o.customer_id, count(*) AS orders,
                          count(*) FILTER (WHERE o.order_status <> 'cancelled' AND o.delivered_at IS NOT NULL)
                              AS delivered,
                          count(*) FILTER (WHERE o.order_status <> 'cancelled' AND o.delivered_at <= o.promised_to)
                              AS on_time,
                          count(*) FILTER (WHERE o.order_status <> 'cancelled' AND o.delivered_at > o.promised_to)
                              AS late,
                          count(*) FILTER (WHERE o.order_status = 'cancelled') AS cancelled,
                          count(*) FILTER (WHERE o.order_status = 'cancelled'
                                           AND o.cancel_reason IN ('客戶取消', '已向他處購買')) AS complaints
                   FROM w200.order_master o WHERE {_IN_RANGE} AND {_branches('o.branch_code')}
                   GROUP BY o.customer_id)
        SELECT c.customer_id, c.customer_code, c.name_zh, c.branch_code, s.orders, s.delivered, s.on_time, s.late,
               s.cancelled, s.complaints, s.on_time::float8 / nullif(s.delivered, 0)
        FROM s JOIN w100.customer_master c ON c.customer_id = s.customer_id
        WHERE {_CUSTOMERS} AND {_BRANCH}""",
                                   ({}, {"branch": "TPE", "date_from": "2026-11-01", "date_to": "2026-11-30"})),
}
