"""Truths of the W300 inventory reports, from w300.warehouse_stock, stock_movement, inventory_master and
w110.product_master.

Stock on hand is taken from the stock rows (warehouse_stock.qty_full / qty_empty, which the operational system
keeps equal to the sums of the movements), not from the movements the streamed aggregate adds up; a movement's
day is its Asia/Taipei date.
"""

from __future__ import annotations

from infra.verify.report_truth import Truth

_SCOPE = ("(%(branches)s::text[] IS NULL OR {a}.warehouse_code = ANY(%(branches)s)) "
          "AND (%(branch)s::text IS NULL OR {a}.warehouse_code = %(branch)s)")
_S, _M = _SCOPE.format(a="s"), _SCOPE.format(a="m")
_DAY = "(m.moved_at AT TIME ZONE 'Asia/Taipei')::date"
_VALUED = f"""
    SELECT s.warehouse_code, s.product_id, s.qty_full, i.standard_cost, s.qty_full * i.standard_cost AS value
    FROM w300.warehouse_stock s JOIN w300.inventory_master i USING (product_id)
    WHERE s.qty_full <> 0 AND {_S}"""
_RANGES: tuple[dict[str, str], ...] = ({}, {"date_from": "2026-10-01", "date_to": "2026-10-31", "branch": "TPE"},
           {"date_from": "2026-09-01", "date_to": "2026-12-01"})

TRUTHS = {
    "stock_status": Truth(f"""
        SELECT s.warehouse_code, s.product_id, p.sku, p.name_zh, s.qty_full, s.qty_empty, s.reorder_point,
               s.safety_stock, s.qty_full < s.reorder_point, s.qty_full < s.safety_stock
        FROM w300.warehouse_stock s LEFT JOIN w110.product_master p USING (product_id)
        WHERE {_S} AND (NOT %(only_below)s OR s.qty_full < s.reorder_point OR s.qty_full < s.safety_stock)""",
                          ({}, {"branch": "TPE"})),
    "inventory_valuation": Truth(f"""
        SELECT v.warehouse_code, v.product_id, p.sku, p.name_zh, v.qty_full, v.standard_cost, v.value
        FROM ({_VALUED}) v LEFT JOIN w110.product_master p USING (product_id)""", ({}, {"branch": "TPE"})),
    "inventory_valuation_by_warehouse": Truth(f"""
        SELECT warehouse_code, count(*), sum(qty_full), sum(value) FROM ({_VALUED}) v GROUP BY 1""",
                                              ({}, {"branch": "TPE"})),
    "stock_movements": Truth(f"""
        SELECT m.movement_id, m.moved_at, m.warehouse_code, m.product_id, p.sku, p.name_zh, m.movement_type,
               m.quantity, m.empty_quantity, m.reference_type, m.reference_id
        FROM w300.stock_movement m LEFT JOIN w110.product_master p USING (product_id)
        WHERE {_DAY} BETWEEN %(date_from)s AND %(date_to)s AND {_M}
          AND (%(product_id)s::integer IS NULL OR m.product_id = %(product_id)s)
          AND (%(movement_type)s::text IS NULL OR m.movement_type = %(movement_type)s)""",
                             ({"branch": "TPE"}, {"product_id": "15", "date_from": "2026-09-01"},
                              {"movement_type": "receipt", "branch": "TPE", "date_from": "2026-11-01",
                               "date_to": "2026-11-30"})),
    "movement_analysis": Truth(f"""
        SELECT m.movement_type, m.warehouse_code, m.product_id, p.sku, p.name_zh, count(*),
               coalesce(sum(m.quantity) FILTER (WHERE m.quantity > 0), 0),
               coalesce(-sum(m.quantity) FILTER (WHERE m.quantity < 0), 0), sum(m.quantity),
               coalesce(sum(m.empty_quantity) FILTER (WHERE m.empty_quantity > 0), 0),
               coalesce(-sum(m.empty_quantity) FILTER (WHERE m.empty_quantity < 0), 0)
        FROM w300.stock_movement m LEFT JOIN w110.product_master p USING (product_id)
        WHERE {_DAY} BETWEEN %(date_from)s AND %(date_to)s AND {_M}
          AND (%(movement_type)s::text IS NULL OR m.movement_type = %(movement_type)s)
        GROUP BY 1, 2, 3, 4, 5""", (*_RANGES, {"movement_type": "delivery", "date_from": "2026-11-15"})),
    "stock_turnover": Truth(f"""
        WITH x AS (
            SELECT m.product_id,
                   coalesce(sum(m.quantity) FILTER (WHERE {_DAY} < %(date_from)s), 0) AS opening,
                   sum(m.quantity) AS closing,
                   coalesce(-sum(m.quantity) FILTER (WHERE m.movement_type = 'delivery' AND {_DAY} >= %(date_from)s),
                            0) AS delivered
            FROM w300.stock_movement m
            WHERE {_DAY} <= %(date_to)s AND {_M}
            GROUP BY 1)
        SELECT x.product_id, p.sku, p.name_zh, x.opening, x.closing, x.delivered, (x.opening + x.closing) / 2.0,
               x.delivered / nullif((x.opening + x.closing) / 2.0, 0),
               x.closing * (%(date_to)s - %(date_from)s + 1)::numeric / nullif(x.delivered, 0)
        FROM x LEFT JOIN w110.product_master p USING (product_id)""", _RANGES),
    "shortage_alerts": Truth(f"""
        WITH o AS (
            SELECT m.warehouse_code, m.product_id, -sum(m.quantity) AS outflow
            FROM w300.stock_movement m
            WHERE m.movement_type IN ('delivery', 'transfer_out')
              AND {_DAY} BETWEEN %(today)s - %(days)s AND %(today)s - 1
            GROUP BY 1, 2),
        s AS (
            SELECT s.warehouse_code, s.product_id, s.qty_full, s.reorder_point, s.safety_stock,
                   coalesce(o.outflow, 0) AS outflow, i.lead_time_days
            FROM w300.warehouse_stock s LEFT JOIN o USING (warehouse_code, product_id)
            LEFT JOIN w300.inventory_master i USING (product_id)
            WHERE {_S})
        SELECT s.warehouse_code, s.product_id, p.sku, p.name_zh, s.qty_full, s.reorder_point, s.safety_stock,
               s.qty_full < s.reorder_point, s.qty_full < s.safety_stock, s.outflow,
               s.outflow::numeric / %(days)s, s.qty_full::numeric * %(days)s / nullif(s.outflow, 0), s.lead_time_days
        FROM s LEFT JOIN w110.product_master p USING (product_id)
        WHERE s.qty_full < s.reorder_point OR s.qty_full < s.safety_stock
           OR (s.outflow > 0 AND s.qty_full::numeric * %(days)s / s.outflow < %(cover_days)s)""",
                             ({"cover_days": "16"}, {"cover_days": "20", "days": "14", "branch": "TPE"},
                              {"cover_days": "30", "days": "60"})),
}
