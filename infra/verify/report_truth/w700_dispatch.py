"""Truths of the W700 dispatch reports, from w700.dispatch_master / route_detail / driver_assignment."""

from __future__ import annotations

from datetime import timedelta

from infra.clock import SystemClock, business_day
from infra.verify.report_truth import Truth

_BRANCHES = "(%(branches)s::text[] IS NULL OR d.branch_code = ANY(%(branches)s))"
_TODAY = business_day(SystemClock().now())


def _ago(days: int) -> str:
    """A business day `days` before today (Asia/Taipei), as a query-string value: the cases follow the data."""
    return (_TODAY - timedelta(days=days)).isoformat()


# Employees the caller may see (the staff of its branches): names of others stay out.
_EMPLOYEES = """e AS (SELECT * FROM w110.employee_master e
                      WHERE %(branches)s::text[] IS NULL OR e.branch_code = ANY(%(branches)s))"""

# Every run that is not cancelled, with its driver (the lowest employee id among the standing driver
# assignments, 0 for none) and its stop counts; a stop is on time when delivered by its order's promised_to.
_RUNS = """
    drv AS (SELECT dispatch_id, min(employee_id) AS driver_id FROM w700.driver_assignment
            WHERE role = 'driver' AND status <> 'reassigned' GROUP BY dispatch_id),
    st AS (SELECT r.dispatch_id, count(*) AS stops, count(*) FILTER (WHERE r.stop_status = 'delivered') AS delivered,
                  count(*) FILTER (WHERE r.stop_status = 'delivered' AND r.actual_arrival <= o.promised_to) AS on_time,
                  count(*) FILTER (WHERE r.stop_status IN ('failed', 'skipped')) AS failed,
                  max(r.planned_arrival) AS last_planned, max(r.actual_arrival) AS last_actual
           FROM w700.route_detail r LEFT JOIN w200.order_master o USING (order_id) GROUP BY r.dispatch_id),
    runs AS (SELECT d.dispatch_id, d.dispatch_no, d.dispatch_date AS day, d.branch_code,
                    coalesce(drv.driver_id, 0) AS driver_id, coalesce(st.stops, 0) AS stops,
                    coalesce(st.delivered, 0) AS delivered, coalesce(st.on_time, 0) AS on_time,
                    coalesce(st.failed, 0) AS failed, d.planned_km, coalesce(d.actual_km, 0) AS actual_km,
                    d.departed_at, d.returned_at, st.last_planned, st.last_actual
             FROM w700.dispatch_master d LEFT JOIN drv USING (dispatch_id) LEFT JOIN st USING (dispatch_id)
             WHERE d.status <> 'cancelled' AND d.dispatch_date BETWEEN %(date_from)s AND %(date_to)s)"""


def _minutes(later: str, earlier: str) -> str:
    return f"(floor(extract(epoch FROM {later})) - floor(extract(epoch FROM {earlier})))::float8 / 60"


_DAILY_DISPATCH = f"""
    WITH {_EMPLOYEES},
    crew AS (SELECT a.dispatch_id,
                    string_agg(e.name_zh, '、' ORDER BY a.employee_id) FILTER (WHERE a.role = 'driver') AS drivers,
                    string_agg(e.name_zh, '、' ORDER BY a.employee_id) FILTER (WHERE a.role = 'assistant') AS assistants
             FROM w700.driver_assignment a JOIN e USING (employee_id)
             WHERE a.status <> 'reassigned' GROUP BY a.dispatch_id),
    st AS (SELECT dispatch_id, count(*) AS stops, count(*) FILTER (WHERE stop_status = 'delivered') AS delivered,
                  count(*) FILTER (WHERE stop_status IN ('failed', 'skipped')) AS failed
           FROM w700.route_detail GROUP BY dispatch_id)
    SELECT d.dispatch_id, d.dispatch_no, d.branch_code, d.vehicle_plate, d.vehicle_type, d.status,
           coalesce(st.stops, 0), coalesce(st.delivered, 0), coalesce(st.failed, 0), d.planned_km, d.actual_km,
           crew.drivers, crew.assistants, d.departed_at, d.returned_at
    FROM w700.dispatch_master d LEFT JOIN st USING (dispatch_id) LEFT JOIN crew USING (dispatch_id)
    WHERE d.dispatch_date = %(day)s AND {_BRANCHES} AND (%(branch)s::text IS NULL OR d.branch_code = %(branch)s)"""

_ROUTE_STOPS = f"""
    SELECT r.dispatch_id, r.stop_seq, r.route_stop_id, r.order_id, o.order_no, o.customer_id, r.stop_status,
           r.planned_arrival, r.actual_arrival, o.promised_to, r.distance_km,
           r.stop_status = 'delivered' AND r.actual_arrival IS NOT NULL AND o.order_id IS NOT NULL
             AND r.actual_arrival <= o.promised_to
    FROM w700.route_detail r JOIN w700.dispatch_master d USING (dispatch_id)
    LEFT JOIN (SELECT * FROM w200.order_master o
               WHERE %(branches)s::text[] IS NULL OR o.branch_code = ANY(%(branches)s)) o USING (order_id)
    WHERE r.dispatch_id = %(dispatch_id)s AND {_BRANCHES}"""

# A driver's figures are seen by the callers who see the driver (an employee of their branches).
_DRIVER_PERFORMANCE = f"""
    WITH {_EMPLOYEES}, {_RUNS},
    x AS (SELECT driver_id, count(*) AS runs, sum(stops) AS stops, sum(delivered) AS delivered,
                 sum(on_time) AS on_time, sum(actual_km) AS km
          FROM runs GROUP BY driver_id)
    SELECT x.driver_id, e.employee_no, e.name_zh, e.branch_code, x.runs, x.stops, x.delivered, x.on_time,
           x.on_time::float8 / nullif(x.delivered, 0), x.km, x.km::float8 / nullif(x.stops, 0)
    FROM x LEFT JOIN e ON e.employee_id = x.driver_id
    WHERE (%(branches)s::text[] IS NULL OR e.employee_id IS NOT NULL)
      AND (%(branch)s::text IS NULL OR e.branch_code = %(branch)s)"""

_ROUTE_EFFICIENCY = f"""
    WITH {_RUNS}
    SELECT day, dispatch_id, dispatch_no, branch_code, driver_id, stops, delivered, on_time, failed,
           on_time::float8 / nullif(delivered, 0), planned_km, actual_km, actual_km - planned_km,
           actual_km::float8 / nullif(stops, 0), {_minutes('last_planned', 'departed_at')},
           {_minutes('last_actual', 'departed_at')}, {_minutes('returned_at', 'departed_at')}
    FROM runs d
    WHERE {_BRANCHES} AND (%(branch)s::text IS NULL OR branch_code = %(branch)s)
      AND (%(driver_id)s::bigint IS NULL OR driver_id = %(driver_id)s)"""

_DELIVERY_KPIS = f"""
    WITH {_RUNS},
    x AS (SELECT branch_code, count(*) AS runs, sum(stops) AS stops, sum(delivered) AS delivered,
                 sum(on_time) AS on_time, sum(failed) AS failed, sum(planned_km) AS planned_km,
                 sum(actual_km) AS actual_km
          FROM runs d WHERE {_BRANCHES} AND (%(branch)s::text IS NULL OR d.branch_code = %(branch)s)
          GROUP BY branch_code)
    SELECT x.branch_code, b.name_zh, x.runs, x.stops, x.delivered, x.on_time, x.failed,
           x.on_time::float8 / nullif(x.delivered, 0), x.failed::float8 / nullif(x.stops, 0),
           x.stops::float8 / nullif(x.runs, 0), x.planned_km, x.actual_km, x.actual_km::float8 / nullif(x.delivered, 0)
    FROM x JOIN w110.branch b USING (branch_code)"""

TRUTHS = {
    "daily_dispatch": Truth(_DAILY_DISPATCH, ({"day": _ago(1)}, {"day": _ago(30), "branch": "TPE"})),
    "route_stops": Truth(_ROUTE_STOPS, ({"dispatch_id": "1"}, {"dispatch_id": "91"}, {"dispatch_id": "99"})),
    "driver_performance": Truth(_DRIVER_PERFORMANCE, ({}, {"branch": "TPE", "date_from": _ago(89)})),
    "route_efficiency": Truth(_ROUTE_EFFICIENCY, (
        {"date_from": _ago(3), "date_to": _ago(1)}, {"branch": "TPE", "date_from": _ago(10)},
        {"driver_id": "10", "date_from": _ago(60)})),
    "delivery_kpis": Truth(_DELIVERY_KPIS, ({}, {"branch": "TPE", "date_from": _ago(89), "date_to": _ago(1)})),
}
