"""W500 receivables and collections: aging as of a date, collection performance, balances, credit, exceptions.

Rules shared by these reports (and by their truths):
- A *live* payment is one not reversed (`status != 'reversed'`), as `w500.invoice_header.paid_amount` and the
  streamed receivables count them; a bounced payment stays live until it is reversed (receivable_exceptions
  lists bounced payments so they can be chased). An invoice's outstanding amount is its total minus its live
  payments; voided invoices owe nothing.
- "As of" a day D is rebuilt from current-state rows: an invoice counts if dated on or before D and not voided
  by then (voided with `voided_at` on or before D, Asia/Taipei; a voided invoice without `voided_at` counts as
  voided from the start); a payment counts if dated on or before D and not reversed now. What cannot be rebuilt:
  a reversal's date is not kept (the row only says `reversed` now), so a reversed payment is left out at every
  D, even one before the reversal; nor is a bounced payment's bounce date, nor an invoice's amounts before a
  correction. The branch is the customer's (w100) branch.
"""

from __future__ import annotations

from datetime import date, timedelta

from api.reports.definition import Chart, Column, Drill, Param, Report
from api.reports.library.receivables_as_of import not_voided_on, open_on
from api.reports.query import QueryContext

BRANCH = Param("branch", "branch", "分公司", "branch")
INCLUDE_INACTIVE = Param("include_inactive", "bool", "含停用客戶", "include closed/blacklisted", default=False)
AS_OF = Param("as_of", "date", "基準日", "as of", default=lambda today: today)
DATE_FROM_30 = Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=29))
DATE_TO = Param("date_to", "date", "迄日", "to", default=lambda today: today)
CUSTOMER = (Column("customer_id", "int", "客戶編號", "customer id"),
            Column("customer_code", "text", "客戶代號", "code"),
            Column("customer_name", "text", "客戶名稱", "customer", personal="person_name"),
            Column("branch_code", "text", "分公司", "branch"))


def _money(name: str, zh: str, en: str) -> Column:
    return Column(name, "money", zh, en, "TWD")


def _three_months_back(today: date) -> date:
    month = today.month - 2
    return date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _branch(ctx: QueryContext, column: str) -> str:
    return f" AND {column} = {ctx.p('branch')}" if ctx.values.get("branch") else ""


def _today(ctx: QueryContext) -> str:
    return ctx.bind("today", ctx.today, "Date32") if ctx.today is not None else "toDate(now(), 'Asia/Taipei')"


def _ar_aging(ctx: QueryContext) -> str:
    as_of = ctx.p("as_of")
    return (
        "SELECT c.customer_id, c.customer_code, c.name_zh, c.branch_code, sumIf(o.amount_open, o.age <= 30), "
        "sumIf(o.amount_open, o.age > 30 AND o.age <= 60), sumIf(o.amount_open, o.age > 60 AND o.age <= 90), "
        "sumIf(o.amount_open, o.age > 90), sum(o.amount_open) AS outstanding, countIf(o.amount_open > 0) "
        f"FROM (SELECT n.customer_id, n.amount_open, dateDiff('day', n.invoice_date, {as_of}) AS age "
        f"FROM {open_on(ctx, as_of)} AS n) AS o "
        f"INNER JOIN {ctx.table('v_w100_customer_master')} AS c ON c.customer_id = o.customer_id "
        f"WHERE {ctx.customer_status('c')}{_branch(ctx, 'c.branch_code')} "
        "GROUP BY c.customer_id, c.customer_code, c.name_zh, c.branch_code ORDER BY outstanding DESC, c.customer_id"
    )


AR_AGING = Report(
    id="ar_aging", group="W500", family="receivables", title_zh="應收帳款帳齡分析", title_en="Receivables aging",
    answers="What each customer owed on a day, by how many days had passed since the invoice date.",
    params=(AS_OF, BRANCH, INCLUDE_INACTIVE),
    columns=(*CUSTOMER, _money("age_0_30", "0-30天", "0-30 days"), _money("age_31_60", "31-60天", "31-60 days"),
             _money("age_61_90", "61-90天", "61-90 days"), _money("age_over_90", "90天以上", "over 90 days"),
             _money("outstanding", "應收餘額", "outstanding"),
             Column("open_invoices", "int", "未結發票數", "open invoices")),
    sql=_ar_aging, source="aggregate",
    how="Invoices dated by as_of and not voided by then, less their live payments dated by as_of (reversed "
        "payments never count: their reversal date is unknown), aged on as_of - invoice date. Read as what is "
        "open now (the streamed open_invoices) plus the live payments dated after as_of.",
    formats=("json", "csv", "xlsx", "parquet", "pdf"),
    chart=Chart("bar", "customer_code", ("age_0_30", "age_31_60", "age_61_90", "age_over_90"),
                "前 15 大客戶應收帳齡", "Receivables by age: the 15 largest balances", top=15),
    drill=(Drill("invoice_payments", {"customer_id": "customer_id", "as_of": "@as_of"}, "發票與收款",
                 "invoices and payments"),),
    key=("customer_id",),
)


def _invoice_payments(ctx: QueryContext) -> str:
    as_of, customer = ctx.p("as_of"), ctx.p("customer_id")
    inv = ctx.table("v_w500_invoice_header")
    # Every live payment of the customer's invoices (whoever paid, as ar_aging counts them), read once: the
    # rows, and summed per invoice over them for what was paid as of the day.
    open_only = " WHERE total - paid != 0" if ctx.values.get("open_only") else ""
    return (
        "SELECT invoice_id, invoice_no, invoice_date, due_date, age, total, paid, total - paid, payment_id, "
        "payment_date, amount, method, status FROM (SELECT i.invoice_id AS invoice_id, i.invoice_no AS invoice_no, "
        f"i.invoice_date AS invoice_date, i.due_date AS due_date, dateDiff('day', i.invoice_date, {as_of}) AS age, "
        "i.total_amount AS total, sum(ifNull(m.amount, 0)) OVER (PARTITION BY i.invoice_id) AS paid, "
        "m.payment_id AS payment_id, m.payment_date AS payment_date, m.amount AS amount, m.method AS method, "
        f"m.status AS status FROM {inv} AS i "
        "LEFT JOIN (SELECT toNullable(p.payment_id) AS payment_id, p.invoice_id, "
        "toNullable(p.payment_date) AS payment_date, toNullable(p.amount) AS amount, "
        "toNullable(toString(p.method)) AS method, toNullable(toString(p.status)) AS status "
        f"FROM {ctx.table('v_w500_payment_record')} AS p WHERE p.status != 'reversed' AND p.payment_date <= {as_of} "
        f"AND p.invoice_id IN (SELECT invoice_id FROM {inv} WHERE customer_id = {customer})) AS m "
        f"ON m.invoice_id = i.invoice_id WHERE i.customer_id = {customer} AND i.invoice_date <= {as_of} "
        f"AND {not_voided_on('i', as_of)}){open_only} "
        "ORDER BY invoice_date, invoice_id, payment_date, payment_id"
    )


INVOICE_PAYMENTS = Report(
    id="invoice_payments", group="W500", family="receivables", title_zh="客戶發票與收款明細",
    title_en="A customer's invoices and payments",
    answers="One customer's invoices as of a day (by default those still open then), each with its payments.",
    params=(Param("customer_id", "int", "客戶編號", "customer id", required=True, minimum=1), AS_OF,
            Param("open_only", "bool", "僅未結清", "open invoices only", default=True)),
    columns=(Column("invoice_id", "int", "發票編號", "invoice id"),
             Column("invoice_no", "text", "發票號碼", "invoice no"),
             Column("invoice_date", "date", "發票日期", "invoice date"),
             Column("due_date", "date", "到期日", "due date"),
             Column("age_days", "int", "帳齡", "age", "days"), _money("total_amount", "發票金額", "total"),
             _money("paid", "已收(基準日)", "paid as of"), _money("outstanding", "未收(基準日)", "outstanding as of"),
             Column("payment_id", "int", "收款編號", "payment id"),
             Column("payment_date", "date", "收款日期", "payment date"),
             _money("payment_amount", "收款金額", "payment"),
             Column("method", "text", "收款方式", "method"), Column("payment_status", "text", "收款狀態", "status")),
    sql=_invoice_payments, source="query_time",
    how="Current invoice and payment rows (v_w500_*) read as of the day by the module's as-of rule; every live "
        "payment of the invoice counts, whoever paid it (as in ar_aging); one row per payment (an invoice "
        "without payments has one row with empty payment columns).",
    key=("invoice_id", "payment_id"),
)


def _collection_performance(ctx: QueryContext) -> str:
    month = ctx.values.get("grain") == "month"
    start, end = ctx.p("date_from"), ctx.p("date_to")

    def bucket(column: str) -> str:
        return f"toStartOfMonth({column})" if month else column

    inv = ctx.table("v_w500_invoice_header")
    zero = "toDecimal128(0, 4)"
    return (
        f"SELECT greatest(s.b, {start}), least({'toLastDayOfMonth(s.b)' if month else 's.b'}, {end}), "
        "sum(s.invoices), sum(s.invoiced), sum(s.payments), sum(s.collected), "
        "if(sum(s.invoiced) = 0, NULL, toFloat64(sum(s.collected)) / toFloat64(sum(s.invoiced))), "
        "if(sum(s.collected) = 0, NULL, toFloat64(sum(s.weighted)) / toFloat64(sum(s.collected))) FROM ("
        f"SELECT {bucket('i.invoice_date')} AS b, count() AS invoices, sum(i.total_amount) AS invoiced, "
        f"toUInt64(0) AS payments, {zero} AS collected, {zero} AS weighted FROM {inv} AS i "
        f"WHERE i.invoice_date BETWEEN {start} AND {end} AND i.status != 'voided'"
        f"{ctx.customer_in_branch('i.customer_id')} GROUP BY b UNION ALL "
        f"SELECT {bucket('p.payment_date')} AS b, toUInt64(0), {zero}, count(), sum(p.amount), "
        "sum(p.amount * dateDiff('day', h.invoice_date, p.payment_date)) "
        f"FROM {ctx.table('v_w500_payment_record')} AS p INNER JOIN {inv} AS h ON h.invoice_id = p.invoice_id "
        f"WHERE p.payment_date BETWEEN {start} AND {end} AND p.status != 'reversed'"
        f"{ctx.customer_in_branch('p.customer_id')} GROUP BY b) AS s GROUP BY s.b ORDER BY s.b"
    )


_PERIOD_DRILL = {"date_from": "period_start", "date_to": "period_end", "branch": "@branch"}
COLLECTION_PERFORMANCE = Report(
    id="collection_performance", group="W500", family="collections", title_zh="收款績效",
    title_en="Collection performance",
    answers="Per month (or day): what was invoiced, what was collected, the ratio, and how long payers took.",
    params=(Param("date_from", "date", "起日", "from", default=_three_months_back), DATE_TO,
            Param("grain", "choice", "期間", "grain", default="month", choices=("month", "day")), BRANCH),
    columns=(Column("period_start", "date", "期間起", "from"), Column("period_end", "date", "期間迄", "to"),
             Column("invoices", "int", "發票數", "invoices"), _money("invoiced", "發票金額", "invoiced"),
             Column("payments", "int", "收款筆數", "payments"), _money("collected", "收款金額", "collected"),
             Column("collection_rate", "rate", "收款率", "collection rate", "%"),
             Column("avg_days_to_pay", "float", "平均收款天數(金額加權)", "avg days to pay (amount-weighted)", "days")),
    sql=_collection_performance, source="query_time",
    how="Invoiced: invoices dated in the period, not voided; collected: live payments dated in it; rate = "
        "collected / invoiced; days to pay = payment date - invoice date, weighted by payment amount.",
    max_range_days=400,
    drill=(Drill("period_invoices", _PERIOD_DRILL, "發票", "invoices"),
           Drill("period_payments", _PERIOD_DRILL, "收款", "payments")),
    key=("period_start",),
)


def _period_invoices(ctx: QueryContext) -> str:
    kind = ctx.values.get("invoice_type")
    typed = f" AND i.invoice_type = {ctx.p('invoice_type')}" if kind and kind != "all" else ""
    voided = "" if ctx.values.get("include_voided") else " AND i.status != 'voided'"
    return (
        "SELECT i.invoice_id, i.invoice_no, i.invoice_date, i.due_date, i.customer_id, c.branch_code, "
        "i.invoice_type, i.buyer_tax_id, i.status, i.sales_amount, i.tax_amount, i.total_amount, i.paid_amount, "
        f"i.voided_at FROM {ctx.table('v_w500_invoice_header')} AS i "
        f"INNER JOIN {ctx.table('v_w100_customer_master')} AS c ON c.customer_id = i.customer_id "
        f"WHERE i.invoice_date BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}{typed}{voided}"
        f"{_branch(ctx, 'c.branch_code')} ORDER BY i.invoice_date, i.invoice_id"
    )


PERIOD_INVOICES = Report(
    id="period_invoices", group="W500", family="receivables", title_zh="期間發票明細", title_en="Invoices of a period",
    answers="The invoices dated in a range (not voided unless asked), for a branch and invoice type.",
    params=(DATE_FROM_30, DATE_TO, BRANCH,
            Param("invoice_type", "choice", "發票類型", "invoice type", default="all", choices=("all", "B2B", "B2C")),
            Param("include_voided", "bool", "含作廢", "include voided", default=False)),
    columns=(Column("invoice_id", "int", "發票編號", "invoice id"),
             Column("invoice_no", "text", "發票號碼", "invoice no"),
             Column("invoice_date", "date", "發票日期", "invoice date"),
             Column("due_date", "date", "到期日", "due date"),
             Column("customer_id", "int", "客戶編號", "customer id"), Column("branch_code", "text", "分公司", "branch"),
             Column("invoice_type", "text", "發票類型", "type"),
             Column("buyer_tax_id", "text", "買方統編", "buyer tax id", personal="tax_id"),
             Column("status", "text", "狀態", "status"), _money("sales_amount", "銷售額", "sales"),
             _money("tax_amount", "稅額", "tax"), _money("total_amount", "總計", "total"),
             _money("paid_amount", "已收", "paid"), Column("voided_at", "datetime", "作廢時間", "voided at")),
    sql=_period_invoices, source="query_time", how="The current invoice rows (v_w500_invoice_header).",
    max_range_days=93, key=("invoice_id",),
)


def _period_payments(ctx: QueryContext) -> str:
    pay, in_range = ctx.table("v_w500_payment_record"), f"BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}"
    # Only the invoices these payments settle (a lookup by the invoices' sorting key, not every invoice).
    invoices = (f"(SELECT * FROM {ctx.table('v_w500_invoice_header')} AS v WHERE v.invoice_id IN "
                f"(SELECT q.invoice_id FROM {pay} AS q WHERE q.payment_date {in_range}))")
    return (
        "SELECT p.payment_id, p.payment_date, p.received_at, p.customer_id, c.branch_code, p.invoice_id, "
        "h.invoice_no, h.invoice_date, dateDiff('day', h.invoice_date, p.payment_date), p.amount, p.method, "
        f"p.status, p.bank_reference FROM {pay} AS p "
        f"INNER JOIN {invoices} AS h ON h.invoice_id = p.invoice_id "
        f"INNER JOIN {ctx.table('v_w100_customer_master')} AS c ON c.customer_id = p.customer_id "
        f"WHERE p.payment_date {in_range}{_branch(ctx, 'c.branch_code')} ORDER BY p.payment_date, p.payment_id"
    )


PERIOD_PAYMENTS = Report(
    id="period_payments", group="W500", family="collections", title_zh="期間收款明細", title_en="Payments of a period",
    answers="Every payment dated in a range (any status: collection figures count those not reversed).",
    params=(DATE_FROM_30, DATE_TO, BRANCH),
    columns=(Column("payment_id", "int", "收款編號", "payment id"), Column("payment_date", "date", "收款日期", "date"),
             Column("received_at", "datetime", "收款時間", "received at"),
             Column("customer_id", "int", "客戶編號", "customer id"), Column("branch_code", "text", "分公司", "branch"),
             Column("invoice_id", "int", "發票編號", "invoice id"),
             Column("invoice_no", "text", "發票號碼", "invoice no"),
             Column("invoice_date", "date", "發票日期", "invoice date"),
             Column("days_to_pay", "int", "收款天數", "days to pay", "days"), _money("amount", "金額", "amount"),
             Column("method", "text", "收款方式", "method"), Column("status", "text", "狀態", "status"),
             Column("bank_reference", "text", "銀行參考號", "bank reference")),
    sql=_period_payments, source="query_time", how="The current payment rows (v_w500_payment_record).",
    max_range_days=93, key=("payment_id",),
)


def _outstanding_balances(ctx: QueryContext) -> str:
    settled = "1" if ctx.values.get("include_settled") else "(r.outstanding != 0 OR r.open_invoices > 0)"
    return (
        "SELECT r.customer_id, c.customer_code, c.name_zh, c.branch_code, r.invoiced, r.paid, r.outstanding, "
        "r.open_invoices, o.oldest_open, o.earliest_due, if(o.earliest_due IS NULL, NULL, "
        f"greatest(dateDiff('day', o.earliest_due, {_today(ctx)}), 0)) "
        f"FROM {ctx.table('receivables_by_customer')} AS r "
        f"INNER JOIN {ctx.table('v_w100_customer_master')} AS c ON c.customer_id = r.customer_id "
        "LEFT JOIN (SELECT f.customer_id, toNullable(min(f.invoice_date)) AS oldest_open, "
        f"toNullable(min(f.due_date)) AS earliest_due FROM {ctx.table('open_invoices')} AS f "
        "WHERE f.voided = 0 AND f.outstanding > 0 GROUP BY f.customer_id) AS o ON o.customer_id = r.customer_id "
        f"WHERE {settled} AND {ctx.customer_status('c')}{_branch(ctx, 'c.branch_code')} "
        "ORDER BY r.outstanding DESC, r.customer_id"
    )


_CUSTOMER_DRILL = (Drill("invoice_payments", {"customer_id": "customer_id"}, "發票與收款", "invoices and payments"),)
OUTSTANDING_BALANCES = Report(
    id="outstanding_balances", group="W500", family="receivables", title_zh="客戶應收餘額",
    title_en="Outstanding balances",
    answers="What each customer has been invoiced, has paid and still owes, and how overdue the oldest debt is.",
    params=(BRANCH, Param("include_settled", "bool", "含已結清", "include settled customers", default=False),
            INCLUDE_INACTIVE),
    columns=(*CUSTOMER, _money("invoiced", "發票總額", "invoiced"), _money("paid", "已收", "paid"),
             _money("outstanding", "未收餘額", "outstanding"),
             Column("open_invoices", "int", "未結發票數", "open invoices"),
             Column("oldest_open_date", "date", "最早未結發票日", "oldest open invoice"),
             Column("earliest_due_date", "date", "最早到期日", "earliest due date"),
             Column("days_past_due", "int", "逾期天數", "days past due", "days")),
    sql=_outstanding_balances, source="aggregate",
    how="Invoiced, paid, outstanding and open invoices from the streamed receivables_by_customer; the oldest "
        "open invoice and due date from the streamed open_invoices; overdue = today - due date.",
    drill=_CUSTOMER_DRILL, key=("customer_id",),
)


def _credit_analysis(ctx: QueryContext) -> str:
    shown = "1" if ctx.values.get("include_all") else "(c.credit_limit > 0 OR r.outstanding > 0)"
    return (
        "SELECT c.customer_id, c.customer_code, c.name_zh, c.branch_code, c.customer_type, c.credit_terms_days, "
        "c.credit_limit, r.outstanding, c.credit_limit - r.outstanding, "
        "if(c.credit_limit = 0, NULL, toFloat64(r.outstanding) / toFloat64(c.credit_limit)), "
        f"c.credit_limit > 0 AND r.outstanding > c.credit_limit FROM {ctx.table('v_w100_customer_master')} AS c "
        f"LEFT JOIN {ctx.table('receivables_by_customer')} AS r ON r.customer_id = c.customer_id "
        f"WHERE {shown} AND {ctx.customer_status('c')}{_branch(ctx, 'c.branch_code')} "
        "ORDER BY (c.credit_limit > 0 AND r.outstanding > c.credit_limit) DESC, r.outstanding DESC, c.customer_id"
    )


CREDIT_ANALYSIS = Report(
    id="credit_analysis", group="W500", family="receivables", title_zh="信用額度分析", title_en="Credit analysis",
    answers="How much of each customer's credit limit their outstanding balance uses, and who is over it.",
    params=(BRANCH, Param("include_all", "bool", "含無額度無欠款客戶", "include customers without limit or debt",
                          default=False), INCLUDE_INACTIVE),
    columns=(*CUSTOMER, Column("customer_type", "text", "客戶類型", "type"),
             Column("credit_terms_days", "int", "付款條件", "credit terms", "days"),
             _money("credit_limit", "信用額度", "credit limit"), _money("outstanding", "未收餘額", "outstanding"),
             _money("available_credit", "可用額度", "available credit"),
             Column("exposure_ratio", "rate", "額度使用率", "exposure", "%"),
             Column("over_limit", "bool", "超額", "over limit")),
    sql=_credit_analysis, source="aggregate",
    how="Credit limit from the customer master; outstanding from receivables_by_customer; exposure = "
        "outstanding / limit (none without a limit); over limit only for customers with a limit.",
    drill=_CUSTOMER_DRILL, key=("customer_id",),
)


def _receivable_exceptions(ctx: QueryContext) -> str:
    start, end = ctx.p("date_from"), ctx.p("date_to")
    inv, pay, unsettled = (ctx.table("v_w500_invoice_header"), ctx.table("v_w500_payment_record"),
                           ctx.table("open_invoices"))
    # An invoice's live payments are its total less what is still open (0 unless it is in open_invoices).
    in_range = f"p.payment_date BETWEEN {start} AND {end}"
    return (
        "SELECT e.exception, e.invoice_id, e.invoice_no, e.invoice_date, e.customer_id, c.branch_code, "
        "e.invoice_status, e.total_amount, e.paid_amount, e.live_paid, e.payment_id, e.payment_date, "
        "e.payment_amount, e.payment_status, e.difference FROM ("
        "SELECT arrayJoin(arrayFilter(x -> x != '', [if(i.paid_amount != live_paid, 'paid_amount_mismatch', "
        "''), if(i.status != 'voided' AND live_paid > i.total_amount, 'overpaid', '')])) AS exception, "
        "i.invoice_id AS invoice_id, i.invoice_no AS invoice_no, i.invoice_date AS invoice_date, "
        "i.customer_id AS customer_id, toString(i.status) AS invoice_status, i.total_amount AS total_amount, "
        "i.paid_amount AS paid_amount, toDecimal128(i.total_amount - ifNull(u.outstanding, 0), 4) AS live_paid, "
        "CAST(NULL, 'Nullable(Int64)') AS payment_id, CAST(NULL, 'Nullable(Date32)') AS payment_date, "
        "CAST(NULL, 'Nullable(Decimal(18, 4))') AS payment_amount, CAST(NULL, 'Nullable(String)') AS payment_status, "
        "toDecimal128(if(exception = 'overpaid', live_paid - i.total_amount, i.paid_amount - live_paid), 4) "
        f"AS difference FROM {inv} AS i LEFT JOIN (SELECT o.invoice_id, o.outstanding FROM {unsettled} AS o "
        f"WHERE o.invoice_date BETWEEN {start} AND {end}) AS u ON u.invoice_id = i.invoice_id "
        f"WHERE i.invoice_date BETWEEN {start} AND {end} UNION ALL "
        "SELECT arrayJoin(arrayFilter(x -> x != '', [if(p.status = 'bounced', 'bounced_payment', ''), "
        "if(p.status != 'reversed' AND h.status = 'voided', 'payment_on_voided', '')])), h.invoice_id, "
        "h.invoice_no, h.invoice_date, p.customer_id, toString(h.status), h.total_amount, h.paid_amount, "
        "toDecimal128(h.total_amount - ifNull(u.outstanding, 0), 4), toNullable(p.payment_id), "
        "toNullable(p.payment_date), toNullable(p.amount), toNullable(toString(p.status)), toDecimal128(p.amount, 4) "
        f"FROM {pay} AS p INNER JOIN (SELECT * FROM {inv} AS v WHERE v.invoice_id IN "
        f"(SELECT p.invoice_id FROM {pay} AS p WHERE {in_range})) AS h ON h.invoice_id = p.invoice_id "
        f"LEFT JOIN (SELECT o.invoice_id, o.outstanding FROM {unsettled} AS o) AS u ON u.invoice_id = p.invoice_id "
        f"WHERE {in_range} AND (p.status = 'bounced' OR (p.status != 'reversed' AND h.status = 'voided'))) AS e "
        f"INNER JOIN {ctx.table('v_w100_customer_master')} AS c ON c.customer_id = e.customer_id "
        f"WHERE 1{_branch(ctx, 'c.branch_code')} ORDER BY e.exception, e.invoice_id, e.payment_id"
    )


RECEIVABLE_EXCEPTIONS = Report(
    id="receivable_exceptions", group="W500", family="receivables", title_zh="應收異常報表",
    title_en="Receivable exceptions",
    answers="Invoices whose paid amount disagrees with their payments or exceeds their total, payments on "
            "voided invoices, and bounced payments.",
    params=(Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=89)), DATE_TO,
            BRANCH),
    columns=(Column("exception", "text", "異常類型", "exception"),
             Column("invoice_id", "int", "發票編號", "invoice id"),
             Column("invoice_no", "text", "發票號碼", "invoice no"),
             Column("invoice_date", "date", "發票日期", "invoice date"),
             Column("customer_id", "int", "客戶編號", "customer id"), Column("branch_code", "text", "分公司", "branch"),
             Column("invoice_status", "text", "發票狀態", "invoice status"),
             _money("total_amount", "發票金額", "total"),
             _money("paid_amount", "發票已收欄", "paid (invoice)"),
             _money("live_paid", "有效收款合計", "live payments"),
             Column("payment_id", "int", "收款編號", "payment id"),
             Column("payment_date", "date", "收款日期", "payment date"),
             _money("payment_amount", "收款金額", "payment"),
             Column("payment_status", "text", "收款狀態", "payment status"),
             _money("difference", "差異", "difference")),
    sql=_receivable_exceptions, source="aggregate",
    how="paid_amount_mismatch (paid_amount - live payments) and overpaid (live payments - total) for invoices "
        "dated in the range; bounced_payment and payment_on_voided (the amount) for payments dated in it. An "
        "invoice's live payments are its total less its open amount in the streamed open_invoices.",
    max_range_days=400, key=("exception", "invoice_id", "payment_id"),
)

REPORTS: tuple[Report, ...] = (AR_AGING, INVOICE_PAYMENTS, COLLECTION_PERFORMANCE, PERIOD_INVOICES, PERIOD_PAYMENTS,
                               OUTSTANDING_BALANCES, CREDIT_ANALYSIS, RECEIVABLE_EXCEPTIONS)
