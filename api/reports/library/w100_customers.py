"""W100 customer reports: the customer list, aging and open invoices, service and payment history, refill cycles,
loyalty and delivery satisfaction.

Families follow what the reports read (every role that may run one may read each table it reads): the list is
`customers`; aging and open invoices `receivables`; payments `collections`; the order-based ones `sales`
(orders are family sales, which a dispatcher does not read). Each per-customer list leaves closed and
blacklisted customers out unless `include_inactive` (ctx.customer_status); the drills pass it on.
Business days are Asia/Taipei days; "today" is the caller's business day.
"""

from __future__ import annotations

from datetime import timedelta

from api.reports.definition import Column, Drill, Param, Report
from api.reports.query import QueryContext

INCLUDE_INACTIVE = Param("include_inactive", "bool", "含停用客戶", "include closed/blacklisted", default=False)
BRANCH = Param("branch", "branch", "分公司", "branch")
CUSTOMER_ID = Param("customer_id", "int", "客戶編號", "customer id", required=True, minimum=1)
DATE_FROM_90 = Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=89))
DATE_FROM_365 = Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=364))
DATE_TO = Param("date_to", "date", "迄日", "to", default=lambda today: today)
CUSTOMER_TYPES = ("household", "restaurant", "industrial")
# Cancellations whose reason is the customer turning away (not an address or duplicate-entry error).
COMPLAINT_REASONS = ("客戶取消", "已向他處購買")
# Loyalty tiers by points: 金 >= 10000, 銀 >= 3000, 銅 >= 1000, 一般 below.
TIERS = ((10_000, "金"), (3_000, "銀"), (1_000, "銅"))
BASE_TIER = "一般"

C_ID = Column("customer_id", "int", "客戶編號", "customer id")
C_CODE = Column("customer_code", "text", "客戶代號", "customer code")
C_NAME = Column("customer_name", "text", "客戶名稱", "customer name", personal="person_name")
C_BRANCH = Column("branch_code", "text", "分公司", "branch")
C_TYPE = Column("customer_type", "text", "客戶類別", "customer type")
TO_HISTORY = Drill("service_history", {"customer_id": "customer_id", "date_from": "@date_from", "date_to": "@date_to",
                                       "include_inactive": "@include_inactive"}, "服務紀錄", "service history")
CUSTOMER = "c.customer_id, c.customer_code, c.name_zh, c.branch_code"


def taipei_today(ctx: QueryContext) -> str:
    """The caller's business day as a bound value (ClickHouse's Taipei day when the runner gave none)."""
    return "toDate(now(), 'Asia/Taipei')" if ctx.today is None else ctx.bind("today", ctx.today, "Date32")


def _customers(ctx: QueryContext) -> str:
    """The customer master as alias c (as a FROM or JOIN item)."""
    return f"{ctx.table('v_w100_customer_master')} AS c"


def _where_customer(ctx: QueryContext) -> str:
    """What every customer list keeps: closed and blacklisted only when asked for, the branch when given."""
    condition = ctx.customer_status("c")
    if ctx.values.get("branch"):
        condition += f" AND c.branch_code = {ctx.p('branch')}"
    return condition


def _order_day(alias: str = "o") -> str:
    return f"toDate({alias}.ordered_at, 'Asia/Taipei')"


def _in_range(ctx: QueryContext, expression: str) -> str:
    return f"{expression} BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}"


# ---------------------------------------------------------------- customer_profile


def _customer_profile(ctx: QueryContext) -> str:
    kind = f" AND c.customer_type = {ctx.p('customer_type')}" if ctx.values.get("customer_type") else ""
    return (
        f"SELECT {CUSTOMER}, c.company_name_zh, c.customer_type, c.status, c.credit_terms_days, c.credit_limit, "
        "c.sales_employee_id, c.loyalty_points, c.registered_on, k.contact_name, k.contact_mobile, "
        "a.delivery_city, a.delivery_district, a.delivery_address, c.tax_id "
        f"FROM {_customers(ctx)} "
        "LEFT JOIN (SELECT customer_id, toNullable(name_zh) AS contact_name, mobile AS contact_mobile "
        f"FROM {ctx.table('v_w100_customer_contact')} WHERE is_primary "
        "ORDER BY customer_id, contact_id LIMIT 1 BY customer_id) AS k ON k.customer_id = c.customer_id "
        "LEFT JOIN (SELECT customer_id, toNullable(city_zh) AS delivery_city, toNullable(district_zh) AS "
        "delivery_district, toNullable(address_zh) AS delivery_address "
        f"FROM {ctx.table('v_w100_customer_address')} WHERE is_primary AND address_type = 'delivery' "
        "ORDER BY customer_id, address_id LIMIT 1 BY customer_id) AS a ON a.customer_id = c.customer_id "
        f"WHERE {_where_customer(ctx)}{kind} ORDER BY c.customer_id"
    )


CUSTOMER_PROFILE = Report(
    id="customer_profile", group="W100", family="customers", title_zh="客戶基本資料表", title_en="Customer profile",
    answers="Who the customers are: type, branch, status, credit, sales rep, loyalty, primary contact and address.",
    params=(BRANCH, Param("customer_type", "choice", "客戶類別", "customer type", choices=CUSTOMER_TYPES),
            INCLUDE_INACTIVE),
    columns=(C_ID, C_CODE, C_NAME, C_BRANCH, Column("company_name", "text", "公司名稱", "company name"),
             C_TYPE, Column("status", "text", "狀態", "status"),
             Column("credit_terms_days", "int", "付款天數", "credit terms", "days"),
             Column("credit_limit", "money", "信用額度", "credit limit", "TWD"),
             Column("sales_employee_id", "int", "業務員編號", "sales rep id"),
             Column("loyalty_points", "int", "會員點數", "loyalty points"),
             Column("registered_on", "date", "建檔日", "registered on"),
             Column("contact_name", "text", "主要聯絡人", "primary contact", personal="person_name"),
             Column("contact_mobile", "text", "聯絡人手機", "contact mobile", personal="phone"),
             Column("delivery_city", "text", "縣市", "city"), Column("delivery_district", "text", "區", "district"),
             Column("delivery_address", "text", "送貨地址", "delivery address", personal="address"),
             Column("tax_id", "text", "統一編號", "tax id", personal="tax_id")),
    sql=_customer_profile, source="query_time",
    how="The current customer master with its primary contact and primary delivery address (the lowest id when "
        "several are primary); closed and blacklisted customers only with include_inactive.",
    drill=(Drill("service_history", {"customer_id": "customer_id", "include_inactive": "@include_inactive"},
                 "服務紀錄", "service history"),),
    key=("customer_id",),
)

# ---------------------------------------------------------------- customer_aging → customer_invoices

AGING_COLUMNS = (Column("outstanding", "money", "未收餘額", "outstanding", "TWD"),
                 Column("age_0_30", "money", "0-30天", "0-30 days", "TWD"),
                 Column("age_31_60", "money", "31-60天", "31-60 days", "TWD"),
                 Column("age_61_90", "money", "61-90天", "61-90 days", "TWD"),
                 Column("age_over_90", "money", "90天以上", "over 90 days", "TWD"),
                 Column("open_invoices", "int", "未結發票數", "open invoices"))


def _customer_aging(ctx: QueryContext) -> str:
    return (
        f"SELECT {CUSTOMER}, c.credit_terms_days, c.credit_limit, r.outstanding, r.age_0_30, r.age_31_60, "
        "r.age_61_90, r.age_over_90, r.open_invoices "
        f"FROM {ctx.table('receivables_by_customer')} AS r "
        f"INNER JOIN {_customers(ctx)} ON c.customer_id = r.customer_id "
        f"WHERE r.outstanding != 0 AND {_where_customer(ctx)} ORDER BY r.outstanding DESC, c.customer_id"
    )


CUSTOMER_AGING = Report(
    id="customer_aging", group="W100", family="receivables", title_zh="客戶帳齡分析", title_en="Customer aging",
    answers="What each customer still owes, split by the age of the invoices (days since the invoice date).",
    params=(BRANCH, INCLUDE_INACTIVE),
    columns=(C_ID, C_CODE, C_NAME, C_BRANCH, Column("credit_terms_days", "int", "付款天數", "credit terms", "days"),
             Column("credit_limit", "money", "信用額度", "credit limit", "TWD"), *AGING_COLUMNS),
    sql=_customer_aging, source="aggregate",
    how="The streamed receivables aggregate (invoices not voided less payments not reversed, aged by days since "
        "the invoice date as of today), customers with a balance other than zero.",
    drill=(Drill("customer_invoices", {"customer_id": "customer_id", "include_inactive": "@include_inactive"},
                 "發票", "invoices"),),
    key=("customer_id",),
)


def _customer_invoices(ctx: QueryContext) -> str:
    customer, today = ctx.p("customer_id"), taipei_today(ctx)
    unsettled = (f"(SELECT * FROM {ctx.table('open_invoices')} AS u "
                 f"WHERE u.customer_id = {customer} AND u.voided = 0)")
    return (
        "SELECT f.invoice_id, i.invoice_no, f.customer_id, f.invoice_date, f.due_date, i.status, f.total, f.paid, "
        f"f.outstanding, dateDiff('day', f.invoice_date, {today}) AS age_days, "
        "multiIf(age_days <= 30, '0-30', age_days <= 60, '31-60', age_days <= 90, '61-90', '>90') AS age_bucket "
        f"FROM {unsettled} AS f INNER JOIN {_customers(ctx)} ON c.customer_id = f.customer_id "
        f"INNER JOIN (SELECT v.invoice_id, v.invoice_no, v.status FROM {ctx.table('v_w500_invoice_header')} AS v "
        f"WHERE v.invoice_id IN (SELECT invoice_id FROM {unsettled})) AS i ON i.invoice_id = f.invoice_id "
        f"WHERE {ctx.customer_status('c')} ORDER BY f.invoice_date, f.invoice_id"
    )


CUSTOMER_INVOICES = Report(
    id="customer_invoices", group="W100", family="receivables", title_zh="客戶未結發票", title_en="Open invoices",
    answers="The invoices of one customer not yet fully paid: what its aging figures are made of.",
    params=(CUSTOMER_ID, INCLUDE_INACTIVE),
    columns=(Column("invoice_id", "int", "發票編號", "invoice id"),
             Column("invoice_no", "text", "發票號碼", "invoice no"), C_ID,
             Column("invoice_date", "date", "發票日期", "invoice date"),
             Column("due_date", "date", "到期日", "due date"), Column("status", "text", "狀態", "status"),
             Column("total_amount", "money", "發票金額", "invoice total", "TWD"),
             Column("paid_amount", "money", "已收金額", "paid", "TWD"),
             Column("outstanding_amount", "money", "未收金額", "outstanding", "TWD"),
             Column("age_days", "int", "帳齡", "age", "days"), Column("age_bucket", "text", "帳齡區間", "age bucket")),
    sql=_customer_invoices, source="aggregate",
    how="The customer's invoices not voided whose payments not reversed fall short of (or exceed) their total, "
        "from the streamed open_invoices; age = today - invoice date (Asia/Taipei).",
    key=("invoice_id",),
)

# ---------------------------------------------------------------- service_history, payment_history


def _service_history(ctx: QueryContext) -> str:
    return (
        "SELECT o.order_id, o.order_no, o.ordered_at, o.channel, o.order_status, o.promised_from, o.promised_to, "
        "o.delivered_at, multiIf(o.order_status = 'cancelled', 'cancelled', o.delivered_at IS NULL, 'open', "
        "o.delivered_at <= o.promised_to, 'on_time', 'late') AS outcome, o.cancel_reason, o.total_amount "
        f"FROM {ctx.table('v_w200_order_master')} AS o INNER JOIN {_customers(ctx)} ON c.customer_id = o.customer_id "
        f"WHERE o.customer_id = {ctx.p('customer_id')} AND {_in_range(ctx, _order_day())} "
        f"AND {ctx.customer_status('c')} ORDER BY o.ordered_at, o.order_id"
    )


SERVICE_HISTORY = Report(
    id="service_history", group="W100", family="sales", title_zh="客戶服務紀錄", title_en="Service history",
    answers="Every order one customer placed in the range and how its delivery went.",
    params=(CUSTOMER_ID, DATE_FROM_90, DATE_TO, INCLUDE_INACTIVE),
    columns=(Column("order_id", "int", "訂單編號", "order id"), Column("order_no", "text", "訂單號碼", "order no"),
             Column("ordered_at", "datetime", "下單時間", "ordered at"), Column("channel", "text", "通路", "channel"),
             Column("order_status", "text", "訂單狀態", "order status"),
             Column("promised_from", "datetime", "承諾起", "promised from"),
             Column("promised_to", "datetime", "承諾迄", "promised to"),
             Column("delivered_at", "datetime", "送達時間", "delivered at"),
             Column("outcome", "text", "配送結果", "outcome"),
             Column("cancel_reason", "text", "取消原因", "cancel reason"),
             Column("total_amount", "money", "含稅金額", "gross", "TWD")),
    sql=_service_history, source="query_time",
    how="Current orders placed on the range's Taipei days; outcome: cancelled, open (not delivered), on_time "
        "(delivered at or before promised_to) or late.",
    max_range_days=400, drill=(Drill("order_lines", {"order_id": "order_id"}, "訂單明細", "lines"),),
    key=("order_id",),
)


def _payment_history(ctx: QueryContext) -> str:
    return (
        "SELECT pr.payment_id, pr.payment_date, pr.received_at, pr.invoice_id, i.invoice_no, pr.amount, pr.method, "
        f"pr.status FROM {ctx.table('v_w500_payment_record')} AS pr "
        f"INNER JOIN {_customers(ctx)} ON c.customer_id = pr.customer_id "
        "LEFT JOIN (SELECT invoice_id, toNullable(invoice_no) AS invoice_no "
        f"FROM {ctx.table('v_w500_invoice_header')}) AS i ON i.invoice_id = pr.invoice_id "
        f"WHERE pr.customer_id = {ctx.p('customer_id')} AND {_in_range(ctx, 'pr.payment_date')} "
        f"AND {ctx.customer_status('c')} ORDER BY pr.payment_date, pr.payment_id"
    )


PAYMENT_HISTORY = Report(
    id="payment_history", group="W100", family="collections", title_zh="客戶付款紀錄", title_en="Payment history",
    answers="Every payment one customer made in the range, whatever its status (received, cleared, bounced, reversed).",
    params=(CUSTOMER_ID, DATE_FROM_365, DATE_TO, INCLUDE_INACTIVE),
    columns=(Column("payment_id", "int", "收款編號", "payment id"), Column("payment_date", "date", "付款日", "date"),
             Column("received_at", "datetime", "入帳時間", "received at"),
             Column("invoice_id", "int", "發票編號", "invoice id"),
             Column("invoice_no", "text", "發票號碼", "invoice no"),
             Column("amount", "money", "金額", "amount", "TWD"), Column("method", "text", "付款方式", "method"),
             Column("status", "text", "狀態", "status")),
    sql=_payment_history, source="query_time", how="The current payment records, by payment date.",
    max_range_days=400, key=("payment_id",),
)

# ---------------------------------------------------------------- usage_patterns


def _usage_patterns(ctx: QueryContext) -> str:
    overdue = " AND days_overdue > 0" if ctx.values.get("overdue_only") else ""
    span, gaps = "dateDiff('day', u.first_refill, u.last_refill)", "(u.refill_orders - 1)"
    return (
        f"SELECT {CUSTOMER}, c.customer_type, u.refill_orders, u.cylinders, u.first_refill, u.last_refill, "
        f"if(u.refill_orders < 2, NULL, {span} / greatest({gaps}, 1)) AS mean_interval_days, "
        f"if(u.refill_orders < 2, NULL, u.last_refill + intDiv(2 * {span} + {gaps}, greatest(2 * {gaps}, 1))) "
        "AS expected_next_refill, "
        f"if(u.refill_orders < 2, NULL, greatest(0, dateDiff('day', expected_next_refill, {ctx.p('date_to')}))) "
        "AS days_overdue "
        f"FROM (SELECT o.customer_id AS refill_customer, count() AS refill_orders, sum(q.cylinders) AS cylinders, "
        f"min({_order_day()}) AS first_refill, max({_order_day()}) AS last_refill "
        f"FROM {ctx.table('v_w200_order_master')} AS o INNER JOIN (SELECT d.order_id, sum(d.quantity) AS cylinders "
        f"FROM {ctx.table('v_w200_order_detail')} AS d INNER JOIN {ctx.table('v_w110_product_master')} AS p "
        "ON p.product_id = d.product_id WHERE p.product_type = 'gas_refill' GROUP BY d.order_id) AS q "
        f"ON q.order_id = o.order_id WHERE o.order_status != 'cancelled' AND {_in_range(ctx, _order_day())} "
        f"GROUP BY refill_customer) AS u INNER JOIN {_customers(ctx)} ON c.customer_id = u.refill_customer "
        f"WHERE {_where_customer(ctx)}{overdue} ORDER BY c.customer_id"
    )


USAGE_PATTERNS = Report(
    id="usage_patterns", group="W100", family="sales", title_zh="客戶用氣週期", title_en="Refill cycle",
    answers="How often each customer refills gas, when the next refill is due and who is overdue.",
    params=(DATE_FROM_90, DATE_TO, BRANCH,
            Param("overdue_only", "bool", "僅列逾期", "overdue only", default=False), INCLUDE_INACTIVE),
    columns=(C_ID, C_CODE, C_NAME, C_BRANCH, C_TYPE, Column("refill_orders", "int", "換氣次數", "refill orders"),
             Column("cylinders", "int", "鋼瓶數", "cylinders"),
             Column("first_refill", "date", "首次換氣", "first refill"),
             Column("last_refill", "date", "最近換氣", "last refill"),
             Column("mean_interval_days", "float", "平均間隔", "mean interval", "days"),
             Column("expected_next_refill", "date", "預計下次", "expected next refill"),
             Column("days_overdue", "int", "逾期天數", "days overdue", "days")),
    sql=_usage_patterns, source="query_time",
    how="Refill orders = orders not cancelled placed in the range with a gas_refill line, by Taipei order day; mean "
        "interval = (last - first day) / (orders - 1); expected next = last day + that interval rounded half up to "
        "whole days; days overdue = date_to - expected next, 0 when not positive (none for a single refill).",
    max_range_days=400, drill=(TO_HISTORY,), key=("customer_id",),
)

# ---------------------------------------------------------------- loyalty_programme, customer_satisfaction


def _tier(ctx: QueryContext) -> str:
    arms = ", ".join(f"c.loyalty_points >= {ctx.bind(f'tier_{i}_points', points, 'Int64')}, "
                     f"{ctx.bind(f'tier_{i}', name, 'String')}" for i, (points, name) in enumerate(TIERS))
    return f"multiIf({arms}, {ctx.bind('tier_base', BASE_TIER, 'String')})"


def _loyalty_programme(ctx: QueryContext) -> str:
    return (
        f"SELECT {CUSTOMER}, c.customer_type, c.loyalty_points, {_tier(ctx)} AS tier, s.orders, s.net_sales, "
        f"s.last_order_day FROM {_customers(ctx)} "
        "LEFT JOIN (SELECT o.customer_id AS buyer, count() AS orders, sum(o.subtotal) AS net_sales, "
        f"toNullable(max({_order_day()})) AS last_order_day FROM {ctx.table('v_w200_order_master')} AS o "
        f"WHERE o.order_status != 'cancelled' AND {_in_range(ctx, _order_day())} GROUP BY buyer) AS s "
        f"ON s.buyer = c.customer_id WHERE {_where_customer(ctx)} AND c.loyalty_points >= {ctx.p('min_points')} "
        "ORDER BY c.loyalty_points DESC, c.customer_id"
    )


LOYALTY_PROGRAMME = Report(
    id="loyalty_programme", group="W100", family="sales", title_zh="會員點數與等級", title_en="Loyalty programme",
    answers="Each customer's loyalty points and tier, and how much they bought in the range (by default a year).",
    params=(DATE_FROM_365, DATE_TO, BRANCH, Param("min_points", "int", "最低點數", "minimum points", default=0,
                                                  minimum=0), INCLUDE_INACTIVE),
    columns=(C_ID, C_CODE, C_NAME, C_BRANCH, C_TYPE, Column("loyalty_points", "int", "會員點數", "points"),
             Column("tier", "text", "等級", "tier"), Column("orders", "int", "訂單數", "orders"),
             Column("net_sales", "money", "未稅金額", "net sales", "TWD"),
             Column("last_order_day", "date", "最近訂購日", "last order")),
    sql=_loyalty_programme, source="query_time",
    how="Points from the customer master; tier 金 >= 10000 points, 銀 >= 3000, 銅 >= 1000, else 一般; orders not "
        "cancelled placed in the range (Taipei days) and their subtotal before tax.",
    max_range_days=400, drill=(TO_HISTORY,), key=("customer_id",),
)


def _customer_satisfaction(ctx: QueryContext) -> str:
    reasons = ctx.bind("complaint_reasons", list(COMPLAINT_REASONS), "Array(String)")
    delivered = "o.order_status != 'cancelled' AND o.delivered_at IS NOT NULL"
    return (
        f"SELECT {CUSTOMER}, s.orders, s.delivered, s.on_time, s.late, s.cancelled, s.complaint_cancels, "
        "if(s.delivered = 0, NULL, s.on_time / s.delivered) AS on_time_rate "
        "FROM (SELECT o.customer_id AS buyer, count() AS orders, "
        f"countIf({delivered}) AS delivered, countIf({delivered} AND o.delivered_at <= o.promised_to) AS on_time, "
        f"countIf({delivered} AND o.delivered_at > o.promised_to) AS late, "
        "countIf(o.order_status = 'cancelled') AS cancelled, "
        f"countIf(o.order_status = 'cancelled' AND has({reasons}, ifNull(o.cancel_reason, ''))) AS complaint_cancels "
        f"FROM {ctx.table('v_w200_order_master')} AS o WHERE {_in_range(ctx, _order_day())} GROUP BY buyer) AS s "
        f"INNER JOIN {_customers(ctx)} ON c.customer_id = s.buyer WHERE {_where_customer(ctx)} ORDER BY c.customer_id"
    )


CUSTOMER_SATISFACTION = Report(
    id="customer_satisfaction", group="W100", family="sales", title_zh="客戶滿意度指標",
    title_en="Customer satisfaction",
    answers="How well each customer was served in the range: on-time deliveries, late ones and cancellations.",
    params=(DATE_FROM_90, DATE_TO, BRANCH, INCLUDE_INACTIVE),
    columns=(C_ID, C_CODE, C_NAME, C_BRANCH, Column("orders", "int", "訂單數", "orders"),
             Column("delivered", "int", "已送達", "delivered"), Column("on_time", "int", "準時", "on time"),
             Column("late", "int", "遲到", "late"), Column("cancelled", "int", "取消", "cancelled"),
             Column("complaint_cancels", "int", "客訴性取消", "complaint-like cancels"),
             Column("on_time_rate", "rate", "準時率", "on-time rate")),
    sql=_customer_satisfaction, source="query_time",
    how="Derived from orders placed in the range (no survey data exists): delivered at or before promised_to = on "
        "time; complaint-like = cancelled with reason 客戶取消 or 已向他處購買; rate = on time / delivered (0-1).",
    max_range_days=400, drill=(TO_HISTORY,), key=("customer_id",),
)

REPORTS: tuple[Report, ...] = (CUSTOMER_PROFILE, CUSTOMER_AGING, CUSTOMER_INVOICES, SERVICE_HISTORY, PAYMENT_HISTORY,
                               USAGE_PATTERNS, LOYALTY_PROGRAMME, CUSTOMER_SATISFACTION)
