"""Truths of the W110 master-data reports, from w110 products, prices and employees, w200 orders and w700 dispatch.

Branch limits as the role model says: employees by their branch, orders by the order's branch, dispatches and
their stops and driver assignments by the dispatch's branch; products and prices are the same for everyone.
"""

from __future__ import annotations

from infra.verify.report_truth import Truth


def _branches(column: str) -> str:
    return f"(%(branches)s::text[] IS NULL OR {column} = ANY(%(branches)s))"


_EMPLOYEES = f"{_branches('e.branch_code')} AND (%(branch)s::text IS NULL OR e.branch_code = %(branch)s)"

# Orders not cancelled placed on the range's Taipei days, per credited employee, with the sum of their lines.
_CREDITED = f"""
    SELECT o.sales_employee_id AS employee_id, count(*) AS orders,
           coalesce(sum((SELECT sum(d.line_amount) FROM w200.order_detail d WHERE d.order_id = o.order_id)), 0)
               AS net
    FROM w200.order_master o
    WHERE o.order_status <> 'cancelled' AND o.sales_employee_id IS NOT NULL AND {_branches('o.branch_code')}
      AND (o.ordered_at AT TIME ZONE 'Asia/Taipei')::date BETWEEN %(date_from)s AND %(date_to)s
    GROUP BY o.sales_employee_id"""

TRUTHS = {
    "product_catalogue": Truth("""
        SELECT p.product_id, p.sku, p.name_zh, p.name_en, k.code, k.name_zh, p.product_type, p.cylinder_kg,
               p.unit_zh, p.tax_type, p.is_active
        FROM w110.product_master p JOIN w110.product_category k ON k.category_id = p.category_id
        WHERE (%(include_discontinued)s OR p.is_active)
          AND (%(product_type)s::text IS NULL OR p.product_type = %(product_type)s)""",
                               ({}, {"product_type": "gas_refill"}, {"include_discontinued": "true"})),
    # effective_to is inclusive: the simulator ends a replaced price on the day before the new one starts.
    "price_list": Truth("""
        SELECT pp.product_id, p.sku, p.name_zh, p.product_type, pp.customer_type, pp.unit_price, pp.deposit_amount,
               pp.effective_from, pp.effective_to, pp.price_id
        FROM w110.product_price pp JOIN w110.product_master p ON p.product_id = pp.product_id
        WHERE daterange(pp.effective_from, pp.effective_to, '[]') @> %(as_of)s::date
          AND (%(customer_type)s::text IS NULL OR pp.customer_type = %(customer_type)s)
          AND (%(product_id)s::int IS NULL OR pp.product_id = %(product_id)s)""",
                        ({}, {"as_of": "2026-09-15", "customer_type": "restaurant"}, {"product_id": "1"},
                         {"as_of": "2026-08-03"})),
    "employee_performance": Truth(f"""
        WITH s AS ({_CREDITED}),
        driven AS (SELECT DISTINCT a.dispatch_id, a.employee_id
                   FROM w700.driver_assignment a JOIN w700.dispatch_master m ON m.dispatch_id = a.dispatch_id
                   WHERE a.role = 'driver' AND a.status <> 'reassigned' AND m.status <> 'cancelled'
                     AND m.dispatch_date BETWEEN %(date_from)s AND %(date_to)s AND {_branches('m.branch_code')}),
        stops AS (SELECT r.dispatch_id, count(*) AS stops,
                         count(*) FILTER (WHERE r.stop_status = 'delivered') AS delivered,
                         count(*) FILTER (WHERE r.stop_status = 'delivered' AND r.actual_arrival <= o.promised_to)
                             AS on_time,
                         count(*) FILTER (WHERE r.stop_status = 'failed') AS failed
                  FROM w700.route_detail r
                  LEFT JOIN w200.order_master o ON o.order_id = r.order_id AND {_branches('o.branch_code')}
                  GROUP BY r.dispatch_id),
        d AS (SELECT driven.employee_id, count(*) AS dispatches, coalesce(sum(stops.stops), 0) AS stops,
                     coalesce(sum(stops.delivered), 0) AS delivered, coalesce(sum(stops.on_time), 0) AS on_time,
                     coalesce(sum(stops.failed), 0) AS failed
              FROM driven LEFT JOIN stops ON stops.dispatch_id = driven.dispatch_id GROUP BY driven.employee_id)
        SELECT e.employee_id, e.employee_no, e.name_zh, e.branch_code, r.code, e.status, coalesce(s.orders, 0),
               coalesce(s.net, 0), coalesce(d.dispatches, 0), coalesce(d.stops, 0), coalesce(d.delivered, 0),
               coalesce(d.on_time, 0), coalesce(d.failed, 0), d.on_time::float8 / nullif(d.stops, 0)
        FROM w110.employee_master e JOIN w110.employee_role r ON r.role_id = e.role_id
        LEFT JOIN s ON s.employee_id = e.employee_id LEFT JOIN d ON d.employee_id = e.employee_id
        WHERE (s.employee_id IS NOT NULL OR d.employee_id IS NOT NULL) AND {_EMPLOYEES}""",
                                  ({}, {"branch": "TPE", "date_from": "2026-09-01", "date_to": "2026-11-30"})),
    # numeric round() rounds half away from zero, as ClickHouse's round() on Decimal does.
    "commission_calculation": Truth(f"""
        WITH s AS ({_CREDITED})
        SELECT e.employee_id, e.employee_no, e.name_zh, e.branch_code, e.status, coalesce(s.orders, 0),
               coalesce(s.net, 0), e.commission_rate, round(coalesce(s.net, 0) * e.commission_rate, 2)
        FROM w110.employee_master e JOIN w110.employee_role r ON r.role_id = e.role_id
        LEFT JOIN s ON s.employee_id = e.employee_id
        WHERE (r.code = 'sales' OR s.employee_id IS NOT NULL) AND {_EMPLOYEES}""",
                                    ({}, {"date_from": "2026-11-01", "date_to": "2026-11-30"},
                                     {"date_from": "2026-09-01", "date_to": "2026-11-30", "branch": "TPE"})),
}
