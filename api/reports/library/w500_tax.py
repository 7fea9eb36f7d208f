"""W500 tax and reconciliation: output tax per two-month 401 period, and the day's invoices and receipts
against the ledger's W500 postings (the rules of `w500_receivables` apply: customer branch, live payments)."""

from __future__ import annotations

from datetime import date, timedelta

from api.reports.definition import Column, Drill, Param, Report
from api.reports.library.w500_receivables import BRANCH
from api.reports.query import QueryContext

AR_ACCOUNT = "1191"  # 應收帳款: the account the day close (日結) debits with invoices and credits with receipts


def _money(name: str, zh: str, en: str) -> Column:
    return Column(name, "money", zh, en, "TWD")


def period_start(month: str) -> date:
    """The first day of the two-month tax period (Jan-Feb, Mar-Apr, …) holding `month` ("YYYY-MM")."""
    year, number = int(month[:4]), int(month[5:7])
    return date(year, number - (number + 1) % 2, 1)


def period_end(month: str) -> date:
    start = period_start(month)
    after = date(start.year + (start.month + 1) // 12, (start.month + 1) % 12 + 1, 1)
    return after - timedelta(days=1)


def _output_tax_summary(ctx: QueryContext) -> str:
    first = str(ctx.values["period"])
    last = str(ctx.values.get("period_to") or first)
    low, high = sorted((first, last))
    start = ctx.bind("period_start", period_start(low), "Date32")
    end = ctx.bind("period_end", period_end(high), "Date32")
    inv = ctx.table("v_w500_invoice_header")
    # Every invoice has its customer (a foreign key): the customers are read only to keep one branch's.
    branch = ctx.customer_in_branch("i.customer_id")
    ps = "s.ps"
    label = (f"concat(toString(toYear({ps}) - 1911), '年', leftPad(toString(toMonth({ps})), 2, '0'), '-', "
             f"leftPad(toString(toMonth({ps}) + 1), 2, '0'), '月')")
    return (
        f"SELECT {ps}, addDays(addMonths({ps}, 2), -1), {label}, s.invoice_type, countIf(s.valid), "
        "sumIf(s.sales_amount, s.valid), sumIf(s.taxable, s.valid), sumIf(s.tax_free, s.valid), "
        "sumIf(s.tax_amount, s.valid), sumIf(s.total_amount, s.valid), countIf(NOT s.valid), "
        "sumIf(s.sales_amount, NOT s.valid) FROM (SELECT makeDate32(toYear(i.invoice_date), "
        "toMonth(i.invoice_date) - (toMonth(i.invoice_date) + 1) % 2, 1) AS ps, toString(i.invoice_type) AS "
        "invoice_type, i.status != 'voided' AS valid, i.sales_amount AS sales_amount, i.tax_amount AS tax_amount, "
        "i.total_amount AS total_amount, ifNull(d.taxable, 0) AS taxable, ifNull(d.tax_free, 0) AS tax_free "
        f"FROM {inv} AS i LEFT JOIN (SELECT d.invoice_id, sumIf(d.amount, d.tax_amount != 0) AS taxable, "
        f"sumIf(d.amount, d.tax_amount = 0) AS tax_free FROM {ctx.table('v_w500_invoice_detail')} AS d "
        f"WHERE d.invoice_id IN (SELECT invoice_id FROM {inv} WHERE invoice_date BETWEEN {start} AND {end}) "
        f"GROUP BY d.invoice_id) AS d ON d.invoice_id = i.invoice_id WHERE i.invoice_date BETWEEN {start} AND {end}"
        f"{branch}) AS s GROUP BY s.ps, s.invoice_type ORDER BY s.ps, s.invoice_type"
    )


OUTPUT_TAX_SUMMARY = Report(
    id="output_tax_summary", group="W500", family="receivables", title_zh="銷項稅額彙總(401)",
    title_en="Output tax summary (401)",
    answers="Per two-month VAT period (Jan-Feb, Mar-Apr, …) and invoice type: invoices, sales, output tax "
            "and voided invoices, as a 401 return needs them.",
    params=(Param("period", "month", "申報期(所含月份)", "period (a month in it)", default=lambda t: f"{t:%Y-%m}"),
            Param("period_to", "month", "迄申報期", "to period (a month in it)"), BRANCH),
    columns=(Column("period_start", "date", "期間起", "from"), Column("period_end", "date", "期間迄", "to"),
             Column("period_label", "text", "申報期別", "period"), Column("invoice_type", "text", "發票類型", "type"),
             Column("invoices", "int", "開立張數", "invoices"), _money("sales_amount", "銷售額", "sales"),
             _money("taxable_sales", "應稅銷售額", "taxable sales"),
             _money("tax_free_sales", "零稅率/免稅銷售額", "zero-rated or exempt sales"),
             _money("tax_amount", "銷項稅額", "output tax"), _money("total_amount", "含稅總計", "total"),
             Column("voided", "int", "作廢張數", "voided"), _money("voided_sales", "作廢銷售額", "voided sales")),
    sql=_output_tax_summary, source="query_time",
    how="Invoices dated in the periods by invoice type, voided ones (current status) counted apart; taxable vs "
        "zero-rated/exempt split by invoice lines with and without tax (the data cannot tell zero-rated from "
        "exempt).",
    sensitive=True,
    drill=(Drill("period_invoices", {"date_from": "period_start", "date_to": "period_end",
                                     "invoice_type": "invoice_type", "branch": "@branch"}, "發票", "invoices"),),
    key=("period_start", "invoice_type"),
)


def _daily_balance_verification(ctx: QueryContext) -> str:
    day = ctx.p("day")
    account = ctx.bind("ar_account", AR_ACCOUNT, "String")
    branch = f" AND s.branch_code = {ctx.p('branch')}" if ctx.values.get("branch") else ""
    cust = ctx.table("v_w100_customer_master")
    zero = "toDecimal128(0, 4)"
    return (
        f"SELECT {day}, s.branch_code, sum(s.invoices), sum(s.invoiced), sum(s.payments), sum(s.received), "
        "sum(s.debit), sum(s.credit), sum(s.debit) - sum(s.invoiced) AS invoice_difference, "
        "sum(s.credit) - sum(s.received) AS receipt_difference, "
        "invoice_difference = 0 AND receipt_difference = 0 FROM ("
        "SELECT c.branch_code AS branch_code, count() AS invoices, sum(i.total_amount) AS invoiced, "
        f"toUInt64(0) AS payments, {zero} AS received, {zero} AS debit, {zero} AS credit "
        f"FROM {ctx.table('v_w500_invoice_header')} AS i INNER JOIN {cust} AS c ON c.customer_id = i.customer_id "
        f"WHERE i.invoice_date = {day} AND i.status != 'voided' GROUP BY c.branch_code UNION ALL "
        f"SELECT c.branch_code, toUInt64(0), {zero}, count(), sum(p.amount), {zero}, {zero} "
        f"FROM {ctx.table('v_w500_payment_record')} AS p INNER JOIN {cust} AS c ON c.customer_id = p.customer_id "
        f"WHERE p.payment_date = {day} GROUP BY c.branch_code UNION ALL "
        f"SELECT ifNull(g.cost_center, ''), toUInt64(0), {zero}, toUInt64(0), {zero}, sum(g.debit), sum(g.credit) "
        f"FROM {ctx.table('v_w600_gl_transaction')} AS g WHERE g.posting_date = {day} AND g.source_module = 'W500' "
        f"AND g.account_code = {account} GROUP BY g.cost_center) AS s WHERE 1{branch} "
        "GROUP BY s.branch_code ORDER BY s.branch_code"
    )


_DAY_DRILL = {"date_from": "@day", "date_to": "@day", "branch": "branch_code"}
DAILY_BALANCE_VERIFICATION = Report(
    id="daily_balance_verification", group="W500", family="ledger", title_zh="每日應收餘額核對",
    title_en="Daily balance verification",
    answers="Whether a day's invoices and receipts per branch agree with what the ledger's W500 day close "
            "posted to accounts receivable.",
    params=(Param("day", "date", "日期", "day", default=lambda today: today - timedelta(days=1)), BRANCH),
    columns=(Column("day", "date", "日期", "day"), Column("branch_code", "text", "分公司", "branch"),
             Column("invoices", "int", "發票張數", "invoices"), _money("invoiced", "發票金額", "invoiced"),
             Column("payments", "int", "收款筆數", "payments"), _money("received", "收款金額", "received"),
             _money("ledger_ar_debit", "總帳應收借方", "ledger AR debits"),
             _money("ledger_ar_credit", "總帳應收貸方", "ledger AR credits"),
             _money("invoice_difference", "發票差異", "invoice difference"),
             _money("receipt_difference", "收款差異", "receipt difference"),
             Column("agrees", "bool", "相符", "agrees")),
    sql=_daily_balance_verification, source="query_time",
    how="Invoices dated that day (not voided) and every payment dated that day (what the day close booked, "
        "whatever its status now) per customer branch, against the W500 postings of that day to account 1191 "
        "per cost centre; a later reversal is an AR debit on its own day, so it shows as an invoice difference.",
    sensitive=True,
    drill=(Drill("period_invoices", _DAY_DRILL, "發票", "invoices"),
           Drill("period_payments", _DAY_DRILL, "收款", "payments")),
    key=("day", "branch_code"),
)

REPORTS: tuple[Report, ...] = (OUTPUT_TAX_SUMMARY, DAILY_BALANCE_VERIFICATION)
