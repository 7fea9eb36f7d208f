"""W700 dispatch reports: the day's dispatch runs and their stops, driver performance, route efficiency and
delivery KPIs per branch. Stop counts and km come from the streamed route/driver aggregates where they have
them; run details (numbers, vehicles, crews, times) from the current-state W700 views."""

from __future__ import annotations

from datetime import timedelta

from api.reports.definition import Chart, Column, Drill, Param, Report
from api.reports.query import QueryContext

DATE_FROM_30 = Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=29))
DATE_TO = Param("date_to", "date", "迄日", "to", default=lambda today: today)
BRANCH = Param("branch", "branch", "分公司", "branch")
DRIVER = Param("driver_id", "int", "司機編號（0：未指派）", "driver id (0: none)", minimum=0)
RANGE_DAYS = 400


def _crew(ctx: QueryContext, runs: str) -> str:
    """Per dispatch of `runs` (a subquery of dispatch ids): its drivers' and assistants' names, by employee id,
    of the assignments still standing (not reassigned), as far as the caller may see the employees."""
    names = ("arrayStringConcat(arrayMap(x -> x.2, arraySort(groupArrayIf((a.employee_id, e.name_zh), "
             "a.role = '{}'))), '、')")
    return (
        f"SELECT a.dispatch_id AS dispatch_id, {names.format('driver')} AS drivers, "
        f"{names.format('assistant')} AS assistants "
        f"FROM {ctx.table('v_w700_driver_assignment')} AS a "
        f"INNER JOIN {ctx.table('v_w110_employee_master')} AS e ON e.employee_id = a.employee_id "
        f"WHERE a.status != 'reassigned' AND a.dispatch_id IN ({runs}) GROUP BY a.dispatch_id"
    )


def _daily_dispatch(ctx: QueryContext) -> str:
    branch = f" AND branch_code = {ctx.p('branch')}" if ctx.values.get("branch") else ""
    runs = f"SELECT dispatch_id FROM {ctx.table('v_w700_dispatch_master')} WHERE dispatch_date = {ctx.p('day')}{branch}"
    return (
        "SELECT d.dispatch_id, d.dispatch_no, d.branch_code, d.vehicle_plate, d.vehicle_type, d.status, s.stops, "
        "s.delivered, s.failed, d.planned_km, d.actual_km, nullIf(w.drivers, ''), nullIf(w.assistants, ''), "
        "d.departed_at, d.returned_at "
        f"FROM {ctx.table('v_w700_dispatch_master')} AS d "
        "LEFT JOIN (SELECT dispatch_id, count() AS stops, countIf(stop_status = 'delivered') AS delivered, "
        "countIf(stop_status IN ('failed', 'skipped')) AS failed "
        f"FROM {ctx.table('v_w700_route_detail')} WHERE dispatch_id IN ({runs}) GROUP BY dispatch_id) AS s "
        "ON s.dispatch_id = d.dispatch_id "
        f"LEFT JOIN ({_crew(ctx, runs)}) AS w ON w.dispatch_id = d.dispatch_id "
        f"WHERE d.dispatch_id IN ({runs}) ORDER BY d.branch_code, d.dispatch_no"
    )


DAILY_DISPATCH = Report(
    id="daily_dispatch", group="W700", family="dispatch", title_zh="每日派車報表", title_en="Daily dispatch",
    answers="Every dispatch run of one day: vehicle, status, stops delivered and failed, km, crew and times.",
    params=(Param("day", "date", "派車日", "dispatch day", default=lambda today: today), BRANCH),
    columns=(Column("dispatch_id", "int", "派車編號", "dispatch id"),
             Column("dispatch_no", "text", "派車單號", "dispatch no"),
             Column("branch_code", "text", "分公司", "branch"),
             Column("vehicle_plate", "text", "車牌", "vehicle"), Column("vehicle_type", "text", "車型", "vehicle type"),
             Column("status", "text", "狀態", "status"), Column("stops", "int", "停靠點", "stops"),
             Column("delivered", "int", "已送達", "delivered"), Column("failed", "int", "未送達", "failed"),
             Column("planned_km", "decimal", "計畫里程", "planned km", "km"),
             Column("actual_km", "decimal", "實際里程", "actual km", "km"),
             Column("drivers", "text", "司機", "driver(s)", personal="person_name"),
             Column("assistants", "text", "助手", "assistant(s)", personal="person_name"),
             Column("departed_at", "datetime", "出車時間", "departed at"),
             Column("returned_at", "datetime", "回廠時間", "returned at")),
    sql=_daily_dispatch, source="query_time",
    how="The current dispatch runs of the day (v_w700_dispatch_master, cancelled ones too) with their stops "
        "(failed = failed or skipped) and standing crew assignments.",
    formats=("json", "csv", "xlsx", "parquet", "pdf"),
    chart=Chart("bar", "dispatch_no", ("delivered", "failed"), "各趟次送達與未送達", "Delivered and failed per run"),
    drill=(Drill("route_stops", {"dispatch_id": "dispatch_id"}, "停靠點", "stops"),),
    key=("dispatch_id",),
    borrows=("staff",),  # each run's driver
)


def _route_stops(ctx: QueryContext) -> str:
    return (
        "SELECT r.dispatch_id, r.stop_seq, r.route_stop_id, r.order_id, nullIf(o.order_no, ''), "
        "if(o.order_id = 0, NULL, o.customer_id), r.stop_status, r.planned_arrival, r.actual_arrival, "
        "if(o.order_id = 0, NULL, o.promised_to), r.distance_km, r.stop_status = 'delivered' "
        "AND r.actual_arrival IS NOT NULL AND o.order_id != 0 AND r.actual_arrival <= o.promised_to "
        f"FROM {ctx.table('v_w700_route_detail')} AS r "
        f"LEFT JOIN {ctx.table('v_w200_order_master')} AS o ON o.order_id = r.order_id "
        f"WHERE r.dispatch_id = {ctx.p('dispatch_id')} ORDER BY r.stop_seq"
    )


ROUTE_STOPS = Report(
    id="route_stops", group="W700", family="dispatch", title_zh="派車停靠點明細", title_en="Stops of a dispatch run",
    answers="The stops of one dispatch run in order: the order, planned and actual arrival, status, on time.",
    params=(Param("dispatch_id", "int", "派車編號", "dispatch id", required=True, minimum=1),),
    columns=(Column("dispatch_id", "int", "派車編號", "dispatch id"), Column("stop_seq", "int", "順序", "stop"),
             Column("route_stop_id", "int", "停靠點編號", "stop id"), Column("order_id", "int", "訂單編號", "order id"),
             Column("order_no", "text", "訂單號碼", "order no"), Column("customer_id", "int", "客戶編號", "customer"),
             Column("stop_status", "text", "狀態", "status"),
             Column("planned_arrival", "datetime", "預計到達", "planned arrival"),
             Column("actual_arrival", "datetime", "實際到達", "actual arrival"),
             Column("promised_to", "datetime", "約定送達", "promised by"),
             Column("distance_km", "decimal", "距上站里程", "km from previous stop", "km"),
             Column("on_time", "bool", "準時", "on time")),
    sql=_route_stops, source="query_time",
    how="The current stops of the run (v_w700_route_detail); on time = delivered by its order's promised_to.",
    key=("dispatch_id", "stop_seq"),
    borrows=("sales",),  # the order each stop delivers
)


def _driver_performance(ctx: QueryContext) -> str:
    branch = (f" AND g.driver_id IN (SELECT employee_id FROM {ctx.table('v_w110_employee_master')} "
              f"WHERE branch_code = {ctx.p('branch')})") if ctx.values.get("branch") else ""
    return (
        "SELECT x.driver_id, nullIf(e.employee_no, ''), nullIf(e.name_zh, ''), nullIf(e.branch_code, ''), x.runs, "
        "x.stops, x.delivered, x.on_time, if(x.delivered = 0, NULL, x.on_time / x.delivered), x.km, "
        "if(x.stops = 0, NULL, toFloat64(x.km) / x.stops) "
        "FROM (SELECT g.driver_id AS driver_id, sum(g.routes) AS runs, sum(g.stops) AS stops, "
        "sum(g.delivered) AS delivered, sum(g.on_time) AS on_time, sum(g.km) AS km "
        f"FROM {ctx.table('driver_by_day')} AS g WHERE g.day BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}"
        f"{branch} GROUP BY g.driver_id) AS x "
        f"LEFT JOIN {ctx.table('v_w110_employee_master')} AS e ON e.employee_id = x.driver_id "
        "ORDER BY x.delivered DESC, x.driver_id"
    )


DRIVER_PERFORMANCE = Report(
    id="driver_performance", group="W700", family="dispatch", title_zh="司機績效", title_en="Driver performance",
    answers="Per driver over a range: runs driven, stops, deliveries, on-time deliveries and rate, km driven.",
    params=(DATE_FROM_30, DATE_TO, BRANCH),
    columns=(Column("driver_id", "int", "司機編號", "driver id"),
             Column("employee_no", "text", "員工編號", "employee no"),
             Column("driver_name", "text", "司機姓名", "driver", personal="person_name"),
             Column("driver_branch", "text", "所屬分公司", "driver's branch"), Column("runs", "int", "趟次", "runs"),
             Column("stops", "int", "停靠點", "stops"), Column("delivered", "int", "已送達", "delivered"),
             Column("on_time", "int", "準時", "on time"), Column("on_time_rate", "rate", "準時率", "on-time rate", "%"),
             Column("km", "decimal", "實際里程", "km driven", "km"),
             Column("km_per_stop", "float", "每停靠點里程", "km per stop", "km")),
    sql=_driver_performance, source="aggregate",
    how="The streamed agg_driver_day family (driver_by_day: runs not cancelled, by the run's current driver with "
        "the lowest employee id, 0 = none); every measure is in it; on-time rate = on time / delivered.",
    max_range_days=RANGE_DAYS,
    drill=(Drill("route_efficiency", {"driver_id": "driver_id", "date_from": "@date_from", "date_to": "@date_to"},
                 "趟次", "runs"),),
    key=("driver_id",),
    borrows=("staff",),  # the drivers' names
)


def _route_efficiency(ctx: QueryContext) -> str:
    where = [f"r.day BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}"]
    if ctx.values.get("branch"):
        where.append(f"r.branch = {ctx.p('branch')}")
    if ctx.values.get("driver_id") is not None:
        where.append(f"r.driver_id = {ctx.p('driver_id')}")
    return (
        "SELECT r.day, r.dispatch_id, nullIf(d.dispatch_no, ''), r.branch, r.driver_id, r.stops, r.delivered, "
        "r.on_time, r.failed, r.on_time_rate, r.planned_km, r.actual_km, r.actual_km - r.planned_km, "
        "if(r.stops = 0, NULL, toFloat64(r.actual_km) / r.stops), "
        "if(t.dispatch_id = 0, NULL, (toUnixTimestamp(t.last_planned) - toUnixTimestamp(d.departed_at)) / 60), "
        "if(t.dispatch_id = 0, NULL, (toUnixTimestamp(t.last_actual) - toUnixTimestamp(d.departed_at)) / 60), "
        "(toUnixTimestamp(d.returned_at) - toUnixTimestamp(d.departed_at)) / 60 "
        f"FROM {ctx.table('route_by_day')} AS r "
        f"LEFT JOIN {ctx.table('v_w700_dispatch_master')} AS d ON d.dispatch_id = r.dispatch_id "
        "LEFT JOIN (SELECT dispatch_id, max(planned_arrival) AS last_planned, max(actual_arrival) AS last_actual "
        f"FROM {ctx.table('v_w700_route_detail')} WHERE dispatch_id IN (SELECT dispatch_id FROM "
        f"{ctx.table('route_by_day')} WHERE day BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}) "
        "GROUP BY dispatch_id) AS t ON t.dispatch_id = r.dispatch_id "
        f"WHERE {' AND '.join(where)} ORDER BY r.day, r.branch, r.dispatch_id"
    )


ROUTE_EFFICIENCY = Report(
    id="route_efficiency", group="W700", family="dispatch", title_zh="路線效率分析", title_en="Route efficiency",
    answers="Per dispatch run over a range: planned against actual km, km per stop, on-time rate, and the "
            "planned against actual time from departure to the last stop.",
    params=(DATE_FROM_30, DATE_TO, BRANCH, DRIVER),
    columns=(Column("day", "date", "派車日", "dispatch day"), Column("dispatch_id", "int", "派車編號", "dispatch id"),
             Column("dispatch_no", "text", "派車單號", "dispatch no"),
             Column("branch_code", "text", "分公司", "branch"),
             Column("driver_id", "int", "司機編號", "driver id"), Column("stops", "int", "停靠點", "stops"),
             Column("delivered", "int", "已送達", "delivered"), Column("on_time", "int", "準時", "on time"),
             Column("failed", "int", "未送達", "failed"),
             Column("on_time_rate", "rate", "準時率", "on-time rate", "%"),
             Column("planned_km", "decimal", "計畫里程", "planned km", "km"),
             Column("actual_km", "decimal", "實際里程", "actual km", "km"),
             Column("km_variance", "decimal", "里程差異", "actual − planned km", "km"),
             Column("km_per_stop", "float", "每停靠點里程", "km per stop", "km"),
             Column("planned_minutes", "float", "計畫時間", "planned minutes to last stop", "min"),
             Column("actual_minutes", "float", "實際時間", "actual minutes to last stop", "min"),
             Column("trip_minutes", "float", "出車至回廠", "minutes out (departed to returned)", "min")),
    sql=_route_efficiency, source="aggregate",
    how="The streamed agg_route family (route_by_day: runs not cancelled) for stops and km; the times come at "
        "query time from v_w700_dispatch_master (departed, returned) and v_w700_route_detail (last arrival).",
    max_range_days=RANGE_DAYS,
    drill=(Drill("route_stops", {"dispatch_id": "dispatch_id"}, "停靠點", "stops"),),
    key=("dispatch_id",),
)


def _delivery_kpis(ctx: QueryContext) -> str:
    branch = f" AND r.branch = {ctx.p('branch')}" if ctx.values.get("branch") else ""
    return (
        "SELECT x.branch, nullIf(b.name_zh, ''), x.runs, x.stops, x.delivered, x.on_time, x.failed, "
        "if(x.delivered = 0, NULL, x.on_time / x.delivered), if(x.stops = 0, NULL, x.failed / x.stops), "
        "if(x.runs = 0, NULL, x.stops / x.runs), x.planned_km, x.actual_km, "
        "if(x.delivered = 0, NULL, toFloat64(x.actual_km) / x.delivered) "
        "FROM (SELECT r.branch AS branch, count() AS runs, sum(r.stops) AS stops, sum(r.delivered) AS delivered, "
        "sum(r.on_time) AS on_time, sum(r.failed) AS failed, sum(r.planned_km) AS planned_km, "
        f"sum(r.actual_km) AS actual_km FROM {ctx.table('route_by_day')} AS r "
        f"WHERE r.day BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}{branch} GROUP BY r.branch) AS x "
        f"LEFT JOIN {ctx.table('v_w110_branch')} AS b ON b.branch_code = x.branch ORDER BY x.branch"
    )


DELIVERY_KPIS = Report(
    id="delivery_kpis", group="W700", family="dispatch", title_zh="配送績效指標", title_en="Delivery KPIs",
    answers="Per branch over a range: runs, deliveries, on-time and failed rates, stops per run, km per delivery.",
    params=(DATE_FROM_30, DATE_TO, BRANCH),
    columns=(Column("branch_code", "text", "分公司", "branch"),
             Column("branch_name", "text", "分公司名稱", "branch name"),
             Column("runs", "int", "趟次", "runs"), Column("stops", "int", "停靠點", "stops"),
             Column("deliveries", "int", "送達數", "deliveries"), Column("on_time", "int", "準時", "on time"),
             Column("failed", "int", "未送達", "failed"),
             Column("on_time_rate", "rate", "準時率", "on-time rate", "%"),
             Column("failed_rate", "rate", "未送達率", "failed rate", "%"),
             Column("stops_per_run", "float", "平均每趟停靠點", "stops per run"),
             Column("planned_km", "decimal", "計畫里程", "planned km", "km"),
             Column("actual_km", "decimal", "實際里程", "actual km", "km"),
             Column("km_per_delivery", "float", "每次送達里程", "km per delivery", "km")),
    sql=_delivery_kpis, source="aggregate",
    how="The streamed agg_route family (route_by_day: runs not cancelled); on-time rate = on time / delivered, "
        "failed rate = failed (or skipped) stops / stops.",
    max_range_days=RANGE_DAYS,
    drill=(Drill("route_efficiency", {"branch": "branch_code", "date_from": "@date_from", "date_to": "@date_to"},
                 "趟次", "runs"),),
    key=("branch_code",),
)

REPORTS: tuple[Report, ...] = (DAILY_DISPATCH, ROUTE_STOPS, DRIVER_PERFORMANCE, ROUTE_EFFICIENCY, DELIVERY_KPIS)
