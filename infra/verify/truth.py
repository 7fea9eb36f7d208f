"""The truth: every aggregate recomputed from the operational database with SQL, in the engine's units.

Contract: `TRUTH[family]` is one PostgreSQL query per aggregate family returning the family's key columns
then its measures, in the units the engine keeps (cents, day numbers since 1970-01-01, epoch seconds for
sales buckets, tenths of a km). The rules are those of `agents/facts.py`, written independently here so
that `make verify` compares two implementations. `%(today)s` is the Asia/Taipei business day the
receivables are aged on.
"""

from __future__ import annotations

SALES = """
WITH o AS (
  SELECT o.order_id, o.ordered_at, o.branch_code, coalesce(o.sales_employee_id::text, '') AS emp,
         coalesce(c.customer_type, '') AS ctype, coalesce(b.region, '') AS region
  FROM w200.order_master o
  LEFT JOIN w100.customer_master c USING (customer_id)
  LEFT JOIN w110.branch b ON b.branch_code = o.branch_code
  WHERE o.order_status <> 'cancelled'),
l AS (
  SELECT d.order_id, d.product_id::text AS product, coalesce(p.category_id::text, '') AS category,
         (d.line_amount * 100)::bigint AS net, (d.tax_amount * 100)::bigint AS tax, d.quantity AS qty,
         CASE WHEN p.product_type = 'gas_refill' THEN d.quantity ELSE 0 END AS cyl
  FROM w200.order_detail d LEFT JOIN w110.product_master p USING (product_id)
  WHERE d.order_id IN (SELECT order_id FROM o)),
per_order AS (
  SELECT o.order_id, o.ordered_at, o.branch_code, o.emp, o.ctype, o.region,
         coalesce(sum(l.net), 0) AS net, coalesce(sum(l.tax), 0) AS tax,
         coalesce(sum(l.qty), 0) AS qty, coalesce(sum(l.cyl), 0) AS cyl
  FROM o LEFT JOIN l USING (order_id)
  GROUP BY o.order_id, o.ordered_at, o.branch_code, o.emp, o.ctype, o.region),
cells AS (
  SELECT ordered_at, 'total' AS dim, '' AS member, net, tax, qty, cyl FROM per_order
  UNION ALL SELECT ordered_at, 'customer_type', ctype, net, tax, qty, cyl FROM per_order
  UNION ALL SELECT ordered_at, 'branch', branch_code, net, tax, qty, cyl FROM per_order
  UNION ALL SELECT ordered_at, 'region', region, net, tax, qty, cyl FROM per_order
  UNION ALL SELECT ordered_at, 'sales_employee', emp, net, tax, qty, cyl FROM per_order
  UNION ALL SELECT o.ordered_at, 'product', l.product, sum(l.net), sum(l.tax), sum(l.qty), sum(l.cyl)
            FROM l JOIN o USING (order_id) GROUP BY l.order_id, o.ordered_at, l.product
  UNION ALL SELECT o.ordered_at, 'category', l.category, sum(l.net), sum(l.tax), sum(l.qty), sum(l.cyl)
            FROM l JOIN o USING (order_id) GROUP BY l.order_id, o.ordered_at, l.category),
grains AS (SELECT unnest(ARRAY['minute', 'hour', 'day', 'month']) AS grain)
SELECT g.grain,
       extract(epoch FROM date_trunc(g.grain, c.ordered_at AT TIME ZONE 'Asia/Taipei')
                          AT TIME ZONE 'Asia/Taipei')::bigint,
       c.dim, c.member, sum(c.net)::bigint, sum(c.tax)::bigint, count(*)::bigint, sum(c.qty)::bigint,
       sum(c.cyl)::bigint
FROM cells c CROSS JOIN grains g
GROUP BY 1, 2, 3, 4
"""

FULFILMENT = """
SELECT (date(promised_to AT TIME ZONE 'Asia/Taipei') - date '1970-01-01') AS day, branch_code,
       count(*) FILTER (WHERE order_status <> 'cancelled'),
       count(*) FILTER (WHERE order_status = 'delivered'),
       count(*) FILTER (WHERE order_status = 'delivered' AND delivered_at IS NOT NULL
                        AND floor(extract(epoch FROM delivered_at)) <= floor(extract(epoch FROM promised_to))),
       count(*) FILTER (WHERE order_status = 'cancelled')
FROM w200.order_master
GROUP BY 1, 2
"""

RECEIVABLES = """
WITH p AS (SELECT invoice_id, sum((amount * 100)::bigint) AS paid FROM w500.payment_record
           WHERE status <> 'reversed' GROUP BY 1),
i AS (SELECT i.customer_id, (i.total_amount * 100)::bigint AS total, coalesce(p.paid, 0) AS paid,
             (%(today)s::date - i.invoice_date) AS age
      FROM w500.invoice_header i LEFT JOIN p USING (invoice_id) WHERE i.status <> 'voided')
SELECT customer_id, sum(total)::bigint, sum(paid)::bigint, sum(total - paid)::bigint,
       sum(CASE WHEN age <= 30 THEN total - paid ELSE 0 END)::bigint,
       sum(CASE WHEN age > 30 AND age <= 60 THEN total - paid ELSE 0 END)::bigint,
       sum(CASE WHEN age > 60 AND age <= 90 THEN total - paid ELSE 0 END)::bigint,
       sum(CASE WHEN age > 90 THEN total - paid ELSE 0 END)::bigint,
       count(*) FILTER (WHERE total - paid > 0)
FROM i GROUP BY customer_id
"""

INVOICE_OPEN = """
WITH p AS (SELECT invoice_id, sum((amount * 100)::bigint) AS paid FROM w500.payment_record
           WHERE status <> 'reversed' GROUP BY 1)
SELECT i.invoice_id, i.customer_id, i.invoice_date - date '1970-01-01', i.due_date - date '1970-01-01',
       (i.total_amount * 100)::bigint, coalesce(p.paid, 0)::bigint,
       (i.total_amount * 100)::bigint - coalesce(p.paid, 0),
       (i.status = 'voided')::int,
       CASE WHEN i.status <> 'voided' THEN 0
            WHEN i.voided_at IS NULL THEN i.invoice_date - date '1970-01-01'
            ELSE (i.voided_at AT TIME ZONE 'Asia/Taipei')::date - date '1970-01-01' END
FROM w500.invoice_header i LEFT JOIN p USING (invoice_id)
WHERE (i.total_amount * 100)::bigint <> coalesce(p.paid, 0)
"""

COLLECTIONS = """
SELECT payment_date - date '1970-01-01', sum((amount * 100)::bigint)::bigint, count(*)
FROM w500.payment_record WHERE status <> 'reversed' GROUP BY 1
"""

STOCK = """
SELECT warehouse_code, product_id, sum(qty)::bigint, sum(empty)::bigint, sum(reorder)::bigint, sum(safety)::bigint,
       sum(moves)::bigint
FROM (SELECT warehouse_code, product_id, quantity AS qty, empty_quantity AS empty, 0 AS reorder, 0 AS safety,
             1 AS moves FROM w300.stock_movement
      UNION ALL
      SELECT warehouse_code, product_id, 0, 0, reorder_point, safety_stock, 0 FROM w300.warehouse_stock) x
GROUP BY 1, 2
"""

_ROUTES = """
WITH drv AS (SELECT dispatch_id, min(employee_id) AS driver FROM w700.driver_assignment
             WHERE role = 'driver' AND status <> 'reassigned' GROUP BY 1),
s AS (SELECT r.dispatch_id, count(*) AS stops,
             count(*) FILTER (WHERE r.stop_status = 'delivered') AS delivered,
             count(*) FILTER (WHERE r.stop_status = 'delivered' AND r.actual_arrival IS NOT NULL
                              AND o.order_id IS NOT NULL
                              AND floor(extract(epoch FROM r.actual_arrival))
                                  <= floor(extract(epoch FROM o.promised_to))) AS on_time,
             count(*) FILTER (WHERE r.stop_status IN ('failed', 'skipped')) AS failed
      FROM w700.route_detail r LEFT JOIN w200.order_master o USING (order_id) GROUP BY 1),
routes AS (
  SELECT d.dispatch_date - date '1970-01-01' AS day, d.branch_code, d.dispatch_id,
         coalesce(drv.driver, 0) AS driver, coalesce(s.stops, 0) AS stops, coalesce(s.delivered, 0) AS delivered,
         coalesce(s.on_time, 0) AS on_time, coalesce(s.failed, 0) AS failed,
         (d.planned_km * 10)::bigint AS planned, coalesce((d.actual_km * 10)::bigint, 0) AS actual
  FROM w700.dispatch_master d LEFT JOIN drv USING (dispatch_id) LEFT JOIN s USING (dispatch_id)
  WHERE d.status <> 'cancelled')
"""

ROUTE = _ROUTES + "SELECT day, branch_code, dispatch_id, driver, stops, delivered, on_time, failed, planned, actual " \
                  "FROM routes"

DRIVER_DAY = _ROUTES + "SELECT day, driver, count(*), sum(stops)::bigint, sum(delivered)::bigint, " \
                       "sum(on_time)::bigint, sum(actual)::bigint FROM routes GROUP BY 1, 2"

TRUTH: dict[str, str] = {
    "sales": SALES, "fulfilment": FULFILMENT, "receivables": RECEIVABLES, "invoice_open": INVOICE_OPEN,
    "collections": COLLECTIONS,
    "stock": STOCK, "route": ROUTE, "driver_day": DRIVER_DAY,
}
