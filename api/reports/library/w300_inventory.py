"""W300 inventory reports: stock status, valuation, movements, turnover and shortage alerts.

Stock on hand is the streamed aggregate `stock_on_hand` (per warehouse and product: full and empty cylinders
= the sums of their movements, with the stock row's reorder point and safety stock); movements are the current
rows of v_w300_stock_movement (quantity = signed change of full stock, empty_quantity = of empties), counted on
their Asia/Taipei day. A warehouse is a branch (`branch`). Outflow = full stock leaving a warehouse by delivery
or transfer out; a product's sales out = its deliveries. Costs are the standard costs of v_w300_inventory_master.
"""

from __future__ import annotations

from datetime import date, timedelta

from api.reports.definition import Column, Drill, Param, Report
from api.reports.query import QueryContext
from infra.clock import SystemClock, business_day

MOVEMENT_TYPES = ("opening", "receipt", "delivery", "empty_return", "transfer_in", "transfer_out", "adjustment")
OUTFLOW_TYPES = ("delivery", "transfer_out")
DATE_FROM_30 = Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=29))
DATE_TO = Param("date_to", "date", "迄日", "to", default=lambda today: today)
WAREHOUSE = Param("branch", "branch", "倉庫（分公司）", "warehouse (branch)")
PRODUCT = Param("product_id", "int", "產品編號", "product id", minimum=1)
MOVEMENT_TYPE = Param("movement_type", "choice", "異動類別", "movement type", choices=MOVEMENT_TYPES)
_DAY = "toDate(m.moved_at, 'Asia/Taipei')"
_TO_MOVEMENTS = {"branch": "warehouse", "product_id": "product_id"}


def _optional(ctx: QueryContext, column: str, param: str) -> str:
    return f" AND {column} = {ctx.p(param)}" if ctx.values.get(param) is not None else ""


def _product_columns() -> tuple[Column, ...]:
    return (Column("product_id", "int", "產品編號", "product id"), Column("sku", "text", "料號", "SKU"),
            Column("product_name", "text", "品名", "product"))


def _products(ctx: QueryContext, alias: str) -> str:
    return f"LEFT JOIN {ctx.table('v_w110_product_master')} AS p ON p.product_id = {alias}.product_id"


def _stock_status(ctx: QueryContext) -> str:
    below = " AND (s.qty_full < s.reorder_point OR s.qty_full < s.safety_stock)" if ctx.values.get("only_below") else ""
    return (
        "SELECT s.warehouse, s.product_id, p.sku, p.name_zh, s.qty_full, s.qty_empty, s.reorder_point, s.safety_stock, "
        "s.qty_full < s.reorder_point, s.qty_full < s.safety_stock "
        f"FROM {ctx.table('stock_on_hand')} AS s {_products(ctx, 's')} "
        f"WHERE 1{_optional(ctx, 's.warehouse', 'branch')}{below} ORDER BY s.warehouse, s.product_id"
    )


STOCK_STATUS = Report(
    id="stock_status", group="W300", family="stock", title_zh="庫存狀況表", title_en="Stock status",
    answers="Full and empty stock of every product in every warehouse against its reorder point and safety stock.",
    params=(WAREHOUSE, Param("only_below", "bool", "只列低於再訂購點或安全存量",
                             "only below reorder point or safety stock", default=False)),
    columns=(Column("warehouse", "text", "倉庫", "warehouse"), *_product_columns(),
             Column("qty_full", "int", "實瓶／在庫量", "full (on hand)"), Column("qty_empty", "int", "空瓶", "empty"),
             Column("reorder_point", "int", "再訂購點", "reorder point"),
             Column("safety_stock", "int", "安全存量", "safety stock"),
             Column("below_reorder", "bool", "低於再訂購點", "below reorder point"),
             Column("below_safety", "bool", "低於安全存量", "below safety stock")),
    sql=_stock_status, source="aggregate",
    how="The streamed stock aggregate (stock_on_hand), verified by make verify.",
    drill=(Drill("stock_movements", _TO_MOVEMENTS, "異動", "movements"),),
    key=("warehouse", "product_id"),
)


def _valued(ctx: QueryContext) -> str:
    return (
        "SELECT s.warehouse AS warehouse, s.product_id AS product_id, s.qty_full AS qty, i.standard_cost AS cost, "
        f"s.qty_full * i.standard_cost AS value FROM {ctx.table('stock_on_hand')} AS s "
        f"INNER JOIN {ctx.table('v_w300_inventory_master')} AS i ON i.product_id = s.product_id "
        f"WHERE s.qty_full != 0{_optional(ctx, 's.warehouse', 'branch')}"
    )


def _inventory_valuation(ctx: QueryContext) -> str:
    return (f"SELECT v.warehouse, v.product_id, p.sku, p.name_zh, v.qty, v.cost, v.value FROM ({_valued(ctx)}) AS v "
            f"{_products(ctx, 'v')} ORDER BY v.warehouse, v.product_id")


INVENTORY_VALUATION = Report(
    id="inventory_valuation", group="W300", family="stock", title_zh="存貨評價表", title_en="Inventory valuation",
    answers="What the full stock of each product in each warehouse is worth at standard cost.",
    params=(WAREHOUSE,),
    columns=(Column("warehouse", "text", "倉庫", "warehouse"), *_product_columns(),
             Column("qty_full", "int", "在庫量", "on hand"),
             Column("standard_cost", "money", "標準成本", "standard cost", "TWD"),
             Column("value", "money", "存貨價值", "value", "TWD")),
    sql=_inventory_valuation, source="aggregate",
    how="Full stock of the streamed stock aggregate (stock_on_hand, products with stock) × the standard cost of "
        "v_w300_inventory_master.",
    drill=(Drill("stock_movements", _TO_MOVEMENTS, "異動", "movements"),),
    key=("warehouse", "product_id"),
)


def _valuation_by_warehouse(ctx: QueryContext) -> str:
    return (f"SELECT warehouse, count(), sum(qty), sum(value) FROM ({_valued(ctx)}) GROUP BY warehouse "
            "ORDER BY warehouse")


INVENTORY_VALUATION_BY_WAREHOUSE = Report(
    id="inventory_valuation_by_warehouse", group="W300", family="stock", title_zh="各倉庫存貨價值",
    title_en="Inventory value by warehouse",
    answers="What each warehouse's full stock is worth at standard cost, and how many products it holds.",
    params=(WAREHOUSE,),
    columns=(Column("warehouse", "text", "倉庫", "warehouse"), Column("products", "int", "品項數", "products"),
             Column("qty_full", "int", "在庫量", "on hand"), Column("value", "money", "存貨價值", "value", "TWD")),
    sql=_valuation_by_warehouse, source="aggregate",
    how="The product lines of inventory_valuation summed per warehouse.",
    drill=(Drill("inventory_valuation", {"branch": "warehouse"}, "品項", "products"),),
    key=("warehouse",),
)


def _in_range(ctx: QueryContext) -> str:
    return f"{_DAY} BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}"


def _stock_movements(ctx: QueryContext) -> str:
    return (
        "SELECT m.movement_id, m.moved_at, m.warehouse_code, m.product_id, p.sku, p.name_zh, m.movement_type, "
        "m.quantity, m.empty_quantity, m.reference_type, m.reference_id "
        f"FROM {ctx.table('v_w300_stock_movement')} AS m {_products(ctx, 'm')} WHERE {_in_range(ctx)}"
        f"{_optional(ctx, 'm.warehouse_code', 'branch')}{_optional(ctx, 'm.product_id', 'product_id')}"
        f"{_optional(ctx, 'm.movement_type', 'movement_type')} ORDER BY m.moved_at, m.movement_id"
    )


STOCK_MOVEMENTS = Report(
    id="stock_movements", group="W300", family="stock", title_zh="庫存異動明細", title_en="Stock movements",
    answers="The stock movements of a date range (a warehouse, product or type if given): what stock figures are "
            "made of.",
    params=(DATE_FROM_30, DATE_TO, WAREHOUSE, PRODUCT, MOVEMENT_TYPE),
    columns=(Column("movement_id", "int", "異動編號", "movement id"),
             Column("moved_at", "datetime", "異動時間", "moved at"),
             Column("warehouse", "text", "倉庫", "warehouse"), *_product_columns(),
             Column("movement_type", "text", "異動類別", "movement type"),
             Column("quantity", "int", "實瓶／數量異動", "full quantity change"),
             Column("empty_quantity", "int", "空瓶異動", "empty quantity change"),
             Column("reference_type", "text", "來源類別", "reference type"),
             Column("reference_id", "int", "來源編號", "reference id")),
    sql=_stock_movements, source="query_time", how="The current movement rows (v_w300_stock_movement).",
    max_range_days=400, key=("movement_id",),
)


def _movement_analysis(ctx: QueryContext) -> str:
    return (
        "SELECT x.movement_type, x.warehouse, x.product_id, p.sku, p.name_zh, x.movements, x.qty_in, x.qty_out, "
        "x.qty_in - x.qty_out, x.empty_in, x.empty_out FROM ("
        "SELECT m.movement_type AS movement_type, m.warehouse_code AS warehouse, m.product_id AS product_id, "
        "count() AS movements, sumIf(m.quantity, m.quantity > 0) AS qty_in, "
        "-sumIf(m.quantity, m.quantity < 0) AS qty_out, "
        "sumIf(m.empty_quantity, m.empty_quantity > 0) AS empty_in, "
        "-sumIf(m.empty_quantity, m.empty_quantity < 0) AS empty_out "
        f"FROM {ctx.table('v_w300_stock_movement')} AS m WHERE {_in_range(ctx)}"
        f"{_optional(ctx, 'm.warehouse_code', 'branch')}{_optional(ctx, 'm.movement_type', 'movement_type')} "
        f"GROUP BY movement_type, warehouse, product_id) AS x {_products(ctx, 'x')} "
        "ORDER BY x.movement_type, x.warehouse, x.product_id"
    )


MOVEMENT_ANALYSIS = Report(
    id="movement_analysis", group="W300", family="stock", title_zh="庫存異動分析", title_en="Movement analysis",
    answers="How many movements of each type each warehouse had per product over a date range, and the full and "
            "empty quantities they brought in and took out.",
    params=(DATE_FROM_30, DATE_TO, WAREHOUSE, MOVEMENT_TYPE),
    columns=(Column("movement_type", "text", "異動類別", "movement type"),
             Column("warehouse", "text", "倉庫", "warehouse"),
             *_product_columns(), Column("movements", "int", "筆數", "movements"),
             Column("qty_in", "int", "入庫量", "full in"), Column("qty_out", "int", "出庫量", "full out"),
             Column("qty_net", "int", "淨異動", "full net change"),
             Column("empty_in", "int", "空瓶入", "empties in"), Column("empty_out", "int", "空瓶出", "empties out")),
    sql=_movement_analysis, source="query_time",
    how="Movement rows of the range (v_w300_stock_movement): in = positive quantities, out = negative ones.",
    max_range_days=400,
    drill=(Drill("stock_movements", {**_TO_MOVEMENTS, "movement_type": "movement_type", "date_from": "@date_from",
                                     "date_to": "@date_to"}, "異動", "movements"),),
    key=("movement_type", "warehouse", "product_id"),
)


def _stock_turnover(ctx: QueryContext) -> str:
    since, until = ctx.p("date_from"), ctx.p("date_to")
    days = (ctx.values["date_to"] - ctx.values["date_from"]).days + 1
    return (
        "SELECT x.product_id, p.sku, p.name_zh, x.opening, x.closing, x.qty_out, "
        "(x.opening + x.closing) / 2 AS avg_stock, "
        "if(avg_stock = 0, NULL, x.qty_out / avg_stock), "
        f"if(x.qty_out = 0, NULL, x.closing * {ctx.bind('range_days', days, 'Int64')} / x.qty_out) FROM ("
        f"SELECT m.product_id AS product_id, sumIf(m.quantity, {_DAY} < {since}) AS opening, "
        "sum(m.quantity) AS closing, "
        f"-sumIf(m.quantity, m.movement_type = 'delivery' AND {_DAY} >= {since}) AS qty_out "
        f"FROM {ctx.table('v_w300_stock_movement')} AS m WHERE {_DAY} <= {until}"
        f"{_optional(ctx, 'm.warehouse_code', 'branch')} GROUP BY product_id) AS x {_products(ctx, 'x')} "
        "ORDER BY x.product_id"
    )


STOCK_TURNOVER = Report(
    id="stock_turnover", group="W300", family="stock", title_zh="存貨週轉分析", title_en="Stock turnover",
    answers="How many times each product's average full stock was sold (delivered) over a date range, and how many "
            "days its closing stock covers at that pace.",
    params=(DATE_FROM_30, DATE_TO, WAREHOUSE),
    columns=(*_product_columns(), Column("opening_stock", "int", "期初存量", "opening stock"),
             Column("closing_stock", "int", "期末存量", "closing stock"),
             Column("qty_out", "int", "銷貨出庫量", "delivered"),
             Column("average_stock", "float", "平均存量", "average stock"),
             Column("turnover", "float", "週轉次數", "turnover (times)"),
             Column("days_of_cover", "float", "可供應天數", "days of cover", "days")),
    sql=_stock_turnover, source="query_time",
    how="Movement rows (v_w300_stock_movement): opening = full stock moved in before date_from, closing = through "
        "date_to, average = (opening + closing) / 2, turnover = deliveries / average, days of cover = closing / "
        "(deliveries per day of the range).",
    max_range_days=400,
    drill=(Drill("stock_movements", {"product_id": "product_id", "branch": "@branch", "date_from": "@date_from",
                                     "date_to": "@date_to"}, "異動", "movements"),),
    key=("product_id",),
)


def _today(ctx: QueryContext) -> date:
    return ctx.today if ctx.today is not None else business_day(SystemClock().now())


def _shortage_alerts(ctx: QueryContext) -> str:
    today, days = _today(ctx), int(ctx.values["days"])
    window_from = ctx.bind("window_from", today - timedelta(days=days), "Date32")
    window_to = ctx.bind("window_to", today - timedelta(days=1), "Date32")
    outflow = ctx.bind("outflow_types", list(OUTFLOW_TYPES), "Array(String)")
    return (
        "SELECT s.warehouse, s.product_id, p.sku, p.name_zh, s.qty_full, s.reorder_point, s.safety_stock, "
        "s.qty_full < s.reorder_point AS under_reorder, s.qty_full < s.safety_stock AS under_safety, "
        f"ifNull(o.outflow, 0) AS out_qty, out_qty / {ctx.p('days')}, "
        f"if(out_qty = 0, NULL, s.qty_full * {ctx.p('days')} / out_qty), i.lead_time_days "
        f"FROM {ctx.table('stock_on_hand')} AS s "
        "LEFT JOIN (SELECT m.warehouse_code AS warehouse, m.product_id AS product_id, -sum(m.quantity) AS outflow "
        f"FROM {ctx.table('v_w300_stock_movement')} AS m WHERE m.movement_type IN {outflow} "
        f"AND {_DAY} BETWEEN {window_from} AND {window_to} GROUP BY warehouse, product_id) AS o "
        "ON o.warehouse = s.warehouse AND o.product_id = s.product_id "
        f"LEFT JOIN {ctx.table('v_w300_inventory_master')} AS i ON i.product_id = s.product_id {_products(ctx, 's')} "
        f"WHERE (under_reorder OR under_safety OR (out_qty > 0 AND s.qty_full * {ctx.p('days')} "
        f"< {ctx.p('cover_days')} * out_qty))"
        f"{_optional(ctx, 's.warehouse', 'branch')} ORDER BY s.warehouse, s.product_id"
    )


SHORTAGE_ALERTS = Report(
    id="shortage_alerts", group="W300", family="stock", title_zh="缺貨警示", title_en="Shortage alerts",
    answers="Which products in which warehouses are below their reorder point or safety stock, or will run out "
            "within cover_days at the pace of the last days.",
    params=(WAREHOUSE,
            Param("days", "int", "平均出庫天數", "days of outflow averaged (ending yesterday)", default=30,
                  minimum=1, maximum=365),
            Param("cover_days", "int", "可供應天數低於", "alert when days of cover is below", default=7,
                  minimum=0, maximum=365)),
    columns=(Column("warehouse", "text", "倉庫", "warehouse"), *_product_columns(),
             Column("qty_full", "int", "在庫量", "on hand"),
             Column("reorder_point", "int", "再訂購點", "reorder point"),
             Column("safety_stock", "int", "安全存量", "safety stock"),
             Column("below_reorder", "bool", "低於再訂購點", "below reorder point"),
             Column("below_safety", "bool", "低於安全存量", "below safety stock"),
             Column("outflow", "int", "期間出庫量", "outflow over the days"),
             Column("average_daily_outflow", "float", "日均出庫量", "average daily outflow"),
             Column("days_of_cover", "float", "可供應天數", "days of cover", "days"),
             Column("lead_time_days", "int", "前置天數", "lead time", "days")),
    sql=_shortage_alerts, source="aggregate",
    how="Stock on hand of the streamed aggregate (stock_on_hand); outflow = deliveries and transfers out of the "
        "`days` full days before today (v_w300_stock_movement); days of cover = on hand / outflow per day.",
    drill=(Drill("stock_movements", _TO_MOVEMENTS, "異動", "movements"),),
    key=("warehouse", "product_id"),
)

REPORTS: tuple[Report, ...] = (STOCK_STATUS, INVENTORY_VALUATION_BY_WAREHOUSE, INVENTORY_VALUATION, STOCK_MOVEMENTS,
                               MOVEMENT_ANALYSIS, STOCK_TURNOVER, SHORTAGE_ALERTS)
