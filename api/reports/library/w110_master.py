"""W110 master-data reports: the product catalogue and price list (reference), employee performance and sales
commissions (staff), which drill to the W200 report of the orders credited to an employee.

The catalogue has no standard cost: that is w300.inventory_master, family stock, which the sales role may not
read while it reads reference data. Employee figures read orders and dispatches (families sales and dispatch):
a dispatcher, who reads staff but not sales, sees employees' sales figures through these reports.
"""

from __future__ import annotations

from datetime import timedelta

from api.reports.definition import Column, Drill, Param, Report
from api.reports.query import QueryContext

PRODUCT_TYPES = ("gas_refill", "cylinder_deposit", "new_cylinder", "appliance", "accessory", "service")
CUSTOMER_TYPES = ("household", "restaurant", "industrial")
BRANCH = Param("branch", "branch", "分公司", "branch")
DATE_FROM_30 = Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=29))
DATE_FROM_MONTH = Param("date_from", "date", "起日", "from", default=lambda today: today.replace(day=1))
DATE_TO = Param("date_to", "date", "迄日", "to", default=lambda today: today)
E_ID = Column("employee_id", "int", "員工編號", "employee id")
E_NO = Column("employee_no", "text", "員工代號", "employee no")
E_NAME = Column("employee_name", "text", "姓名", "name", personal="person_name")
E_BRANCH = Column("branch_code", "text", "分公司", "branch")
E_STATUS = Column("status", "text", "在職狀態", "status")
ORDER_DAY = "toDate(o.ordered_at, 'Asia/Taipei')"
ORDERS = Column("orders", "int", "訂單數", "orders")
NET = Column("net_sales", "money", "未稅業績", "net sales", "TWD")
# The W200 report of the orders credited to one employee (their subtotal = Σ line_amount).
TO_ORDERS = Drill("employee_orders", {"sales_employee_id": "employee_id", "date_from": "@date_from",
                                      "date_to": "@date_to", "branch": "@branch"}, "業績訂單", "credited orders")


def _in_range(ctx: QueryContext, expression: str) -> str:
    return f"{expression} BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}"


def _credited(ctx: QueryContext) -> str:
    """Per employee: orders not cancelled placed (Taipei day) in the range credited to them, and Σ line_amount."""
    return (
        "SELECT assumeNotNull(o.sales_employee_id) AS seller, count() AS orders, sum(l.net) AS net "
        f"FROM {ctx.table('v_w200_order_master')} AS o LEFT JOIN (SELECT order_id, sum(line_amount) AS net "
        f"FROM {ctx.table('v_w200_order_detail')} GROUP BY order_id) AS l ON l.order_id = o.order_id "
        "WHERE o.order_status != 'cancelled' AND o.sales_employee_id IS NOT NULL "
        f"AND {_in_range(ctx, ORDER_DAY)} GROUP BY seller"
    )


def _employee_branch(ctx: QueryContext) -> str:
    return f" AND e.branch_code = {ctx.p('branch')}" if ctx.values.get("branch") else ""


# ---------------------------------------------------------------- product_catalogue, price_list


def _product_catalogue(ctx: QueryContext) -> str:
    active = "" if ctx.values.get("include_discontinued") else " AND p.is_active"
    kind = f" AND p.product_type = {ctx.p('product_type')}" if ctx.values.get("product_type") else ""
    return (
        "SELECT p.product_id, p.sku, p.name_zh, p.name_en, k.code, k.name_zh AS category_zh, p.product_type, "
        "p.cylinder_kg, p.unit_zh, p.tax_type, p.is_active "
        f"FROM {ctx.table('v_w110_product_master')} AS p "
        f"INNER JOIN {ctx.table('v_w110_product_category')} AS k ON k.category_id = p.category_id "
        f"WHERE 1{active}{kind} ORDER BY p.sku"
    )


PRODUCT_CATALOGUE = Report(
    id="product_catalogue", group="W110", family="reference", title_zh="產品目錄", title_en="Product catalogue",
    answers="What the company sells: each product with its category, type, cylinder size, unit and tax type.",
    params=(Param("product_type", "choice", "產品類型", "product type", choices=PRODUCT_TYPES),
            Param("include_discontinued", "bool", "含停售品", "include discontinued", default=False)),
    columns=(Column("product_id", "int", "產品編號", "product id"), Column("sku", "text", "料號", "SKU"),
             Column("name_zh", "text", "品名", "name"), Column("name_en", "text", "英文品名", "English name"),
             Column("category_code", "text", "類別代號", "category code"),
             Column("category_name", "text", "類別", "category"),
             Column("product_type", "text", "產品類型", "product type"),
             Column("cylinder_kg", "decimal", "鋼瓶規格", "cylinder size", "kg"),
             Column("unit", "text", "單位", "unit"), Column("tax_type", "text", "課稅別", "tax type"),
             Column("is_active", "bool", "銷售中", "active")),
    sql=_product_catalogue, source="query_time",
    how="The current product master with its category; active products unless include_discontinued.",
    drill=(Drill("price_list", {"product_id": "product_id"}, "價格", "prices"),), key=("product_id",),
)


def _price_list(ctx: QueryContext) -> str:
    kind = f" AND pp.customer_type = {ctx.p('customer_type')}" if ctx.values.get("customer_type") else ""
    product = f" AND pp.product_id = {ctx.p('product_id')}" if ctx.values.get("product_id") else ""
    as_of = ctx.p("as_of")
    return (
        "SELECT pp.product_id, p.sku, p.name_zh, p.product_type, pp.customer_type, pp.unit_price, pp.deposit_amount, "
        "pp.effective_from, pp.effective_to, pp.price_id "
        f"FROM {ctx.table('v_w110_product_price')} AS pp "
        f"INNER JOIN {ctx.table('v_w110_product_master')} AS p ON p.product_id = pp.product_id "
        f"WHERE pp.effective_from <= {as_of} AND (pp.effective_to IS NULL OR pp.effective_to >= {as_of})"
        f"{kind}{product} ORDER BY p.sku, pp.customer_type"
    )


PRICE_LIST = Report(
    id="price_list", group="W110", family="reference", title_zh="價目表", title_en="Price list",
    answers="The price of each product for each customer type on a day (today by default).",
    params=(Param("as_of", "date", "基準日", "as of", default=lambda today: today),
            Param("customer_type", "choice", "客戶類別", "customer type", choices=CUSTOMER_TYPES),
            Param("product_id", "int", "產品編號", "product id", minimum=1)),
    columns=(Column("product_id", "int", "產品編號", "product id"), Column("sku", "text", "料號", "SKU"),
             Column("name_zh", "text", "品名", "name"), Column("product_type", "text", "產品類型", "product type"),
             Column("customer_type", "text", "客戶類別", "customer type"),
             Column("unit_price", "money", "未稅單價", "unit price before tax", "TWD"),
             Column("deposit_amount", "money", "押金", "deposit", "TWD"),
             Column("effective_from", "date", "生效日", "effective from"),
             Column("effective_to", "date", "失效日", "effective to"),
             Column("price_id", "int", "價格編號", "price id")),
    sql=_price_list, source="query_time",
    how="Price rows in force on as_of: effective_from <= as_of and (effective_to is null or effective_to >= "
        "as_of); effective_to is the last day a price applies (a new price ends the old one the day before).",
    key=("product_id", "customer_type"),
)

# ---------------------------------------------------------------- employee_performance, commission, orders


def _driving(ctx: QueryContext) -> str:
    """Per driver: dispatches not cancelled dated in the range on which they are a current (not reassigned)
    driver, and those dispatches' stops: delivered, on time (delivered by its order's promised_to), failed.
    The stop counts are the streamed route cells' (one per dispatch not cancelled, the same rules): a
    dispatch's stops are counted once, whichever of its drivers the cell is filed under."""
    return (
        "SELECT a.employee_id AS driver, count() AS dispatches, sum(s.stops) AS stops, "
        "sum(s.delivered) AS delivered, sum(s.on_time) AS on_time, sum(s.failed) AS failed "
        f"FROM (SELECT DISTINCT dispatch_id, employee_id FROM {ctx.table('v_w700_driver_assignment')} "
        "WHERE role = 'driver' AND status != 'reassigned') AS a "
        f"INNER JOIN {ctx.table('v_w700_dispatch_master')} AS m ON m.dispatch_id = a.dispatch_id "
        "LEFT JOIN (SELECT r.dispatch_id, sum(r.stops) AS stops, sum(r.delivered) AS delivered, "
        f"sum(r.on_time) AS on_time, sum(r.failed) AS failed FROM {ctx.table('route_by_day')} AS r "
        f"WHERE {_in_range(ctx, 'r.day')} GROUP BY r.dispatch_id) AS s ON s.dispatch_id = m.dispatch_id "
        f"WHERE m.status != 'cancelled' AND {_in_range(ctx, 'm.dispatch_date')} GROUP BY driver"
    )


def _employee_performance(ctx: QueryContext) -> str:
    return (
        "SELECT e.employee_id, e.employee_no, e.name_zh, e.branch_code, r.code, e.status, s.orders, s.net, "
        "d.dispatches, d.stops, d.delivered, d.on_time, d.failed, "
        "if(d.stops = 0, NULL, d.on_time / d.stops) AS on_time_rate "
        f"FROM {ctx.table('v_w110_employee_master')} AS e "
        f"LEFT JOIN {ctx.table('v_w110_employee_role')} AS r ON r.role_id = e.role_id "
        f"LEFT JOIN ({_credited(ctx)}) AS s ON s.seller = e.employee_id "
        f"LEFT JOIN ({_driving(ctx)}) AS d ON d.driver = e.employee_id "
        f"WHERE (s.orders > 0 OR d.dispatches > 0){_employee_branch(ctx)} ORDER BY e.employee_id"
    )


EMPLOYEE_PERFORMANCE = Report(
    id="employee_performance", group="W110", family="staff", title_zh="員工績效", title_en="Employee performance",
    answers="What each employee did in the range: orders credited to them and their net sales, and as a driver "
            "their dispatches, stops and on-time deliveries.",
    params=(DATE_FROM_30, DATE_TO, BRANCH),
    columns=(E_ID, E_NO, E_NAME, E_BRANCH, Column("role_code", "text", "職務", "role"), E_STATUS, ORDERS, NET,
             Column("dispatches", "int", "出車趟數", "dispatches"), Column("stops", "int", "配送站數", "stops"),
             Column("delivered_stops", "int", "送達站數", "delivered stops"),
             Column("on_time_stops", "int", "準時站數", "on-time stops"),
             Column("failed_stops", "int", "失敗站數", "failed stops"),
             Column("on_time_rate", "rate", "準時率", "on-time rate")),
    sql=_employee_performance, source="aggregate",
    how="Orders not cancelled placed in the range (Taipei days) by sales_employee_id, net = Σ line_amount; "
        "dispatches not cancelled dated in the range where the employee is a current driver; on-time rate = "
        "stops delivered by their order's promised_to / stops (0-1); employees with either in the range.",
    max_range_days=400, drill=(TO_ORDERS,), key=("employee_id",),
)


def _commission_calculation(ctx: QueryContext) -> str:
    return (
        "SELECT e.employee_id, e.employee_no, e.name_zh, e.branch_code, e.status, s.orders, s.net, e.commission_rate, "
        "round(s.net * e.commission_rate, 2) AS commission "
        f"FROM {ctx.table('v_w110_employee_master')} AS e "
        f"LEFT JOIN {ctx.table('v_w110_employee_role')} AS r ON r.role_id = e.role_id "
        f"LEFT JOIN ({_credited(ctx)}) AS s ON s.seller = e.employee_id "
        f"WHERE (r.code = 'sales' OR s.orders > 0){_employee_branch(ctx)} ORDER BY e.employee_id"
    )


COMMISSION_CALCULATION = Report(
    id="commission_calculation", group="W110", family="staff", title_zh="業務佣金計算",
    title_en="Sales commission",
    answers="What each sales employee earned in commission on the net sales credited to them in the range.",
    params=(DATE_FROM_MONTH, DATE_TO, BRANCH),
    columns=(E_ID, E_NO, E_NAME, E_BRANCH, E_STATUS, ORDERS, NET,
             Column("commission_rate", "rate", "佣金率", "commission rate"),
             Column("commission", "money", "佣金", "commission", "TWD")),
    sql=_commission_calculation, source="query_time",
    how="Net = Σ line_amount of orders not cancelled placed in the range (Taipei days) whose sales_employee_id is "
        "the employee; commission = net × the employee's current commission_rate, rounded to the cent half away "
        "from zero (exact decimals), for sales employees and any other employee credited with an order.",
    max_range_days=400, drill=(TO_ORDERS,), key=("employee_id",),
)


REPORTS: tuple[Report, ...] = (PRODUCT_CATALOGUE, PRICE_LIST, EMPLOYEE_PERFORMANCE, COMMISSION_CALCULATION)
