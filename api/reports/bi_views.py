"""The report catalog as ClickHouse views for BI tools: one view per report family, built from a catalog report's
own query, so a BI tool reading the view and the API running the report cannot disagree about a number.

Contract: `BI_VIEWS` lists the views, each named `report_<family>_<what>`, made from one catalog report with a
value for every parameter of that report. `view_query(view, database)` is that report's `sql(ctx)` built by a
`ViewContext`:
- `ctx.table(name)` is the unfiltered `(SELECT * FROM `<database>`.`name` WHERE 1)` (the report as the head
  office runs it); who sees which rows is the BI row filter that roles.yaml gives the view itself (its
  `branch_column`), the API's own branch condition;
- `ctx.p(name)` is the view's value for the parameter as a typed SQL literal, or, for a value that moves with the
  day (`TODAY`, `THIS_MONTH`), an SQL expression of ClickHouse's Asia/Taipei day, evaluated at every read;
- `ctx.bind(name, value, type)` (constants a report computes in Python) is a typed literal too.
The report's columns come out converted: money `Decimal(18, 2)` rounded half to even (as the runner quantizes),
decimals `Decimal(18, 4)`, dates `Date32`, datetimes `DateTime64(6, 'Asia/Taipei')`, counts `Int64`, rates and
floats `Float64` (NaN as NULL, as the runner gives None), texts `String`, flags `Bool`; every column Nullable.

`create_statement(view, database)` is its idempotent DDL with a zh-TW / English COMMENT on the view and on each
column; `labels_statement(database)` the view `report_view_columns` (one row per view column: labels, unit, kind,
type, personal-data kind) for tools that do not show comments. `run_values(view, today)` are the parameters
with which `api.reports.runner` gives the same rows on business day `today` (tests compare the two).

The literals are the definitions' own constants, never a request's input. A report whose query computes with a
moving parameter in Python (a day count from date_from/date_to, a year cut from a period) cannot be a view: its
build raises `ViewDefinitionError`, as does binding a day computed in Python (the view would be frozen at its
creation day); choose another report of the family. Nothing is read at import time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from api.access.policy import AccessPolicy, load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.catalog import catalog
from api.reports.definition import Column, Report
from api.reports.query import PLACEHOLDER_TYPES, QueryContext

PREFIX = "report_"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LABELS_VIEW = "report_view_columns"
TAIPEI_TODAY = "toDate(now(), 'Asia/Taipei')"
HISTORY_FROM = date(1900, 1, 1)  # Date32's first day: "all history"
HISTORY_TO = date(2299, 12, 31)  # its last
COLUMN_TYPES: Mapping[str, str] = MappingProxyType({
    "text": "String", "int": "Int64", "money": "Decimal(18, 2)", "decimal": "Decimal(18, 4)", "rate": "Float64",
    "float": "Float64", "date": "Date32", "datetime": "DateTime64(6, 'Asia/Taipei')", "bool": "Bool",
})


class ViewDefinitionError(ValueError):
    """A view that cannot be built from its report (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Moving:
    """A parameter value that moves with the day: `sql` in the view (evaluated at each read), `value(today)` for
    the same run through the API on business day `today`."""

    name: str
    sql: str
    value: Callable[[date], Any]


TODAY = Moving("today", TAIPEI_TODAY, lambda today: today)
THIS_MONTH = Moving("this month", f"formatDateTime({TAIPEI_TODAY}, '%Y-%m')", lambda today: f"{today:%Y-%m}")


@dataclass(frozen=True, slots=True)
class BiView:
    """One view: `name`, the catalog report it is made from, what it holds (zh-TW, English) and a value for every
    parameter of the report (a constant or a `Moving` value)."""

    name: str
    report_id: str
    holds_zh: str
    holds_en: str
    params: Mapping[str, Any]

    @property
    def report(self) -> Report:
        return catalog()[self.report_id]

    @property
    def family(self) -> str:
        return self.report.family


_ALL_DAYS = {"date_from": HISTORY_FROM, "date_to": HISTORY_TO}
BI_VIEWS: tuple[BiView, ...] = (
    BiView("report_sales_daily", "daily_sales",
           "各分公司每日銷售（訂單數、數量、未稅、稅、含稅），全部日期",
           "what each branch sold each day (orders, quantity, net, tax, gross), every day",
           {**_ALL_DAYS, "branch": None}),
    BiView("report_fulfilment_daily", "order_fulfilment",
           "各分公司每約定日之應送、已送達、準時、取消與準時率，全部日期",
           "per promised day and branch: due, delivered, on time, cancelled, on-time rate, every day",
           {**_ALL_DAYS, "branch": None}),
    BiView("report_receivables_aging_today", "ar_aging",
           "各客戶至今日（台北）之應收帳齡：0-30、31-60、61-90、90天以上",
           "what each customer owes as of today (Asia/Taipei) by age: 0-30, 31-60, 61-90, over 90 days",
           {"as_of": TODAY, "branch": None, "include_inactive": False}),
    BiView("report_collections_monthly", "collection_performance",
           "全公司每月發票金額、收款金額、收款率與平均收款天數",
           "company-wide per month: invoiced, collected, collection rate, average days to pay",
           {**_ALL_DAYS, "grain": "month", "branch": None}),
    BiView("report_stock_status", "stock_status",
           "各倉庫各產品之實瓶、空瓶、再訂購點與安全存量（即時）",
           "full and empty stock of every product in every warehouse against reorder point and safety stock, now",
           {"branch": None, "only_below": False}),
    BiView("report_dispatch_runs", "route_efficiency",
           "每趟派車：停靠點、送達、準時、計畫與實際里程及時間，全部日期",
           "every dispatch run: stops, deliveries, on time, planned against actual km and minutes, every day",
           {**_ALL_DAYS, "branch": None, "driver_id": None}),
    BiView("report_customers_profile", "customer_profile",
           "客戶基本資料：類別、分公司、狀態、信用、業務、點數、主要聯絡人與地址（不含停用）",
           "the customers (closed and blacklisted left out): type, branch, status, credit, rep, points, contact, "
           "address",
           {"branch": None, "customer_type": None, "include_inactive": False}),
    BiView("report_ledger_trial_balance", "trial_balance",
           "本月（台北）試算表：各科目期初、本期借貸與期末餘額（全公司）",
           "this month's (Asia/Taipei) trial balance: each account's opening, debits, credits, closing, company-wide",
           {"period": THIS_MONTH, "branch": None}),
    BiView("report_reference_price_list", "price_list",
           "今日（台北）有效之各產品各客戶類別價格",
           "the price of each product for each customer type in force today (Asia/Taipei)",
           {"as_of": TODAY, "customer_type": None, "product_id": None}),
    BiView("report_bank_reconciliation", "bank_reconciliation",
           "最新一次銀行對帳：各對帳單各結果之筆數與金額",
           "the newest bank reconciliation: items and amounts per statement and outcome",
           {"account": None}),
)


def bi_view(name: str) -> BiView:
    """The view called `name`; KeyError when there is none."""
    for view in BI_VIEWS:
        if view.name == name:
            return view
    raise KeyError(f"no BI view {name!r}")


def run_values(view: BiView, today: date) -> dict[str, Any]:
    """The parameters with which the runner gives the view's rows on business day `today`."""
    return {name: value.value(today) if isinstance(value, Moving) else value for name, value in view.params.items()}


# ---------------------------------------------------------------- the query


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _bare(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return _quote(value.isoformat())
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_bare(v) for v in value) + "]"
    raise ViewDefinitionError(f"no SQL literal for {value!r}")


def sql_literal(value: Any, type_: str) -> str:
    """`value` as an SQL literal of ClickHouse type `type_` (NULL of Nullable(`type_`) for None)."""
    if value is None:
        return f"CAST(NULL AS Nullable({type_}))"
    return f"CAST({_bare(value)} AS {type_})"


class _SqlOnly:
    """What a moving parameter is to a report's Python code: usable as "given" (truthy), nothing else."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}: an SQL expression>"

    def __str__(self) -> str:
        raise TypeError(f"{self.name} has no value in Python, only in SQL")

    def __format__(self, spec: str) -> str:
        raise TypeError(f"{self.name} has no value in Python, only in SQL")


def head_office_scope(policy: AccessPolicy | None = None) -> RowScope:
    """Every branch, nothing masked: the scope a view is built in (its readers are filtered by roles.yaml)."""
    principal = Principal("bi-view", "service", "head_office", None, frozenset(), None, None)
    return RowScope(principal, policy if policy is not None else load_policy())


class ViewContext(QueryContext):
    """A report's query as a view's: unfiltered tables of `database`, parameters and bound values as literals."""

    def __init__(self, report: Report, params: Mapping[str, Any], database: str, scope: RowScope) -> None:
        missing = sorted({p.name for p in report.params} - set(params))
        unknown = sorted(set(params) - {p.name for p in report.params})
        if missing or unknown:
            raise ViewDefinitionError(f"{report.id}: parameters without a view value {missing}, unknown {unknown}")
        self.database = database
        self._sql: dict[str, str] = {}
        python: dict[str, Any] = {}
        for param in report.params:
            value, type_ = params[param.name], PLACEHOLDER_TYPES[param.kind]
            if isinstance(value, Moving):
                self._sql[param.name] = f"CAST({value.sql} AS {type_})"
                python[param.name] = _SqlOnly(value.name)
            else:
                self._sql[param.name] = sql_literal(value, type_)
                python[param.name] = value
        super().__init__(report, python, scope, None)

    def table(self, name: str) -> str:
        self.scope.policy.table(name)  # ValueError for a table roles.yaml does not list
        if name not in self.tables:
            self.tables.append(name)
        return f"(SELECT * FROM `{self.database}`.`{name}` WHERE 1)"

    def p(self, name: str) -> str:
        self.report.param(name)  # KeyError naming an undeclared parameter
        return self._sql[name]

    def bind(self, name: str, value: Any, type_: str) -> str:
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a parameter name")
        if isinstance(value, date):
            raise ViewDefinitionError(f"{self.report.id} binds a day computed in Python ({name}): the view would "
                                      "keep the day it was created on")
        return sql_literal(value, type_)


def _converted(column: Column, ref: str) -> str:
    target = f"Nullable({COLUMN_TYPES[column.kind]})"
    if column.kind == "money":
        return f"CAST(roundBankers({ref}, 2) AS {target})"
    if column.kind in ("rate", "float"):
        return f"CAST(if(isNaN(toFloat64({ref})), NULL, toFloat64({ref})) AS {target})"
    return f"CAST({ref} AS {target})"


def view_query(view: BiView, database: str, policy: AccessPolicy | None = None) -> tuple[str, tuple[str, ...]]:
    """(the view's SELECT, the tables it reads). ViewDefinitionError when the report cannot be a view."""
    report = view.report
    ctx = ViewContext(report, view.params, database, head_office_scope(policy))
    try:
        inner = report.sql(ctx)
    except TypeError as error:
        raise ViewDefinitionError(f"{report.id} computes with a moving parameter in Python ({error}); "
                                  "it cannot be a view") from None
    names = ", ".join(f"`{c.name}`" for c in report.columns)
    select = ", ".join(f"{_converted(c, f'r.`{c.name}`')} AS `{c.name}`" for c in report.columns)
    return f"SELECT {select} FROM ({inner}) AS r ({names})", tuple(ctx.tables)


# ---------------------------------------------------------------- DDL and labels


def column_type(column: Column) -> str:
    return f"Nullable({COLUMN_TYPES[column.kind]})"


def column_comment(column: Column) -> str:
    """`label_zh / label_en (unit)`, and the personal-data kind when it is one."""
    unit = f" ({column.unit})" if column.unit else ""
    personal = f"; personal data: {column.personal}" if column.personal else ""
    return f"{column.label_zh} / {column.label_en}{unit}{personal}"


def describe_value(value: Any) -> str:
    """A view's parameter value as the docs show it (`today`, `this month`, `all` for None)."""
    return value.name if isinstance(value, Moving) else "all" if value is None else str(value)


def view_comment(view: BiView) -> str:
    report = view.report
    params = ", ".join(f"{name}={describe_value(value)}" for name, value in view.params.items())
    return (f"{report.title_zh} / {report.title_en}: {view.holds_zh} / {view.holds_en}. Catalog report "
            f"{report.id} ({params}); family {report.family}; money TWD Decimal(18,2), days Asia/Taipei.")


def create_statement(view: BiView, database: str, policy: AccessPolicy | None = None) -> str:
    """CREATE OR REPLACE VIEW of `view` in `database`, its columns and itself commented."""
    select, _ = view_query(view, database, policy)
    columns = ", ".join(f"`{c.name}` {column_type(c)} COMMENT {_quote(column_comment(c))}"
                        for c in view.report.columns)
    return (f"CREATE OR REPLACE VIEW `{database}`.`{view.name}` ({columns}) COMMENT {_quote(view_comment(view))} "
            f"AS {select}")


LABEL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("view", "String"), ("report", "String"), ("family", "String"), ("position", "UInt16"), ("column", "String"),
    ("label_zh", "String"), ("label_en", "String"), ("unit", "Nullable(String)"), ("kind", "String"),
    ("type", "String"), ("personal", "Nullable(String)"),
)


def label_rows(views: Sequence[BiView] = BI_VIEWS) -> list[tuple[Any, ...]]:
    """One row per view column, in `LABEL_COLUMNS` order."""
    return [(v.name, v.report_id, v.family, i, c.name, c.label_zh, c.label_en, c.unit, c.kind, column_type(c),
             c.personal) for v in views for i, c in enumerate(v.report.columns, start=1)]


def labels_statement(database: str, views: Sequence[BiView] = BI_VIEWS) -> str:
    """CREATE OR REPLACE VIEW `report_view_columns`: the labels of every view column, as constant rows."""
    def cell(value: Any) -> str:
        return "NULL" if value is None else str(value) if isinstance(value, int) else _quote(str(value))

    rows = ", ".join("(" + ", ".join(cell(v) for v in row) + ")" for row in label_rows(views))
    columns = ", ".join(f"CAST(t.{i} AS {type_}) AS `{name}`" for i, (name, type_) in enumerate(LABEL_COLUMNS, 1))
    comment = _quote("報表檢視欄位說明 / Labels of the report views' columns (zh-TW, English, unit, kind, type)")
    return (f"CREATE OR REPLACE VIEW `{database}`.`{LABELS_VIEW}` COMMENT {comment} AS SELECT {columns} "
            f"FROM (SELECT arrayJoin([{rows}]) AS t)")
