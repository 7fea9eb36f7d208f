"""What a report is: one definition per report, read by the catalog route, the runner, the formats and verify.

Contract: a `Report` names its access family (roles.yaml decides who may run it), its titles and column labels
in zh-TW and English, its parameters (validated by `api.reports.parameters`), its columns with types and units,
and `sql(ctx)`, which builds its ClickHouse query through a `QueryContext` (`api.reports.query`): every table is
read through `ctx.table(name)`, which applies the caller's branch filter, and every parameter is a bound
placeholder `ctx.p(name)`, never text pasted into SQL. The query returns the columns in the declared order.

Column values as the runner hands them to the formats: money → `Decimal` with 2 places (TWD, exact), decimal →
`Decimal`, int → `int`, rate/float → `float` or None, date → `date`, datetime → aware `datetime` (Asia/Taipei),
text → `str` or None, bool → `bool`. A column with `personal` set is masked for roles that mask that kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from api.access.policy import MaskKind

if TYPE_CHECKING:
    from api.reports.query import QueryContext

Group = Literal["W100", "W200", "W110", "W300", "W500", "W600", "W700", "BANK"]
GROUP_TITLES: Mapping[Group, tuple[str, str]] = {
    "W100": ("客戶", "Customers"), "W200": ("銷售", "Sales"), "W110": ("基本資料", "Master data"),
    "W300": ("庫存", "Inventory"), "W500": ("發票與應收", "Invoices and receivables"),
    "W600": ("會計", "Accounting"), "W700": ("派車調度", "Dispatch"), "BANK": ("銀行", "Bank"),
}

ParamKind = Literal["date", "month", "int", "text", "choice", "branch", "bool"]
ColumnKind = Literal["text", "int", "money", "decimal", "rate", "float", "date", "datetime", "bool"]
Source = Literal["aggregate", "query_time"]
FORMATS: tuple[str, ...] = ("json", "csv", "xlsx", "parquet", "pdf")
TABULAR_FORMATS: tuple[str, ...] = ("json", "csv", "xlsx", "parquet")


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter. `default` is a value or a function of today's business day (Asia/Taipei); a parameter
    without a default and `required` must be given. `choices` for kind "choice"; `minimum`/`maximum` for "int"."""

    name: str
    kind: ParamKind
    label_zh: str
    label_en: str
    default: Any | Callable[[date], Any] = None
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class Column:
    """One output column: its name in the query, type, labels and unit (e.g. "TWD", "km", "%")."""

    name: str
    kind: ColumnKind
    label_zh: str
    label_en: str
    unit: str | None = None
    personal: MaskKind | None = None


@dataclass(frozen=True, slots=True)
class Drill:
    """A row of this report opens into report `report`: its parameters come from this row's columns
    (`{"branch": "branch_code"}`) or this run's parameters (`{"day": "@day"}`)."""

    report: str
    params: Mapping[str, str]
    label_zh: str = "明細"
    label_en: str = "details"


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart for the PDF: `kind` of `y` columns against column `x` (only the `top` x values with the
    largest sum of `y`, when set: a chart of 3,000 customers is no chart)."""

    kind: Literal["line", "bar"]
    x: str
    y: tuple[str, ...]
    title_zh: str
    title_en: str
    top: int | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """One report of the catalog. `source` says how its figures are made: read from a streamed aggregate
    ("aggregate", retraction-exact, covered by `make verify`) or computed at query time from the current-state
    views ("query_time"); `how` says which, in a sentence. `max_range_days` limits a `date_from`/`date_to`
    pair. `sensitive` None: as the family says (roles.yaml `sensitive_families`). A caller must read the
    family of every table the query reads but those in `borrows` (api/reports/rights.py)."""

    id: str
    group: Group
    family: str
    title_zh: str
    title_en: str
    answers: str
    params: tuple[Param, ...]
    columns: tuple[Column, ...]
    sql: Callable[[QueryContext], str] = field(repr=False)
    source: Source
    how: str
    sensitive: bool | None = None
    max_range_days: int | None = None
    formats: tuple[str, ...] = TABULAR_FORMATS
    chart: Chart | None = None
    drill: tuple[Drill, ...] = ()
    key: tuple[str, ...] = ()
    borrows: tuple[str, ...] = ()  # families read only to place or label its rows (api/reports/rights.py)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"report {self.id} has no parameter {name!r}")

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"report {self.id} has no column {name!r}")
