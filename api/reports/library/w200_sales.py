"""W200 sales reports: daily sales, revenue analysis, product and sales-team performance, order fulfilment,
and the orders and lines behind each figure."""

from __future__ import annotations

from datetime import timedelta

from fastapi import HTTPException

from api.reports.definition import Chart, Column, Drill, Param, Report
from api.reports.query import QueryContext

DATE_FROM_30 = Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=29))
DATE_TO = Param("date_to", "date", "迄日", "to", default=lambda today: today)
BRANCH = Param("branch", "branch", "分公司", "branch")


def _daily_sales(ctx: QueryContext) -> str:
    branch = f" AND member = {ctx.p('branch')}" if ctx.values.get("branch") else ""
    return (
        "SELECT toDate(bucket) AS day, member AS branch_code, sum(orders), sum(quantity), sum(cylinders), "
        "sum(net), sum(tax), sum(gross) "
        f"FROM {ctx.table('sales')} AS s WHERE grain = 'day' AND dimension = 'branch' "
        f"AND toDate(bucket) BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}{branch} "
        "GROUP BY day, branch_code ORDER BY day, branch_code"
    )


DAILY_SALES = Report(
    id="daily_sales", group="W200", family="sales", title_zh="每日銷售報表", title_en="Daily sales",
    answers="What each branch sold each day (orders placed that day, not cancelled), before and after tax.",
    params=(DATE_FROM_30, DATE_TO, BRANCH),
    columns=(Column("day", "date", "日期", "day"), Column("branch_code", "text", "分公司", "branch"),
             Column("orders", "int", "訂單數", "orders"), Column("quantity", "int", "數量", "quantity"),
             Column("cylinders", "int", "鋼瓶數", "cylinders"),
             Column("net", "money", "未稅金額", "net", "TWD"), Column("tax", "money", "營業稅", "tax", "TWD"),
             Column("gross", "money", "含稅金額", "gross", "TWD")),
    sql=_daily_sales, source="aggregate",
    how="The streamed agg_sales family (grain day, dimension branch), verified by make verify.",
    max_range_days=400, formats=("json", "csv", "xlsx", "parquet", "pdf"),
    chart=Chart("line", "day", ("gross",), "每日含稅銷售額", "Gross sales per day"),
    drill=(Drill("sales_orders", {"day": "day", "branch": "branch_code"}, "訂單", "orders"),),
    key=("day", "branch_code"),
)


def _sales_orders(ctx: QueryContext) -> str:
    return (
        "SELECT o.order_id, o.order_no, o.branch_code, o.customer_id, o.channel, o.order_status, o.ordered_at, "
        "o.subtotal, o.tax_amount, o.total_amount "
        f"FROM {ctx.table('v_w200_order_master')} AS o "
        "WHERE toDate(o.ordered_at, 'Asia/Taipei') = " + ctx.p("day") +
        f" AND o.branch_code = {ctx.p('branch')} AND o.order_status != 'cancelled' ORDER BY o.ordered_at, o.order_id"
    )


SALES_ORDERS = Report(
    id="sales_orders", group="W200", family="sales", title_zh="銷售訂單明細", title_en="Orders of a day",
    answers="The orders (not cancelled) a branch took on one day: what a daily sales figure is made of.",
    params=(Param("day", "date", "日期", "day", default=lambda today: today),
            Param("branch", "branch", "分公司", "branch", required=True)),
    columns=(Column("order_id", "int", "訂單編號", "order id"), Column("order_no", "text", "訂單號碼", "order no"),
             Column("branch_code", "text", "分公司", "branch"), Column("customer_id", "int", "客戶編號", "customer"),
             Column("channel", "text", "通路", "channel"), Column("order_status", "text", "狀態", "status"),
             Column("ordered_at", "datetime", "下單時間", "ordered at"),
             Column("subtotal", "money", "未稅金額", "net", "TWD"),
             Column("tax_amount", "money", "營業稅", "tax", "TWD"),
             Column("total_amount", "money", "含稅金額", "gross", "TWD")),
    sql=_sales_orders, source="query_time", how="The current order rows (v_w200_order_master).",
    drill=(Drill("order_lines", {"order_id": "order_id"}, "訂單明細", "lines"),),
    key=("order_id",),
)


def _order_lines(ctx: QueryContext) -> str:
    return (
        "SELECT d.order_id, d.line_no, d.product_id, p.sku, p.name_zh, d.quantity, d.unit_price, d.line_amount, "
        "d.tax_amount, d.deposit_amount "
        f"FROM {ctx.table('v_w200_order_detail')} AS d "
        f"LEFT JOIN {ctx.table('v_w110_product_master')} AS p ON p.product_id = d.product_id "
        f"WHERE d.order_id = {ctx.p('order_id')} ORDER BY d.line_no"
    )


ORDER_LINES = Report(
    id="order_lines", group="W200", family="sales", title_zh="訂單品項明細", title_en="Lines of an order",
    answers="The products, quantities and amounts of one order.",
    params=(Param("order_id", "int", "訂單編號", "order id", required=True, minimum=1),),
    columns=(Column("order_id", "int", "訂單編號", "order id"), Column("line_no", "int", "項次", "line"),
             Column("product_id", "int", "產品編號", "product id"), Column("sku", "text", "料號", "SKU"),
             Column("product_name", "text", "品名", "product"), Column("quantity", "int", "數量", "quantity"),
             Column("unit_price", "money", "單價", "unit price", "TWD"),
             Column("line_amount", "money", "未稅金額", "net", "TWD"),
             Column("tax_amount", "money", "營業稅", "tax", "TWD"),
             Column("deposit_amount", "money", "押金", "deposit", "TWD")),
    sql=_order_lines, source="query_time", how="The current order lines (v_w200_order_detail).",
    key=("order_id", "line_no"),
)


# ---------------------------------------------------------------- revenue analysis (the sales aggregate)

DIMENSIONS = ("branch", "region", "product", "category", "customer_type", "sales_employee")
BY = Param("by", "choice", "分析維度", "by", default="branch", choices=DIMENSIONS)
GRAIN = Param("grain", "choice", "期間", "grain", default="month", choices=("day", "month"))
DATE_FROM_90 = Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=89))
REGION_ZH = "transform({0}, ['north', 'central', 'south', 'east'], ['北區', '中區', '南區', '東區'], NULL)"
CUSTOMER_TYPE_ZH = "transform({0}, ['household', 'restaurant', 'industrial'], ['家庭', '餐飲', '工業'], NULL)"


def _member_labels(ctx: QueryContext, by: str) -> tuple[str, str, str]:
    """(join, member name, employee name) for the members of dimension `by`."""
    if by == "branch":
        return f"LEFT JOIN {ctx.table('v_w110_branch')} AS b ON b.branch_code = a.member", "b.name_zh", "NULL"
    if by == "product":
        return (f"LEFT JOIN {ctx.table('v_w110_product_master')} AS p ON toString(p.product_id) = a.member",
                "p.name_zh", "NULL")
    if by == "category":
        return (f"LEFT JOIN {ctx.table('v_w110_product_category')} AS g ON toString(g.category_id) = a.member",
                "g.name_zh", "NULL")
    if by == "sales_employee":
        return (f"LEFT JOIN {ctx.table('v_w110_employee_master')} AS e ON toString(e.employee_id) = a.member",
                "e.employee_no", "nullIf(e.name_zh, '')")
    return "", (REGION_ZH if by == "region" else CUSTOMER_TYPE_ZH).format("a.member"), "NULL"


def _revenue_analysis(ctx: QueryContext) -> str:
    by = ctx.values["by"]
    if by != "branch" and ctx.scope.principal.branches is not None:
        raise HTTPException(403, f"revenue by {by} is company-wide; a branch-scoped caller may analyse by branch "
                                 "(or use product_performance / sales_team_performance for its own branch)")
    start, end = ctx.p("date_from"), ctx.p("date_to")
    if ctx.values["grain"] == "month":
        period = (f"greatest(toStartOfMonth(toDate(s.bucket)), {start}) AS period_from, "
                  f"least(toLastDayOfMonth(toDate(s.bucket)), {end}) AS period_to")
    else:
        period = "toDate(s.bucket) AS period_from, toDate(s.bucket) AS period_to"
    join, name, employee = _member_labels(ctx, by)
    return (
        f"SELECT a.period_from, a.period_to, a.member, nullIf({name}, ''), {employee}, a.n, a.qty, a.cyl, "
        "a.net_, a.tax_, a.gross_ "
        f"FROM (SELECT {period}, s.member AS member, sum(s.orders) AS n, sum(s.quantity) AS qty, "
        "sum(s.cylinders) AS cyl, sum(s.net) AS net_, sum(s.tax) AS tax_, sum(s.gross) AS gross_ "
        f"FROM {ctx.table('sales')} AS s WHERE s.grain = 'day' AND s.dimension = {ctx.p('by')} "
        f"AND toDate(s.bucket) BETWEEN {start} AND {end} GROUP BY period_from, period_to, member) AS a {join} "
        "ORDER BY a.period_from, a.member"
    )


MEASURES = (Column("orders", "int", "訂單數", "orders"), Column("quantity", "int", "數量", "quantity"),
            Column("cylinders", "int", "鋼瓶數", "cylinders"), Column("net", "money", "未稅金額", "net", "TWD"),
            Column("tax", "money", "營業稅", "tax", "TWD"), Column("gross", "money", "含稅金額", "gross", "TWD"))

REVENUE_ANALYSIS = Report(
    id="revenue_analysis", group="W200", family="sales", title_zh="營收分析", title_en="Revenue analysis",
    answers="Revenue per day or month by branch, region, product, category, customer type or sales employee.",
    params=(DATE_FROM_90, DATE_TO, BY, GRAIN),
    columns=(Column("period_from", "date", "期間起", "period from"), Column("period_to", "date", "期間迄", "period to"),
             Column("member", "text", "項目代碼", "member"), Column("member_name", "text", "項目名稱", "member name"),
             Column("employee_name", "text", "業務姓名", "sales employee", personal="person_name"), *MEASURES),
    sql=_revenue_analysis, source="aggregate",
    how="The streamed agg_sales family (day cells of dimension `by`, summed per month for grain month, a month "
        "cut to the range), labelled from the W110 views; dimensions other than branch are company-wide.",
    max_range_days=400,
    drill=(Drill("revenue_orders", {"by": "@by", "member": "member", "date_from": "period_from",
                                    "date_to": "period_to"}, "訂單", "orders"),),
    key=("period_from", "member"),
)


def _member_condition(ctx: QueryContext, by: str) -> str:
    member = ctx.p("member")
    if by == "region":
        return f"o.branch_code IN (SELECT branch_code FROM {ctx.table('v_w110_branch')} WHERE region = {member})"
    if by == "customer_type":
        return (f"o.customer_id IN (SELECT customer_id FROM {ctx.table('v_w100_customer_master')} "
                f"WHERE customer_type = {member})")
    column = {"branch": "o.branch_code", "sales_employee": "ifNull(toString(o.sales_employee_id), '')",
              "product": "toString(d.product_id)", "category": "toString(p.category_id)"}[by]
    return f"{column} = {member}"


def _revenue_orders(ctx: QueryContext) -> str:
    return (
        "SELECT o.order_id, o.order_no, o.ordered_at, o.branch_code, o.customer_id, sum(d.quantity), "
        "sum(if(p.product_type = 'gas_refill', d.quantity, 0)), sum(d.line_amount), sum(d.tax_amount), "
        "sum(d.line_amount + d.tax_amount) "
        f"FROM {ctx.table('v_w200_order_master')} AS o "
        f"LEFT JOIN (SELECT * FROM {ctx.table('v_w200_order_detail')} WHERE order_id IN ({_orders_in_range(ctx)})) "
        "AS d ON d.order_id = o.order_id "
        f"LEFT JOIN {ctx.table('v_w110_product_master')} AS p ON p.product_id = d.product_id "
        f"WHERE o.order_status != 'cancelled' AND toDate(o.ordered_at, 'Asia/Taipei') BETWEEN {ctx.p('date_from')} "
        f"AND {ctx.p('date_to')} AND {_member_condition(ctx, ctx.values['by'])} "
        "GROUP BY o.order_id, o.order_no, o.ordered_at, o.branch_code, o.customer_id ORDER BY o.ordered_at, o.order_id"
    )


ORDER_HEAD = (Column("order_id", "int", "訂單編號", "order id"), Column("order_no", "text", "訂單號碼", "order no"),
              Column("ordered_at", "datetime", "下單時間", "ordered at"),
              Column("branch_code", "text", "分公司", "branch"), Column("customer_id", "int", "客戶編號", "customer"))

REVENUE_ORDERS = Report(
    id="revenue_orders", group="W200", family="sales", title_zh="營收分析訂單", title_en="Orders of a revenue figure",
    answers="The orders (not cancelled) behind one revenue-analysis cell, with that member's share of each order.",
    params=(DATE_FROM_30, DATE_TO, BY,
            Param("member", "text", "項目代碼（空白：無）", "member (empty: none)", default="")),
    columns=(*ORDER_HEAD, Column("quantity", "int", "數量", "quantity"),
             Column("cylinders", "int", "鋼瓶數", "cylinders"), Column("net", "money", "未稅金額", "net", "TWD"),
             Column("tax", "money", "營業稅", "tax", "TWD"), Column("gross", "money", "含稅金額", "gross", "TWD")),
    sql=_revenue_orders, source="query_time",
    how="The current orders and lines (v_w200_order_master/detail); for product and category only its lines.",
    max_range_days=400, key=("order_id",),
)

# ---------------------------------------------------------------- product and sales-team performance (query time)


def _orders_in_range(ctx: QueryContext) -> str:
    branch = f" AND branch_code = {ctx.p('branch')}" if ctx.values.get("branch") else ""
    return (f"SELECT order_id FROM {ctx.table('v_w200_order_master')} WHERE order_status != 'cancelled' "
            f"AND toDate(ordered_at, 'Asia/Taipei') BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}{branch}")


def _product_performance(ctx: QueryContext) -> str:
    return (
        "SELECT x.product_id, nullIf(p.sku, ''), nullIf(p.name_zh, ''), nullIf(g.name_zh, ''), x.n, x.qty, "
        "if(p.product_type = 'gas_refill', x.qty, 0), x.net_, x.tax_, x.net_ + x.tax_, "
        "if(sum(x.net_) OVER () = 0, NULL, toFloat64(x.net_) / toFloat64(sum(x.net_) OVER ())), "
        "rank() OVER (ORDER BY x.net_ DESC) "
        "FROM (SELECT d.product_id AS product_id, uniqExact(d.order_id) AS n, sum(d.quantity) AS qty, "
        "sum(d.line_amount) AS net_, sum(d.tax_amount) AS tax_ "
        f"FROM {ctx.table('v_w200_order_detail')} AS d WHERE d.order_id IN ({_orders_in_range(ctx)}) "
        "GROUP BY d.product_id) AS x "
        f"LEFT JOIN {ctx.table('v_w110_product_master')} AS p ON p.product_id = x.product_id "
        f"LEFT JOIN {ctx.table('v_w110_product_category')} AS g ON g.category_id = p.category_id "
        "ORDER BY x.net_ DESC, x.product_id"
    )


PRODUCT_PERFORMANCE = Report(
    id="product_performance", group="W200", family="sales", title_zh="產品銷售績效", title_en="Product performance",
    answers="What each product sold over a range (orders not cancelled), its share of net sales and its rank.",
    params=(DATE_FROM_30, DATE_TO, BRANCH),
    columns=(Column("product_id", "int", "產品編號", "product id"), Column("sku", "text", "料號", "SKU"),
             Column("product_name", "text", "品名", "product"), Column("category_name", "text", "類別", "category"),
             *MEASURES, Column("net_share", "rate", "未稅占比", "share of net", "%"),
             Column("net_rank", "int", "排名", "rank")),
    sql=_product_performance, source="query_time",
    how="The current order lines of orders placed in the range (v_w200_order_detail/master), so a branch sees "
        "its own products' figures; rank by net sales (ties share a rank).",
    max_range_days=400,
    drill=(Drill("product_order_lines", {"product_id": "product_id", "date_from": "@date_from",
                                         "date_to": "@date_to", "branch": "@branch"}, "訂單明細", "lines"),),
    key=("product_id",),
)


def _product_order_lines(ctx: QueryContext) -> str:
    return (
        "SELECT o.order_id, o.order_no, o.ordered_at, o.branch_code, o.customer_id, d.line_no, d.quantity, "
        "d.unit_price, d.line_amount, d.tax_amount, d.line_amount + d.tax_amount "
        f"FROM {ctx.table('v_w200_order_detail')} AS d "
        f"INNER JOIN {ctx.table('v_w200_order_master')} AS o ON o.order_id = d.order_id "
        f"WHERE d.product_id = {ctx.p('product_id')} AND d.order_id IN ({_orders_in_range(ctx)}) "
        "ORDER BY o.ordered_at, o.order_id, d.line_no"
    )


PRODUCT_ORDER_LINES = Report(
    id="product_order_lines", group="W200", family="sales", title_zh="產品銷售明細", title_en="Lines of a product",
    answers="The order lines of one product over a range (orders not cancelled): a product figure's rows.",
    params=(Param("product_id", "int", "產品編號", "product id", required=True, minimum=1), DATE_FROM_30, DATE_TO,
            BRANCH),
    columns=(*ORDER_HEAD, Column("line_no", "int", "項次", "line"), Column("quantity", "int", "數量", "quantity"),
             Column("unit_price", "money", "單價", "unit price", "TWD"),
             Column("net", "money", "未稅金額", "net", "TWD"), Column("tax", "money", "營業稅", "tax", "TWD"),
             Column("gross", "money", "含稅金額", "gross", "TWD")),
    sql=_product_order_lines, source="query_time", how="The current order lines (v_w200_order_detail/master).",
    max_range_days=400, key=("order_id", "line_no"),
)


def _sales_team_performance(ctx: QueryContext) -> str:
    return (
        "SELECT x.emp, nullIf(e.employee_no, ''), nullIf(e.name_zh, ''), nullIf(e.branch_code, ''), x.n, x.customers, "
        "x.net_, x.tax_, x.gross_, toDecimal128(x.net_, 10) / x.n "
        "FROM (SELECT assumeNotNull(o.sales_employee_id) AS emp, count() AS n, uniqExact(o.customer_id) AS customers, "
        "sum(o.subtotal) AS net_, sum(o.tax_amount) AS tax_, sum(o.total_amount) AS gross_ "
        f"FROM {ctx.table('v_w200_order_master')} AS o WHERE o.order_id IN ({_orders_in_range(ctx)}) "
        "AND o.sales_employee_id IS NOT NULL GROUP BY emp) AS x "
        f"LEFT JOIN {ctx.table('v_w110_employee_master')} AS e ON e.employee_id = x.emp "
        "ORDER BY x.net_ DESC, x.emp"
    )


SALES_TEAM_PERFORMANCE = Report(
    id="sales_team_performance", group="W200", family="sales", title_zh="業務績效", title_en="Sales team performance",
    answers="Per sales employee over a range: orders taken (not cancelled), customers served, sales and the "
            "average order; orders without a sales employee are left out.",
    params=(DATE_FROM_30, DATE_TO, BRANCH),
    columns=(Column("sales_employee_id", "int", "業務編號", "employee id"),
             Column("employee_no", "text", "員工編號", "employee no"),
             Column("employee_name", "text", "業務姓名", "sales employee", personal="person_name"),
             Column("employee_branch", "text", "所屬分公司", "employee's branch"),
             Column("orders", "int", "訂單數", "orders"), Column("customers", "int", "服務客戶數", "customers served"),
             Column("net", "money", "未稅金額", "net", "TWD"), Column("tax", "money", "營業稅", "tax", "TWD"),
             Column("gross", "money", "含稅金額", "gross", "TWD"),
             Column("avg_order_net", "money", "平均每單未稅金額", "average order (net)", "TWD")),
    sql=_sales_team_performance, source="query_time",
    how="The current orders placed in the range (v_w200_order_master, order amounts), by sales_employee_id.",
    max_range_days=400,
    drill=(Drill("employee_orders", {"sales_employee_id": "sales_employee_id", "date_from": "@date_from",
                                     "date_to": "@date_to", "branch": "@branch"}, "訂單", "orders"),),
    key=("sales_employee_id",),
    borrows=("staff",),  # the sellers' names and numbers
)


def _employee_orders(ctx: QueryContext) -> str:
    return (
        "SELECT o.order_id, o.order_no, o.ordered_at, o.branch_code, o.customer_id, o.channel, o.subtotal, "
        f"o.tax_amount, o.total_amount FROM {ctx.table('v_w200_order_master')} AS o "
        f"WHERE o.sales_employee_id = {ctx.p('sales_employee_id')} AND o.order_id IN ({_orders_in_range(ctx)}) "
        "ORDER BY o.ordered_at, o.order_id"
    )


EMPLOYEE_ORDERS = Report(
    id="employee_orders", group="W200", family="sales", title_zh="業務訂單明細", title_en="Orders of a sales employee",
    answers="The orders (not cancelled) one sales employee took over a range.",
    params=(Param("sales_employee_id", "int", "業務編號", "employee id", required=True, minimum=1), DATE_FROM_30,
            DATE_TO, BRANCH),
    columns=(*ORDER_HEAD, Column("channel", "text", "通路", "channel"),
             Column("subtotal", "money", "未稅金額", "net", "TWD"),
             Column("tax_amount", "money", "營業稅", "tax", "TWD"),
             Column("total_amount", "money", "含稅金額", "gross", "TWD")),
    sql=_employee_orders, source="query_time", how="The current order rows (v_w200_order_master).",
    max_range_days=400, key=("order_id",),
)

# ---------------------------------------------------------------- fulfilment (family fulfilment)


def _order_fulfilment(ctx: QueryContext) -> str:
    branch = f" AND f.branch = {ctx.p('branch')}" if ctx.values.get("branch") else ""
    return (
        "SELECT f.day, f.branch, nullIf(b.name_zh, ''), f.due, f.delivered, f.on_time, f.cancelled, f.on_time_rate "
        f"FROM {ctx.table('fulfilment_by_day')} AS f "
        f"LEFT JOIN {ctx.table('v_w110_branch')} AS b ON b.branch_code = f.branch "
        f"WHERE f.day BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}{branch} ORDER BY f.day, f.branch"
    )


ORDER_FULFILMENT = Report(
    id="order_fulfilment", group="W200", family="fulfilment", title_zh="訂單配送達成", title_en="Order fulfilment",
    answers="Per promised day and branch: orders due, delivered, delivered on time, cancelled, on-time rate.",
    params=(DATE_FROM_30, DATE_TO, BRANCH),
    columns=(Column("day", "date", "約定日", "promised day"), Column("branch_code", "text", "分公司", "branch"),
             Column("branch_name", "text", "分公司名稱", "branch name"), Column("due", "int", "應送", "due"),
             Column("delivered", "int", "已送達", "delivered"), Column("on_time", "int", "準時", "on time"),
             Column("cancelled", "int", "取消", "cancelled"),
             Column("on_time_rate", "rate", "準時率", "on-time rate", "%")),
    sql=_order_fulfilment, source="aggregate",
    how="The streamed agg_fulfilment family (fulfilment_by_day): by the Taipei day of promised_to; on time = "
        "delivered by promised_to; the rate is on time / delivered.",
    max_range_days=400,
    drill=(Drill("fulfilment_orders", {"day": "day", "branch": "branch_code"}, "訂單", "orders"),),
    key=("day", "branch_code"),
)


def _fulfilment_orders(ctx: QueryContext) -> str:
    return (
        "SELECT o.order_id, o.order_no, o.customer_id, o.order_status, o.promised_from, o.promised_to, "
        "o.delivered_at, o.order_status = 'delivered' AND o.delivered_at IS NOT NULL "
        "AND o.delivered_at <= o.promised_to "
        f"FROM {ctx.table('v_w200_order_master')} AS o WHERE toDate(o.promised_to, 'Asia/Taipei') = {ctx.p('day')} "
        f"AND o.branch_code = {ctx.p('branch')} ORDER BY o.promised_to, o.order_id"
    )


FULFILMENT_ORDERS = Report(
    id="fulfilment_orders", group="W200", family="fulfilment", title_zh="配送達成訂單", title_en="Orders due on a day",
    answers="The orders a branch promised for one day (cancelled ones too): what a fulfilment figure is made of.",
    params=(Param("day", "date", "約定日", "promised day", default=lambda today: today),
            Param("branch", "branch", "分公司", "branch", required=True)),
    columns=(Column("order_id", "int", "訂單編號", "order id"), Column("order_no", "text", "訂單號碼", "order no"),
             Column("customer_id", "int", "客戶編號", "customer"), Column("order_status", "text", "狀態", "status"),
             Column("promised_from", "datetime", "約定起", "promised from"),
             Column("promised_to", "datetime", "約定迄", "promised to"),
             Column("delivered_at", "datetime", "送達時間", "delivered at"),
             Column("on_time", "bool", "準時", "on time")),
    sql=_fulfilment_orders, source="query_time", how="The current order rows (v_w200_order_master).",
    key=("order_id",),
    borrows=("sales",),  # the orders due: numbers, customers, addresses
)

REPORTS: tuple[Report, ...] = (DAILY_SALES, SALES_ORDERS, ORDER_LINES, REVENUE_ANALYSIS, REVENUE_ORDERS,
                               PRODUCT_PERFORMANCE, PRODUCT_ORDER_LINES, SALES_TEAM_PERFORMANCE, EMPLOYEE_ORDERS,
                               ORDER_FULFILMENT, FULFILMENT_ORDERS)
