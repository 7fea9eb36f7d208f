"""Bank reports: the newest reconciliation of statements against the book, cash flow per account and day,
and the customer collections the bank shows (company accounts: head office and auditors only).

The bank tables (`sinks.bank_tables`) hold what the MT940 import accepted: statements keyed by account,
currency, statement number and opening balance, their movements (signed amounts: credits positive), and the
reconciliation runs, of which `bank_reconciliation_latest` / `_summary` show the newest. Bank amounts are in the
account's currency (`currency` column), kept exact as decimals; book amounts are TWD.
"""

from __future__ import annotations

from datetime import timedelta

from api.reports.definition import Column, Drill, Param, Report
from api.reports.query import QueryContext

STATUSES = ("matched", "amount_mismatch", "unmatched_bank", "unmatched_book", "other_currency")
DATE_FROM_30 = Param("date_from", "date", "起日", "from", default=lambda today: today - timedelta(days=29))
DATE_TO = Param("date_to", "date", "迄日", "to", default=lambda today: today)
ACCOUNT = Param("account", "text", "銀行帳號", "bank account")


def _bank(name: str, zh: str, en: str) -> Column:
    return Column(name, "decimal", zh, en)  # in the row's currency


def _twd(name: str, zh: str, en: str) -> Column:
    return Column(name, "money", zh, en, "TWD")


def _filter(ctx: QueryContext, column: str, param: str) -> str:
    return f" AND {column} = {ctx.p(param)}" if ctx.values.get(param) is not None else ""


def _bank_reconciliation(ctx: QueryContext) -> str:
    return (
        "SELECT s.period_start, s.period_end, b.account, b.currency, b.statement_number, b.opening_date, b.status, "
        "count(), sum(b.bank_amount), sum(b.book_amount), sum(b.difference) "
        f"FROM {ctx.table('bank_reconciliation_latest')} AS b "
        f"CROSS JOIN {ctx.table('bank_reconciliation_summary')} AS s WHERE 1{_filter(ctx, 'b.account', 'account')} "
        "GROUP BY s.period_start, s.period_end, b.account, b.currency, b.statement_number, b.opening_date, b.status "
        "ORDER BY b.account NULLS LAST, b.opening_date, b.statement_number, b.status"
    )


_ITEM_DRILL = (Drill("bank_reconciliation_items", {"account": "account", "statement_number": "statement_number",
                                                   "status": "status"}, "對帳明細", "items"),)
BANK_RECONCILIATION = Report(
    id="bank_reconciliation", group="BANK", family="bank", title_zh="銀行對帳結果", title_en="Bank reconciliation",
    answers="The newest reconciliation: per statement, how many bank lines matched a book payment, differ in "
            "amount or have no partner, and the book payments no statement shows.",
    params=(ACCOUNT,),
    columns=(Column("period_start", "date", "對帳期間起", "period from"),
             Column("period_end", "date", "對帳期間迄", "period to"), Column("account", "text", "銀行帳號", "account"),
             Column("currency", "text", "幣別", "currency"),
             Column("statement_number", "int", "對帳單號", "statement no"),
             Column("opening_date", "date", "期初日", "opening date"), Column("status", "text", "結果", "status"),
             Column("items", "int", "筆數", "items"), _bank("bank_amount", "銀行金額", "bank amount"),
             _twd("book_amount", "帳上金額", "book amount"), _bank("difference", "差額", "difference")),
    sql=_bank_reconciliation, source="query_time",
    how="The items of the newest run (bank_reconciliation_latest) counted per statement and status; book "
        "payments missing from the bank have no statement (empty account).",
    drill=_ITEM_DRILL, key=("account", "currency", "statement_number", "opening_date", "status"),
)


def _items(ctx: QueryContext) -> str:
    status = " AND b.status = " + ctx.p("status") if ctx.values.get("status") not in (None, "all") else ""
    return (
        "SELECT b.status, b.account, b.currency, b.statement_number, b.opening_date, b.line, b.value_date, "
        "b.bank_amount, b.payment_id, b.invoice_id, b.customer_id, b.payment_date, b.book_amount, b.difference, "
        f"b.linked_by, b.day_difference FROM {ctx.table('bank_reconciliation_latest')} AS b WHERE 1"
        f"{_filter(ctx, 'b.account', 'account')}{_filter(ctx, 'b.statement_number', 'statement_number')}{status} "
        "ORDER BY b.account NULLS LAST, b.statement_number, b.line, b.payment_date, b.payment_id"
    )


BANK_RECONCILIATION_ITEMS = Report(
    id="bank_reconciliation_items", group="BANK", family="bank", title_zh="銀行對帳明細",
    title_en="Bank reconciliation items",
    answers="Each bank line and book payment of the newest reconciliation, with its partner and difference.",
    params=(ACCOUNT, Param("statement_number", "int", "對帳單號", "statement no", minimum=0),
            Param("status", "choice", "結果", "status", default="all", choices=("all", *STATUSES))),
    columns=(Column("status", "text", "結果", "status"), Column("account", "text", "銀行帳號", "account"),
             Column("currency", "text", "幣別", "currency"),
             Column("statement_number", "int", "對帳單號", "statement no"),
             Column("opening_date", "date", "期初日", "opening date"), Column("line", "int", "行號", "line"),
             Column("value_date", "date", "起息日", "value date"), _bank("bank_amount", "銀行金額", "bank amount"),
             Column("payment_id", "int", "收款編號", "payment id"),
             Column("invoice_id", "int", "發票編號", "invoice id"),
             Column("customer_id", "int", "客戶編號", "customer id"),
             Column("payment_date", "date", "收款日期", "payment date"), _twd("book_amount", "帳上金額", "book amount"),
             _bank("difference", "差額(銀行-帳上)", "difference (bank - book)"),
             Column("linked_by", "text", "連結依據", "linked by"),
             Column("day_difference", "int", "日差(起息-收款)", "days (value - payment)", "days")),
    sql=_items, source="query_time", how="The newest run's items (bank_reconciliation_latest).",
    key=("status", "account", "statement_number", "line", "payment_id"),
)


def _cash_flow(ctx: QueryContext) -> str:
    order = "(s.opening_date, s.statement_number)"
    return (
        f"SELECT s.closing_date, s.account, s.currency, count(), argMin(s.opening_amount, {order}), "
        f"sum(s.credits), sum(s.debits), argMax(s.closing_amount, {order}), sum(s.movements) "
        f"FROM {ctx.table('v_bank_statements')} AS s "
        f"WHERE s.closing_date BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}"
        f"{_filter(ctx, 's.account', 'account')} "
        "GROUP BY s.closing_date, s.account, s.currency ORDER BY s.closing_date, s.account, s.currency"
    )


CASH_FLOW = Report(
    id="cash_flow", group="BANK", family="bank", title_zh="銀行現金流量", title_en="Bank cash flow",
    answers="Per account and day: the balance the bank opened with, money in, money out, and the closing balance.",
    params=(DATE_FROM_30, DATE_TO, ACCOUNT),
    columns=(Column("day", "date", "日期", "day"), Column("account", "text", "銀行帳號", "account"),
             Column("currency", "text", "幣別", "currency"), Column("statements", "int", "對帳單數", "statements"),
             _bank("opening", "期初餘額", "opening"), _bank("credits", "存入", "credits"),
             _bank("debits", "支出", "debits"), _bank("closing", "期末餘額", "closing"),
             Column("movements", "int", "交易筆數", "movements")),
    sql=_cash_flow, source="query_time",
    how="The accepted statements (v_bank_statements) by closing date: the first statement's opening balance, "
        "the sums of credits and debits, the last statement's closing balance.",
    max_range_days=400,
    drill=(Drill("bank_statement_lines", {"account": "account", "day": "day"}, "交易明細", "movements"),),
    key=("day", "account", "currency"),
)


def _statement_lines(ctx: QueryContext) -> str:
    key = "(m.account, m.currency, m.statement_number, m.opening_date, m.opening_amount)"
    return (
        "SELECT m.account, m.currency, m.statement_number, m.opening_date, m.line, m.value_date, m.entry_date, "
        "m.booking_date, m.mark, m.amount, m.type_code, m.customer_reference, m.bank_reference, m.details "
        f"FROM {ctx.table('v_bank_movements')} AS m WHERE m.account = {ctx.p('account')} AND {key} IN "
        "(SELECT account, currency, statement_number, opening_date, opening_amount "
        f"FROM {ctx.table('v_bank_statements')} WHERE account = {ctx.p('account')} AND closing_date = {ctx.p('day')}) "
        "ORDER BY m.opening_date, m.statement_number, m.line"
    )


BANK_STATEMENT_LINES = Report(
    id="bank_statement_lines", group="BANK", family="bank", title_zh="銀行交易明細", title_en="Bank statement lines",
    answers="The movements of an account's statements closing on one day, as the bank sent them.",
    params=(Param("account", "text", "銀行帳號", "bank account", required=True),
            Param("day", "date", "日期", "day", default=lambda today: today - timedelta(days=1))),
    columns=(Column("account", "text", "銀行帳號", "account"), Column("currency", "text", "幣別", "currency"),
             Column("statement_number", "int", "對帳單號", "statement no"),
             Column("opening_date", "date", "期初日", "opening date"), Column("line", "int", "行號", "line"),
             Column("value_date", "date", "起息日", "value date"), Column("entry_date", "date", "入帳日", "entry date"),
             Column("booking_date", "date", "記帳日", "booking date"), Column("mark", "text", "借貸", "mark"),
             _bank("amount", "金額", "amount"), Column("type_code", "text", "交易類別", "type"),
             Column("customer_reference", "text", "客戶參考", "customer reference"),
             Column("bank_reference", "text", "銀行參考", "bank reference"),
             Column("details", "text", "附言", "details")),
    sql=_statement_lines, source="query_time", how="The accepted statement lines (v_bank_movements).",
    key=("account", "statement_number", "opening_date", "line"),
)


def _bank_collections(ctx: QueryContext) -> str:
    linked = ctx.values.get("linked_by")
    by = f" AND b.linked_by = {ctx.p('linked_by')}" if linked and linked != "all" else ""
    return (
        "SELECT b.value_date, b.account, b.statement_number, b.line, b.bank_amount, m.customer_reference, "
        "b.customer_id, c.customer_code, c.name_zh, b.payment_id, b.invoice_id, b.payment_date, b.book_amount, "
        f"b.difference, b.status, b.linked_by, b.day_difference FROM {ctx.table('bank_reconciliation_latest')} AS b "
        f"LEFT JOIN {ctx.table('v_bank_movements')} AS m ON m.account = b.account AND m.currency = b.currency "
        "AND m.statement_number = b.statement_number AND m.opening_date = b.opening_date AND m.line = b.line "
        f"LEFT JOIN {ctx.table('v_w100_customer_master')} AS c ON c.customer_id = b.customer_id "
        "WHERE b.status IN ('matched', 'amount_mismatch') "
        f"AND b.value_date BETWEEN {ctx.p('date_from')} AND {ctx.p('date_to')}{by} "
        "ORDER BY b.value_date, b.account, b.statement_number, b.line"
    )


BANK_COLLECTIONS = Report(
    id="bank_collections", group="BANK", family="bank", title_zh="銀行收款明細", title_en="Bank collections",
    answers="Which customer payment each bank credit was matched to (by default those linked by virtual account).",
    params=(DATE_FROM_30, DATE_TO, Param("linked_by", "choice", "連結依據", "linked by", default="virtual_account",
                                         choices=("virtual_account", "reference", "all"))),
    columns=(Column("value_date", "date", "起息日", "value date"), Column("account", "text", "銀行帳號", "account"),
             Column("statement_number", "int", "對帳單號", "statement no"), Column("line", "int", "行號", "line"),
             _bank("bank_amount", "銀行金額", "bank amount"),
             Column("customer_reference", "text", "客戶參考(虛擬帳號)", "customer reference (virtual account)"),
             Column("customer_id", "int", "客戶編號", "customer id"),
             Column("customer_code", "text", "客戶代號", "code"),
             Column("customer_name", "text", "客戶名稱", "customer", personal="person_name"),
             Column("payment_id", "int", "收款編號", "payment id"),
             Column("invoice_id", "int", "發票編號", "invoice id"),
             Column("payment_date", "date", "收款日期", "payment date"), _twd("book_amount", "帳上金額", "book amount"),
             _bank("difference", "差額", "difference"), Column("status", "text", "結果", "status"),
             Column("linked_by", "text", "連結依據", "linked by"),
             Column("day_difference", "int", "日差", "days (value - payment)", "days")),
    sql=_bank_collections, source="query_time",
    how="Matched and amount-mismatched items of the newest reconciliation with a value date in the range, "
        "with the line's customer reference and the payer from the customer master.",
    max_range_days=93, key=("account", "statement_number", "line"),
)

REPORTS: tuple[Report, ...] = (BANK_RECONCILIATION, BANK_RECONCILIATION_ITEMS, CASH_FLOW, BANK_STATEMENT_LINES,
                               BANK_COLLECTIONS)
