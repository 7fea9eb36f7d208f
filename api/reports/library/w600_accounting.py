"""W600 financial statements: trial balance, profit and loss, balance sheet, the ledger lines behind them, and
the accounting identities `make verify` checks.

Source: every figure is summed from the ledger lines (v_w600_gl_transaction), which are complete: an account's
balance at any period end is the sum of its lines up to it. v_w600_account_balance agrees with the lines (same
period sums, closing = opening + debits - credits, chained openings: see `IDENTITIES`) but is sparse: it has a
row only for an (account, period, cost centre) with postings, so an account without activity in a period has no
balance row there (share capital appears only in its first period). It is read for the budget (w600_management).
Balances are signed debit-positive (debit - credit) in the trial balance; the statements show each section in
its natural sign (assets debit - credit, liabilities, equity and revenue credit - debit, expenses debit - credit).
The cost centre is the branch (`branch`). The ledger books no closing entries and has no retained-earnings
account, so the balance sheet carries the unclosed earnings as computed equity lines: prior years' (累積盈虧)
and the current year's up to the period end (本期損益), which make assets = liabilities + equity.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from api.reports.definition import Chart, Column, Drill, Param, Report
from api.reports.query import QueryContext


def _this_month(today: date) -> str:
    return f"{today:%Y-%m}"


def _january(today: date) -> str:
    return f"{today:%Y}-01"


PERIOD = Param("period", "month", "會計期間", "period (YYYY-MM)", default=_this_month)
PERIOD_FROM = Param("period_from", "month", "起始期間", "from period (YYYY-MM)", default=_january)
PERIOD_TO = Param("period_to", "month", "截止期間", "to period (YYYY-MM)", default=_this_month)
COST_CENTRE = Param("branch", "branch", "成本中心（分公司）", "cost centre (branch)")
PDF = ("json", "csv", "xlsx", "parquet", "pdf")


def cost_centre(ctx: QueryContext, alias: str) -> str:
    """` AND <alias>.cost_center = <branch>` when a cost centre was asked for, else nothing."""
    return f" AND {alias}.cost_center = {ctx.p('branch')}" if ctx.values.get("branch") else ""


def account_columns() -> tuple[Column, ...]:
    return (Column("account_code", "text", "科目代號", "account"),
            Column("name_zh", "text", "科目名稱", "account name"),
            Column("name_en", "text", "英文名稱", "account name (English)"))


def _gl_lines(ctx: QueryContext) -> str:
    since = f" AND g.period >= {ctx.p('period_from')}" if ctx.values.get("period_from") else ""
    return (
        "SELECT g.txn_id, g.journal_no, g.line_no, g.posting_date, g.period, g.account_code, g.cost_center, g.debit, "
        f"g.credit, g.source_module, g.source_ref, g.description_zh FROM {ctx.table('v_w600_gl_transaction')} AS g "
        f"WHERE g.account_code = {ctx.p('account')} AND g.period <= {ctx.p('period_to')}{since}{cost_centre(ctx, 'g')} "
        "ORDER BY g.posting_date, g.journal_no, g.line_no"
    )


GL_LINES = Report(
    id="gl_lines", group="W600", family="ledger", title_zh="總帳明細", title_en="Ledger lines of an account",
    answers="The journal lines posted to one account (and cost centre) in a range of periods: what a balance is "
            "made of.",
    params=(Param("account", "text", "科目代號", "account code", required=True),
            Param("period_from", "month", "起始期間", "from period (empty: from the first posting)"),
            PERIOD_TO, COST_CENTRE),
    columns=(Column("txn_id", "int", "分錄編號", "line id"), Column("journal_no", "text", "傳票號碼", "journal"),
             Column("line_no", "int", "項次", "line"), Column("posting_date", "date", "過帳日", "posting date"),
             Column("period", "text", "期間", "period"), Column("account_code", "text", "科目代號", "account"),
             Column("cost_center", "text", "成本中心", "cost centre"),
             Column("debit", "money", "借方", "debit", "TWD"), Column("credit", "money", "貸方", "credit", "TWD"),
             Column("source_module", "text", "來源模組", "source module"),
             Column("source_ref", "text", "來源參照", "source reference"),
             Column("description_zh", "text", "摘要", "description")),
    sql=_gl_lines, source="query_time", how="The current ledger lines (v_w600_gl_transaction).",
    key=("txn_id",),
)


def _trial_balance(ctx: QueryContext) -> str:
    period = ctx.p("period")
    return (
        "SELECT g.account_code, any(m.name_zh), any(m.name_en), any(m.account_type), any(m.normal_balance), "
        f"sumIf(g.debit - g.credit, g.period < {period}) AS opening_net, "
        f"sumIf(g.debit, g.period = {period}) AS debits, sumIf(g.credit, g.period = {period}) AS credits, "
        "opening_net + debits - credits AS closing_net, if(closing_net > 0, closing_net, 0), "
        "if(closing_net < 0, -closing_net, 0) "
        f"FROM {ctx.table('v_w600_gl_transaction')} AS g "
        f"LEFT JOIN {ctx.table('v_w600_gl_master')} AS m ON m.account_code = g.account_code "
        f"WHERE g.period <= {period}{cost_centre(ctx, 'g')} GROUP BY g.account_code "
        "HAVING opening_net != 0 OR debits != 0 OR credits != 0 ORDER BY g.account_code"
    )


TRIAL_BALANCE = Report(
    id="trial_balance", group="W600", family="ledger", title_zh="試算表", title_en="Trial balance",
    answers="Each account's opening balance, the period's debits and credits and its closing balance; "
            "total debits equal total credits.",
    params=(PERIOD, COST_CENTRE),
    columns=(*account_columns(), Column("account_type", "text", "科目類別", "account type"),
             Column("normal_balance", "text", "正常餘額", "normal balance"),
             Column("opening", "money", "期初餘額（借正）", "opening (debit +)", "TWD"),
             Column("period_debit", "money", "本期借方", "period debits", "TWD"),
             Column("period_credit", "money", "本期貸方", "period credits", "TWD"),
             Column("closing", "money", "期末餘額（借正）", "closing (debit +)", "TWD"),
             Column("closing_debit", "money", "期末借餘", "closing debit balance", "TWD"),
             Column("closing_credit", "money", "期末貸餘", "closing credit balance", "TWD")),
    sql=_trial_balance, source="query_time",
    how="Summed from the ledger lines (v_w600_gl_transaction) up to the period; opening = lines before it.",
    drill=(Drill("gl_lines", {"account": "account_code", "period_from": "@period", "period_to": "@period",
                              "branch": "@branch"}, "分錄", "ledger lines"),),
    key=("account_code",),
)


def _profit_and_loss(ctx: QueryContext) -> str:
    return (
        "WITH a AS (SELECT multiIf(m.account_type = 'revenue', 'revenue', m.parent_code = '5000', 'cost_of_sales', "
        "'operating_expense') AS section, g.account_code AS code, any(m.name_zh) AS name_zh, "
        "any(m.name_en) AS name_en, "
        "sum(if(m.account_type = 'revenue', g.credit - g.debit, g.debit - g.credit)) AS amount "
        f"FROM {ctx.table('v_w600_gl_transaction')} AS g "
        f"INNER JOIN {ctx.table('v_w600_gl_master')} AS m ON m.account_code = g.account_code "
        "WHERE m.account_type IN ('revenue', 'expense') "
        f"AND g.period BETWEEN {ctx.p('period_from')} AND {ctx.p('period_to')}{cost_centre(ctx, 'g')} "
        "GROUP BY section, code) "
        "SELECT l.1, l.2, l.3, l.4, l.5, if(t.revenue = 0, NULL, toFloat64(l.5) / toFloat64(t.revenue) * 100) "
        f"FROM (SELECT {_lines('section', _PL_SORT)}, "
        "sumIf(amount, section = 'revenue') AS revenue, sumIf(amount, section = 'cost_of_sales') AS cost, "
        "sumIf(amount, section = 'operating_expense') AS opex FROM a) AS t ARRAY JOIN arrayConcat(t.accounts, ["
        f"{_line('gross_profit', '營業毛利', 'Gross profit', 'revenue - cost', 3)}, "
        f"{_line('net_income', '本期淨利', 'Net income', 'revenue - cost - opex', 5)}]) AS l ORDER BY l.6, l.2"
    )


_PL_SORT = "multiIf(section = 'revenue', 1, section = 'cost_of_sales', 2, 4)"
_BS_SORT = "multiIf(section = 'asset', 1, section = 'liability', 2, 3)"


# The statements read the ledger once: the accounts' lines are gathered into an array next to the totals the
# computed lines need, then unfolded (ARRAY JOIN), instead of a UNION re-reading the ledger for each total.
def _lines(*head: str) -> str:
    """The accounts of `a` as an array `accounts` of (head..., code, name_zh, name_en, amount, sort)."""
    *first, sort = head
    fields = ", ".join([*first, "toNullable(code)", "name_zh", "name_en", "toDecimal128(amount, 4)",
                        f"toUInt8({sort})"])
    return f"groupArray(tuple({fields})) AS accounts"


def _line(kind: str, name_zh: str, name_en: str, amount: str, sort: int, *head: str) -> str:
    """A computed line (no account) shaped like `_lines`' elements."""
    fields = ", ".join([*(f"'{h}'" for h in head), f"'{kind}'", "CAST(NULL, 'Nullable(String)')", f"'{name_zh}'",
                        f"'{name_en}'", f"toDecimal128({amount}, 4)", f"toUInt8({sort})"])
    return f"tuple({fields})"


PROFIT_AND_LOSS = Report(
    id="profit_and_loss", group="W600", family="ledger", title_zh="損益表", title_en="Profit and loss",
    answers="Revenue, cost of sales and operating expenses per account over a range of periods, gross profit and "
            "net income, each also as a share of revenue.",
    params=(PERIOD_FROM, PERIOD_TO, COST_CENTRE),
    columns=(Column("section", "text", "類別", "section"), *account_columns(),
             Column("amount", "money", "金額", "amount", "TWD"),
             Column("of_revenue", "rate", "占營收比", "share of revenue", "%")),
    sql=_profit_and_loss, source="query_time",
    how="Revenue (credit - debit) and expense (debit - credit) ledger lines of the periods, by account; cost of "
        "sales = accounts under 5000; gross profit and net income are computed lines (account empty).",
    formats=PDF, chart=Chart("bar", "name_zh", ("amount",), "損益項目", "Profit and loss lines"),
    drill=(Drill("gl_lines", {"account": "account_code", "period_from": "@period_from", "period_to": "@period_to",
                              "branch": "@branch"}, "分錄", "ledger lines"),),
    key=("section", "account_code"),
)


def _balance_sheet(ctx: QueryContext) -> str:
    gl, master, period = ctx.table("v_w600_gl_transaction"), ctx.table("v_w600_gl_master"), ctx.p("period")
    year_start = ctx.bind("year_start", f"{ctx.values['period'][:4]}-01", "String")
    where = f"g.period <= {period}{cost_centre(ctx, 'g')}"
    return (
        "WITH a AS (SELECT m.account_type AS section, g.account_code AS code, any(m.name_zh) AS name_zh, "
        "any(m.name_en) AS name_en, "
        "sum(if(m.account_type = 'asset', g.debit - g.credit, g.credit - g.debit)) AS amount, "
        f"sumIf(g.credit - g.debit, g.period < {year_start}) AS before_year, "
        f"sumIf(g.credit - g.debit, g.period >= {year_start}) AS this_year "
        f"FROM {gl} AS g INNER JOIN {master} AS m ON m.account_code = g.account_code "
        f"WHERE {where} GROUP BY section, code) "
        "SELECT l.1, l.2, l.3, l.4, l.5, l.6 FROM (SELECT "
        f"{_lines('section', _ACCOUNT, _BS_SORT)}, "
        f"sumIf(before_year, {_EARNINGS}) AS retained, sumIf(this_year, {_EARNINGS}) AS current FROM a) AS t "
        f"ARRAY JOIN arrayConcat(arrayFilter(x -> x.1 IN ('asset', 'liability', 'equity'), t.accounts), ["
        f"{_line('retained_earnings', '累積盈虧', _RETAINED_EN, 'retained', 4, 'equity')}"
        f", {_line('current_earnings', '本期損益', 'Current-year earnings', 'current', 5, 'equity')}]) AS l "
        "WHERE l.6 != 0 ORDER BY l.7, l.3"
    )


_ACCOUNT = "'account'"
_RETAINED_EN = "Retained earnings (prior years, unclosed)"
_EARNINGS = "section IN ('revenue', 'expense')"


BALANCE_SHEET = Report(
    id="balance_sheet", group="W600", family="ledger", title_zh="資產負債表", title_en="Balance sheet",
    answers="Assets, liabilities and equity at a period end, with the unclosed earnings as equity, so that "
            "assets = liabilities + equity.",
    params=(PERIOD, COST_CENTRE),
    columns=(Column("section", "text", "類別", "section"), Column("line", "text", "項目類別", "line"),
             *account_columns(), Column("amount", "money", "金額", "amount", "TWD")),
    sql=_balance_sheet, source="query_time",
    how="Ledger lines up to the period end: asset, liability and equity accounts' balances (zero balances left "
        "out), plus revenue - expenses before the period's year (retained) and within it (current-year earnings).",
    formats=PDF, chart=Chart("bar", "name_zh", ("amount",), "資產負債項目", "Balance sheet lines"),
    drill=(Drill("gl_lines", {"account": "account_code", "period_to": "@period", "branch": "@branch"},
                 "分錄", "ledger lines"),),
    key=("section", "line", "account_code"),
)

REPORTS: tuple[Report, ...] = (GL_LINES, TRIAL_BALANCE, PROFIT_AND_LOSS, BALANCE_SHEET)

# ---------------------------------------------------------------- accounting identities (make verify)

_CUMULATIVE = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
_BY_TYPE = (
    "SELECT g.period AS period, "
    "sumIf(g.debit - g.credit, m.account_type = 'asset') AS assets, "
    "sumIf(g.credit - g.debit, m.account_type = 'liability') AS liabilities, "
    "sumIf(g.credit - g.debit, m.account_type = 'equity') AS equity, "
    "sumIf(g.credit - g.debit, m.account_type IN ('revenue', 'expense')) AS net_income "
    "FROM v_w600_gl_transaction AS g INNER JOIN v_w600_gl_master AS m ON m.account_code = g.account_code "
    "GROUP BY period"
)

IDENTITIES: tuple[tuple[str, str], ...] = (
    ("every journal balances (its debits = its credits)",
     "SELECT journal_no, sum(debit) - sum(credit) AS difference FROM v_w600_gl_transaction GROUP BY journal_no "
     "HAVING difference != 0 ORDER BY journal_no"),
    ("trial balance: total debits = total credits in every period",
     "SELECT period, sum(debit) - sum(credit) AS difference FROM v_w600_gl_transaction GROUP BY period "
     "HAVING difference != 0 ORDER BY period"),
    ("trial balance: closing debit balances = closing credit balances at every period end",
     "SELECT period, sum(if(balance > 0, balance, 0)) - sum(if(balance < 0, -balance, 0)) AS gap FROM "
     "(SELECT p.period AS period, a.account_code, sumIf(a.net, a.period <= p.period) AS balance "
     "FROM (SELECT DISTINCT period FROM v_w600_gl_transaction) AS p CROSS JOIN (SELECT period, account_code, "
     "sum(debit - credit) AS net FROM v_w600_gl_transaction GROUP BY period, account_code) AS a "
     "GROUP BY period, a.account_code) GROUP BY period HAVING gap != 0 ORDER BY period"),
    ("every ledger line posts to a known postable account",
     "SELECT g.account_code, count() FROM v_w600_gl_transaction AS g LEFT JOIN v_w600_gl_master AS m "
     "ON m.account_code = g.account_code WHERE ifNull(m.account_code, '') = '' OR NOT ifNull(m.is_postable, false) "
     "GROUP BY g.account_code"),
    ("balance sheet balances: assets = liabilities + equity + unclosed earnings at every period end",
     f"SELECT period, gap FROM (SELECT period, sum(assets - liabilities - equity - net_income) OVER (ORDER BY period "
     f"{_CUMULATIVE}) AS gap FROM ({_BY_TYPE})) WHERE gap != 0 ORDER BY period"),
    ("net income of every period = the change in retained earnings (net assets less postings to equity "
     "accounts: the ledger carries no retained-earnings account)",
     f"SELECT period, (assets - liabilities - equity) - net_income AS gap FROM ({_BY_TYPE}) WHERE gap != 0 "
     "ORDER BY period"),
    ("account_balance ties to the ledger lines (debits and credits per account, period and cost centre)",
     "SELECT account_code, period, cost_center, b_debit - l_debit, b_credit - l_credit FROM "
     "(SELECT account_code, period, cost_center, period_debit AS b_debit, period_credit AS b_credit "
     "FROM v_w600_account_balance) AS b FULL OUTER JOIN "
     "(SELECT account_code, period, ifNull(cost_center, '') AS cost_center, sum(debit) AS l_debit, "
     "sum(credit) AS l_credit FROM v_w600_gl_transaction GROUP BY account_code, period, cost_center) AS l "
     "USING (account_code, period, cost_center) WHERE b_debit != l_debit OR b_credit != l_credit "
     "ORDER BY account_code, period, cost_center"),
    ("account_balance: closing = opening + debits - credits, opening = the previous period's closing",
     "SELECT account_code, period, cost_center, opening_balance, closing_balance, previous FROM "
     "(SELECT account_code, period, cost_center, opening_balance, closing_balance, period_debit, period_credit, "
     "lagInFrame(toNullable(closing_balance)) OVER (PARTITION BY account_code, cost_center ORDER BY period "
     f"{_CUMULATIVE}) AS previous FROM v_w600_account_balance) "
     "WHERE closing_balance != opening_balance + period_debit - period_credit "
     "OR (previous IS NOT NULL AND opening_balance != previous) ORDER BY account_code, period, cost_center"),
)
"""(identity, ClickHouse query of the rows that break it): each holds when its query returns no row. They read
the whole ledger (all cost centres): a verify-time check, not a report."""

SHOWN = 3


def accounting_identities(client: Any) -> list[str]:
    """The identities of `IDENTITIES` that the ledger in ClickHouse breaks, each with up to `SHOWN` offending rows.
    `client` is a clickhouse-connect client (or anything with `.query(sql).result_rows`); empty list: all hold."""
    broken: list[str] = []
    for name, sql in IDENTITIES:
        rows = client.query(sql).result_rows
        if rows:
            shown = "; ".join(str(tuple(row)) for row in rows[:SHOWN])
            broken.append(f"{name}: {len(rows)} rows break it, e.g. {shown}")
    return broken

