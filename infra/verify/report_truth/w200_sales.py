"""Truths of the W200 sales reports, from w200.order_master / order_detail and the W110/W100 masters."""

from __future__ import annotations

from datetime import timedelta

from infra.clock import SystemClock, business_day
from infra.verify.report_truth import Truth

_BRANCHES = "(%(branches)s::text[] IS NULL OR o.branch_code = ANY(%(branches)s))"
_TODAY = business_day(SystemClock().now())


def _ago(days: int) -> str:
    """A business day `days` before today (Asia/Taipei), as a query-string value: the cases follow the data."""
    return (_TODAY - timedelta(days=days)).isoformat()


# Orders taken (not cancelled) in the caller's branches, with every member an order has on an order-level
# dimension, and the lines of each order with their product-level members.
_ORDERS = f"""
    o AS (SELECT o.order_id, o.order_no, o.ordered_at, o.branch_code, o.customer_id,
                 date(o.ordered_at AT TIME ZONE 'Asia/Taipei') AS day, b.region, c.customer_type,
                 coalesce(o.sales_employee_id::text, '') AS emp
          FROM w200.order_master o JOIN w110.branch b USING (branch_code)
          JOIN w100.customer_master c USING (customer_id)
          WHERE o.order_status <> 'cancelled' AND {_BRANCHES}
            AND date(o.ordered_at AT TIME ZONE 'Asia/Taipei') BETWEEN %(date_from)s AND %(date_to)s),
    l AS (SELECT d.order_id, d.product_id::text AS product, p.category_id::text AS category, d.quantity,
                 CASE WHEN p.product_type = 'gas_refill' THEN d.quantity ELSE 0 END AS cyl,
                 d.line_amount, d.tax_amount
          FROM w200.order_detail d JOIN w110.product_master p USING (product_id))"""

_ORDER_MEMBER = """CASE %(by)s::text WHEN 'branch' THEN o.branch_code WHEN 'region' THEN o.region
                        WHEN 'customer_type' THEN o.customer_type WHEN 'sales_employee' THEN o.emp END"""
_LINE_MEMBER = "CASE %(by)s::text WHEN 'product' THEN l.product WHEN 'category' THEN l.category END"

_REVENUE_ANALYSIS = f"""
    WITH {_ORDERS},
    m AS (SELECT o.order_id, o.day, coalesce({_ORDER_MEMBER}, {_LINE_MEMBER}) AS member,
                 l.quantity, l.cyl, l.line_amount, l.tax_amount
          FROM o LEFT JOIN l USING (order_id)),
    p AS (SELECT CASE WHEN %(grain)s::text = 'month'
                      THEN greatest(date_trunc('month', day)::date, %(date_from)s::date) ELSE day END AS period_from,
                 CASE WHEN %(grain)s::text = 'month'
                      THEN least((date_trunc('month', day) + interval '1 month' - interval '1 day')::date,
                                 %(date_to)s::date) ELSE day END AS period_to, m.*
          FROM m WHERE member IS NOT NULL),
    cells AS (SELECT period_from, period_to, member, count(DISTINCT order_id) AS orders,
                     coalesce(sum(quantity), 0) AS qty, coalesce(sum(cyl), 0) AS cyl,
                     coalesce(sum(line_amount), 0) AS net, coalesce(sum(tax_amount), 0) AS tax
              FROM p GROUP BY 1, 2, 3)
    SELECT x.period_from, x.period_to, x.member,
           CASE %(by)s::text
             WHEN 'branch' THEN (SELECT b.name_zh FROM w110.branch b WHERE b.branch_code = x.member)
             WHEN 'product' THEN (SELECT p.name_zh FROM w110.product_master p WHERE p.product_id::text = x.member)
             WHEN 'category' THEN (SELECT g.name_zh FROM w110.product_category g WHERE g.category_id::text = x.member)
             WHEN 'sales_employee' THEN (SELECT e.employee_no FROM w110.employee_master e
                                         WHERE e.employee_id::text = x.member)
             WHEN 'region' THEN CASE x.member WHEN 'north' THEN '北區' WHEN 'central' THEN '中區'
                                              WHEN 'south' THEN '南區' WHEN 'east' THEN '東區' END
             ELSE CASE x.member WHEN 'household' THEN '家庭' WHEN 'restaurant' THEN '餐飲'
                                WHEN 'industrial' THEN '工業' END
           END,
           CASE WHEN %(by)s::text = 'sales_employee'
                THEN (SELECT e.name_zh FROM w110.employee_master e WHERE e.employee_id::text = x.member) END,
           x.orders, x.qty, x.cyl, x.net, x.tax, x.net + x.tax
    FROM cells x"""

_REVENUE_ORDERS = f"""
    WITH {_ORDERS}
    SELECT o.order_id, o.order_no, o.ordered_at, o.branch_code, o.customer_id, coalesce(sum(l.quantity), 0),
           coalesce(sum(l.cyl), 0), coalesce(sum(l.line_amount), 0), coalesce(sum(l.tax_amount), 0),
           coalesce(sum(l.line_amount + l.tax_amount), 0)
    FROM o LEFT JOIN l ON l.order_id = o.order_id AND coalesce({_LINE_MEMBER}, %(member)s) = %(member)s
    WHERE {_ORDER_MEMBER} = %(member)s
       OR (%(by)s::text IN ('product', 'category') AND EXISTS (
             SELECT 1 FROM l WHERE l.order_id = o.order_id AND {_LINE_MEMBER} = %(member)s))
    GROUP BY o.order_id, o.order_no, o.ordered_at, o.branch_code, o.customer_id"""

# Orders of the range in the caller's branches, optionally one branch.
_IN_RANGE = f"""
    o AS (SELECT o.* FROM w200.order_master o
          WHERE o.order_status <> 'cancelled' AND {_BRANCHES}
            AND (%(branch)s::text IS NULL OR o.branch_code = %(branch)s)
            AND date(o.ordered_at AT TIME ZONE 'Asia/Taipei') BETWEEN %(date_from)s AND %(date_to)s)"""

_PRODUCT_PERFORMANCE = f"""
    WITH {_IN_RANGE},
    x AS (SELECT d.product_id, count(DISTINCT d.order_id) AS orders, sum(d.quantity) AS qty,
                 sum(d.line_amount) AS net, sum(d.tax_amount) AS tax
          FROM w200.order_detail d JOIN o USING (order_id) GROUP BY d.product_id)
    SELECT x.product_id, p.sku, p.name_zh, g.name_zh, x.orders, x.qty,
           CASE WHEN p.product_type = 'gas_refill' THEN x.qty ELSE 0 END, x.net, x.tax, x.net + x.tax,
           x.net::float8 / nullif(sum(x.net) OVER (), 0)::float8, rank() OVER (ORDER BY x.net DESC)
    FROM x LEFT JOIN w110.product_master p USING (product_id)
    LEFT JOIN w110.product_category g ON g.category_id = p.category_id"""

_PRODUCT_ORDER_LINES = f"""
    WITH {_IN_RANGE}
    SELECT o.order_id, o.order_no, o.ordered_at, o.branch_code, o.customer_id, d.line_no, d.quantity,
           d.unit_price, d.line_amount, d.tax_amount, d.line_amount + d.tax_amount
    FROM w200.order_detail d JOIN o USING (order_id) WHERE d.product_id = %(product_id)s"""

# An employee's number, name and branch show only when the caller may see the employee (staff of its branches).
_SALES_TEAM_PERFORMANCE = f"""
    WITH {_IN_RANGE},
    x AS (SELECT sales_employee_id, count(*) AS orders, count(DISTINCT customer_id) AS customers,
                 sum(subtotal) AS net, sum(tax_amount) AS tax, sum(total_amount) AS gross
          FROM o WHERE sales_employee_id IS NOT NULL GROUP BY 1),
    e AS (SELECT * FROM w110.employee_master e
          WHERE %(branches)s::text[] IS NULL OR e.branch_code = ANY(%(branches)s))
    SELECT x.sales_employee_id, e.employee_no, e.name_zh, e.branch_code, x.orders, x.customers,
           x.net, x.tax, x.gross, x.net / x.orders
    FROM x LEFT JOIN e ON e.employee_id = x.sales_employee_id"""

_EMPLOYEE_ORDERS = f"""
    WITH {_IN_RANGE}
    SELECT order_id, order_no, ordered_at, branch_code, customer_id, channel, subtotal, tax_amount, total_amount
    FROM o WHERE sales_employee_id = %(sales_employee_id)s"""

# Fulfilment: every order by the Taipei day it was promised for (promised_to) and its branch.
_ORDER_FULFILMENT = f"""
    SELECT date(o.promised_to AT TIME ZONE 'Asia/Taipei') AS day, o.branch_code, b.name_zh,
           count(*) FILTER (WHERE o.order_status <> 'cancelled'),
           count(*) FILTER (WHERE o.order_status = 'delivered'),
           count(*) FILTER (WHERE o.order_status = 'delivered' AND o.delivered_at <= o.promised_to),
           count(*) FILTER (WHERE o.order_status = 'cancelled'),
           (count(*) FILTER (WHERE o.order_status = 'delivered' AND o.delivered_at <= o.promised_to))::float8
             / nullif(count(*) FILTER (WHERE o.order_status = 'delivered'), 0)
    FROM w200.order_master o JOIN w110.branch b USING (branch_code)
    WHERE {_BRANCHES} AND (%(branch)s::text IS NULL OR o.branch_code = %(branch)s)
      AND date(o.promised_to AT TIME ZONE 'Asia/Taipei') BETWEEN %(date_from)s AND %(date_to)s
    GROUP BY 1, 2, 3"""

_FULFILMENT_ORDERS = f"""
    SELECT o.order_id, o.order_no, o.customer_id, o.order_status, o.promised_from, o.promised_to, o.delivered_at,
           o.order_status = 'delivered' AND o.delivered_at IS NOT NULL AND o.delivered_at <= o.promised_to
    FROM w200.order_master o
    WHERE date(o.promised_to AT TIME ZONE 'Asia/Taipei') = %(day)s AND o.branch_code = %(branch)s AND {_BRANCHES}"""

TRUTHS = {
    "daily_sales": Truth(f"""
        WITH o AS (SELECT o.order_id, o.branch_code, date(o.ordered_at AT TIME ZONE 'Asia/Taipei') AS day
                   FROM w200.order_master o
                   WHERE o.order_status <> 'cancelled' AND {_BRANCHES}
                     AND (%(branch)s::text IS NULL OR o.branch_code = %(branch)s)),
        l AS (SELECT d.order_id, sum(d.quantity) AS qty,
                     sum(CASE WHEN p.product_type = 'gas_refill' THEN d.quantity ELSE 0 END) AS cyl,
                     sum(d.line_amount) AS net, sum(d.tax_amount) AS tax
              FROM w200.order_detail d JOIN w110.product_master p USING (product_id) GROUP BY d.order_id)
        SELECT o.day, o.branch_code, count(*), coalesce(sum(l.qty), 0), coalesce(sum(l.cyl), 0),
               coalesce(sum(l.net), 0), coalesce(sum(l.tax), 0), coalesce(sum(l.net + l.tax), 0)
        FROM o LEFT JOIN l USING (order_id)
        WHERE o.day BETWEEN %(date_from)s AND %(date_to)s
        GROUP BY 1, 2""", ({}, {"branch": "TPE"}, {"date_from": "2026-09-01", "date_to": "2026-12-31"})),
    "sales_orders": Truth(f"""
        SELECT o.order_id, o.order_no, o.branch_code, o.customer_id, o.channel, o.order_status, o.ordered_at,
               o.subtotal, o.tax_amount, o.total_amount
        FROM w200.order_master o
        WHERE date(o.ordered_at AT TIME ZONE 'Asia/Taipei') = %(day)s AND o.branch_code = %(branch)s
          AND o.order_status <> 'cancelled' AND {_BRANCHES}""",
                          ({"branch": "TPE", "day": _ago(1)}, {"branch": "TPE", "day": _ago(30)})),
    "order_lines": Truth("""
        SELECT d.order_id, d.line_no, d.product_id, p.sku, p.name_zh, d.quantity, d.unit_price, d.line_amount,
               d.tax_amount, d.deposit_amount
        FROM w200.order_detail d JOIN w200.order_master o USING (order_id)
        LEFT JOIN w110.product_master p USING (product_id)
        WHERE d.order_id = %(order_id)s
          AND (%(branches)s::text[] IS NULL OR o.branch_code = ANY(%(branches)s))""",
                         ({"order_id": "1"}, {"order_id": "2"})),
    "revenue_analysis": Truth(_REVENUE_ANALYSIS, (
        {}, {"grain": "day", "date_from": _ago(45), "date_to": _ago(0)},
        {"by": "product", "grain": "day", "date_from": _ago(10), "date_to": _ago(1)},
        {"by": "category"}, {"by": "region", "grain": "day"}, {"by": "customer_type"},
        {"by": "sales_employee", "date_from": _ago(60), "date_to": _ago(15)})),
    "revenue_orders": Truth(_REVENUE_ORDERS, (
        {"by": "branch", "member": "TPE", "date_from": _ago(3), "date_to": _ago(1)},
        {"by": "product", "member": "17", "date_from": _ago(5), "date_to": _ago(1)},
        {"by": "category", "member": "4"}, {"by": "region", "member": "north", "date_from": _ago(2)},
        {"by": "customer_type", "member": "industrial", "date_from": _ago(7)},
        {"by": "sales_employee", "member": "", "date_from": _ago(2), "date_to": _ago(1)},
        {"by": "sales_employee", "member": "12"})),
    "product_performance": Truth(_PRODUCT_PERFORMANCE, (
        {}, {"branch": "TPE"}, {"date_from": _ago(7), "date_to": _ago(1)})),
    "product_order_lines": Truth(_PRODUCT_ORDER_LINES, (
        {"product_id": "17", "date_from": _ago(7)}, {"product_id": "11", "branch": "TPE"})),
    "sales_team_performance": Truth(_SALES_TEAM_PERFORMANCE, ({}, {"branch": "TPE", "date_from": _ago(60)})),
    "employee_orders": Truth(_EMPLOYEE_ORDERS, ({"sales_employee_id": "12"}, {"sales_employee_id": "90"})),
    "order_fulfilment": Truth(_ORDER_FULFILMENT, ({}, {"branch": "TPE", "date_from": _ago(89)})),
    "fulfilment_orders": Truth(_FULFILMENT_ORDERS, (
        {"branch": "TPE", "day": _ago(1)}, {"branch": "TPE", "day": _ago(20)})),
}
