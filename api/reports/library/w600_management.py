"""W600 management accounting: budget against actual, cost centre (branch) performance, cost analysis, and the
month-end and year-end summaries.

Actuals are the ledger lines (v_w600_gl_transaction), in the natural sign of their section (revenue credit -
debit, expenses debit - credit); the budget is `budget_amount` of the period balances (v_w600_account_balance,
one row per account, period and cost centre with postings, whose debits and credits equal the lines': see
w600_accounting). Budgets are set for revenue and expense accounts, so budget against actual covers those.
Cost of sales = the accounts under 5000 (營業成本), operating expenses = those under 6000 (營業費用).
"""

from __future__ import annotations

from api.reports.definition import Column, Drill, Param, Report
from api.reports.library.w600_accounting import (
    COST_CENTRE,
    PERIOD,
    PERIOD_FROM,
    PERIOD_TO,
    account_columns,
    cost_centre,
)
from api.reports.query import QueryContext

CASH_ACCOUNTS = ("1101", "1113")  # 現金, 銀行存款
RECEIVABLE_ACCOUNTS = ("1191",)  # 應收帳款
_NATURAL = "if(m.account_type = 'revenue', {a}.credit - {a}.debit, {a}.debit - {a}.credit)"
_RANGE_DRILL = {"period_from": "@period_from", "period_to": "@period_to"}


def _pct(part: str, whole: str) -> str:
    return f"if({whole} = 0, NULL, toFloat64({part}) / toFloat64({whole}) * 100)"


def _budget_vs_actual(ctx: QueryContext) -> str:
    actual = "if(m.account_type = 'revenue', b.period_credit - b.period_debit, b.period_debit - b.period_credit)"
    return (
        "SELECT b.account_code, m.name_zh, m.name_en, m.account_type, b.cost_center, b.budget_amount AS budget, "
        f"{actual} AS actual_amount, actual_amount - budget AS variance, {_pct('variance', 'budget')}, "
        "if(m.account_type = 'revenue', actual_amount >= budget, actual_amount <= budget) "
        f"FROM {ctx.table('v_w600_account_balance')} AS b "
        f"INNER JOIN {ctx.table('v_w600_gl_master')} AS m ON m.account_code = b.account_code "
        f"WHERE m.account_type IN ('revenue', 'expense') AND b.period = {ctx.p('period')}{cost_centre(ctx, 'b')} "
        "ORDER BY b.account_code, b.cost_center"
    )


BUDGET_VS_ACTUAL = Report(
    id="budget_vs_actual", group="W600", family="ledger", title_zh="預算與實際比較", title_en="Budget vs actual",
    answers="Each revenue and expense account's budget and actual per cost centre for a period, the variance and "
            "whether it is favourable.",
    params=(PERIOD, COST_CENTRE),
    columns=(*account_columns(), Column("account_type", "text", "科目類別", "account type"),
             Column("cost_center", "text", "成本中心", "cost centre"),
             Column("budget_amount", "money", "預算", "budget", "TWD"),
             Column("actual", "money", "實際", "actual", "TWD"),
             Column("variance", "money", "差異（實際－預算）", "variance (actual - budget)", "TWD"),
             Column("variance_pct", "rate", "差異率", "variance", "%"),
             Column("favourable", "bool", "有利差異", "favourable")),
    sql=_budget_vs_actual, source="query_time",
    how="The period balances (v_w600_account_balance): budget_amount against the period's debits and credits "
        "in the account's natural sign; variance % = variance / budget.",
    drill=(Drill("gl_lines", {"account": "account_code", "branch": "cost_center", "period_from": "@period",
                              "period_to": "@period"}, "分錄", "ledger lines"),),
    key=("account_code", "cost_center"),
)


def _department_performance(ctx: QueryContext) -> str:
    natural = _NATURAL.format(a="g")
    return (
        "SELECT x.cost_center, br.name_zh, x.revenue, x.cost, x.revenue - x.cost AS gross, x.opex, "
        f"gross - x.opex AS margin, {_pct('margin', 'x.revenue')} FROM ("
        f"SELECT g.cost_center AS cost_center, sumIf({natural}, m.account_type = 'revenue') AS revenue, "
        f"sumIf({natural}, m.account_type = 'expense' AND m.parent_code = '5000') AS cost, "
        f"sumIf({natural}, m.account_type = 'expense' AND ifNull(m.parent_code, '') != '5000') AS opex "
        f"FROM {ctx.table('v_w600_gl_transaction')} AS g "
        f"INNER JOIN {ctx.table('v_w600_gl_master')} AS m ON m.account_code = g.account_code "
        "WHERE m.account_type IN ('revenue', 'expense') "
        f"AND g.period BETWEEN {ctx.p('period_from')} AND {ctx.p('period_to')}{cost_centre(ctx, 'g')} "
        f"GROUP BY cost_center) AS x LEFT JOIN {ctx.table('v_w110_branch')} AS br ON br.branch_code = x.cost_center "
        "ORDER BY x.cost_center"
    )


DEPARTMENT_PERFORMANCE = Report(
    id="department_performance", group="W600", family="ledger", title_zh="部門績效", title_en="Cost centre performance",
    answers="Each cost centre's (branch's) revenue, cost of sales, gross profit, operating expenses and margin over "
            "a range of periods.",
    params=(PERIOD_FROM, PERIOD_TO, COST_CENTRE),
    columns=(Column("cost_center", "text", "成本中心", "cost centre"),
             Column("branch_name", "text", "分公司", "branch"),
             Column("revenue", "money", "營業收入", "revenue", "TWD"),
             Column("cost_of_sales", "money", "營業成本", "cost of sales", "TWD"),
             Column("gross_profit", "money", "營業毛利", "gross profit", "TWD"),
             Column("operating_expenses", "money", "營業費用", "operating expenses", "TWD"),
             Column("margin", "money", "營業利益", "operating margin", "TWD"),
             Column("margin_pct", "rate", "營業利益率", "operating margin", "%")),
    sql=_department_performance, source="query_time",
    how="Revenue and expense ledger lines of the periods (v_w600_gl_transaction) per cost centre; margin = revenue "
        "- cost of sales - operating expenses, margin % = margin / revenue.",
    drill=(Drill("profit_and_loss", {"branch": "cost_center", **_RANGE_DRILL}, "損益表", "profit and loss"),),
    key=("cost_center",),
)


def _cost_analysis(ctx: QueryContext) -> str:
    return (
        "SELECT code, name_zh, name_en, section, cost_center, amount, "
        f"{_pct('amount', 'sum(amount) OVER ()')}, {_pct('amount', 'sum(amount) OVER (PARTITION BY cost_center)')} "
        "FROM (SELECT g.account_code AS code, any(m.name_zh) AS name_zh, any(m.name_en) AS name_en, "
        "if(any(m.parent_code) = '5000', 'cost_of_sales', 'operating_expense') AS section, "
        "g.cost_center AS cost_center, sum(g.debit - g.credit) AS amount "
        f"FROM {ctx.table('v_w600_gl_transaction')} AS g "
        f"INNER JOIN {ctx.table('v_w600_gl_master')} AS m ON m.account_code = g.account_code "
        f"WHERE m.account_type = 'expense' AND g.period BETWEEN {ctx.p('period_from')} AND {ctx.p('period_to')}"
        f"{cost_centre(ctx, 'g')} GROUP BY code, cost_center) ORDER BY code, cost_center"
    )


COST_ANALYSIS = Report(
    id="cost_analysis", group="W600", family="ledger", title_zh="成本分析", title_en="Cost analysis",
    answers="What each expense account cost each cost centre over a range of periods, and its share of all the "
            "expenses listed and of the cost centre's.",
    params=(PERIOD_FROM, PERIOD_TO, COST_CENTRE),
    columns=(*account_columns(), Column("section", "text", "類別", "section"),
             Column("cost_center", "text", "成本中心", "cost centre"),
             Column("amount", "money", "金額", "amount", "TWD"),
             Column("share", "rate", "占總費用比", "share of all expenses listed", "%"),
             Column("share_of_cost_center", "rate", "占成本中心費用比", "share of the cost centre's expenses", "%")),
    sql=_cost_analysis, source="query_time",
    how="Expense ledger lines of the periods (debit - credit) per account and cost centre; shares of the total of "
        "the rows listed and of each cost centre's total.",
    drill=(Drill("gl_lines", {"account": "account_code", "branch": "cost_center", **_RANGE_DRILL},
                 "分錄", "ledger lines"),),
    key=("account_code", "cost_center"),
)


def _period_summary(ctx: QueryContext) -> str:
    cash = ctx.bind("cash_accounts", list(CASH_ACCOUNTS), "Array(String)")
    receivable = ctx.bind("receivable_accounts", list(RECEIVABLE_ACCOUNTS), "Array(String)")
    since, until = ctx.p("period_from"), ctx.p("period_to")
    if ctx.values.get("grain") == "year":
        key, start, end = ("substring(month, 1, 4)", f"greatest({since}, concat(p, '-01'))",
                           f"least({until}, concat(p, '-12'))")
    else:
        key, start, end = "month", "p", "p"
    return (
        "WITH m AS (SELECT g.period AS month, sumIf(g.credit - g.debit, a.account_type = 'revenue') AS revenue, "
        "sumIf(g.debit - g.credit, a.account_type = 'expense') AS expense, "
        f"sumIf(g.debit - g.credit, g.account_code IN {cash}) AS cash_change, "
        f"sumIf(g.debit - g.credit, g.account_code IN {receivable}) AS receivable_change "
        f"FROM {ctx.table('v_w600_gl_transaction')} AS g "
        f"INNER JOIN {ctx.table('v_w600_gl_master')} AS a ON a.account_code = g.account_code "
        f"WHERE g.period <= {until}{cost_centre(ctx, 'g')} GROUP BY month), "
        "c AS (SELECT month, revenue, expense, "
        "sum(cash_change) OVER (ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cash, "
        "sum(receivable_change) OVER (ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS receivable "
        "FROM m) "
        f"SELECT {key} AS p, {start}, {end}, sum(revenue) AS total_revenue, sum(expense) AS total_expense, "
        "total_revenue - total_expense, "
        f"argMax(cash, month), argMax(receivable, month) FROM c WHERE month >= {since} GROUP BY p ORDER BY p"
    )


PERIOD_SUMMARY = Report(
    id="period_summary", group="W600", family="ledger", title_zh="月結與年結摘要",
    title_en="Month-end and year-end summary",
    answers="For each month (or year) of a range: revenue, expenses, net income, and cash and receivables at its end.",
    params=(Param("grain", "choice", "彙總期間", "grain (month or year)", default="month", choices=("month", "year")),
            PERIOD_FROM, PERIOD_TO, COST_CENTRE),
    columns=(Column("period", "text", "期間", "period"), Column("period_start", "text", "起始月", "first month"),
             Column("period_end", "text", "結束月", "last month"),
             Column("revenue", "money", "營業收入", "revenue", "TWD"),
             Column("expense", "money", "營業成本及費用", "expenses", "TWD"),
             Column("net_income", "money", "本期淨利", "net income", "TWD"),
             Column("closing_cash", "money", "期末現金及銀行存款", "closing cash and bank", "TWD"),
             Column("receivables", "money", "期末應收帳款", "closing receivables", "TWD")),
    sql=_period_summary, source="query_time",
    how="Ledger lines per month (v_w600_gl_transaction): revenue and expenses of the months with postings in the "
        "range; cash (1101, 1113) and receivables (1191) summed over every line up to the period's last month.",
    drill=(Drill("profit_and_loss", {"period_from": "period_start", "period_to": "period_end", "branch": "@branch"},
                 "損益表", "profit and loss"),),
    key=("period",),
)

REPORTS: tuple[Report, ...] = (BUDGET_VS_ACTUAL, DEPARTMENT_PERFORMANCE, COST_ANALYSIS, PERIOD_SUMMARY)
