"""Building a report's ClickHouse query under the caller's access: tables through the branch filter, bound values.

Contract: `QueryContext(report, values, scope)` is what `Report.sql(ctx)` receives.
- `ctx.table(name)` is `(SELECT * FROM name WHERE <caller's branch condition>)`, to be used as a FROM item with
  an alias; it records the table (for freshness, caching and the audit) and adds the filter's parameters. A
  company-wide table read by a branch-scoped caller is a 403 (from `RowScope.where`).
- `ctx.p(name)` is the bound placeholder of parameter `name` (`{name:Date32}`), `ctx.values[name]` its value
  (for building SQL by shape, e.g. a grouping chosen by a "choice" parameter, never pasted as text).
- `ctx.bind(name, value, type)` binds an extra value computed in Python.
- `ctx.customer_in_branch(column)`: ` AND column IN (the asked branch's customers)`, or nothing.
- `ctx.customer_status(alias)`: the condition that keeps closed and blacklisted customers out of operational
  lists unless the caller asked for them (parameter `include_inactive`) and the role may see them.
- `ctx.parameters` is every bound value, for the client's `parameters=`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from api.access.rows import RowScope
from api.reports.definition import Param, Report

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLACEHOLDER_TYPES: Mapping[str, str] = {"date": "Date32", "month": "String", "int": "Int64", "text": "String",
                                        "choice": "String", "branch": "String", "bool": "Bool"}
INACTIVE_CUSTOMER_STATUSES = ("closed", "blacklisted")
INCLUDE_INACTIVE = "include_inactive"


class QueryContext:
    """A report's query under construction for one caller (see the module docstring)."""

    def __init__(self, report: Report, values: Mapping[str, Any], scope: RowScope,
                 today: date | None = None) -> None:
        self.report = report
        self.values = dict(values)
        self.scope = scope
        self.today = today
        self.tables: list[str] = []
        self._bound: dict[str, Any] = {}
        self._types: dict[str, str] = {}
        for param in report.params:
            if param.name in self.values:
                self._bind(f"p_{param.name}", self.values[param.name], _placeholder_type(param))

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._bound)

    def table(self, name: str) -> str:
        """`name` limited to the caller's branches, as a parenthesised FROM item."""
        condition, params = self.scope.where(name)
        for key, value in params.items():
            self._bind(key, value, "Array(String)")
        if name not in self.tables:
            self.tables.append(name)
        return f"(SELECT * FROM `{name}` WHERE {condition})"

    def p(self, name: str) -> str:
        """The placeholder of parameter `name`; KeyError for a parameter the report does not declare."""
        key = f"p_{name}"
        if key not in self._types:
            self.report.param(name)  # KeyError naming the parameter when undeclared
            raise KeyError(f"parameter {name!r} of {self.report.id} has no value")
        return f"{{{key}:{self._types[key]}}}"

    def bind(self, name: str, value: Any, type_: str) -> str:
        """Bind a value computed in Python under `name`; returns its placeholder."""
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a parameter name")
        self._bind(f"x_{name}", value, type_)
        return f"{{x_{name}:{type_}}}"

    def customer_status(self, alias: str) -> str:
        """Keep closed and blacklisted customers out unless `include_inactive` was asked for (the parameter
        parser has already refused it to roles that may not see them)."""
        if not _IDENTIFIER.match(alias):
            raise ValueError(f"{alias!r} is not an alias")
        if self.values.get(INCLUDE_INACTIVE):
            return "1"
        statuses = self.bind("inactive_statuses", list(INACTIVE_CUSTOMER_STATUSES), "Array(String)")
        return f"{alias}.status NOT IN {statuses}"

    def customer_in_branch(self, customer_column: str) -> str:
        """` AND <customer_column>` is a customer of the asked `branch` (empty when none was asked): for rows
        that carry only a customer id."""
        if not self.values.get("branch"):
            return ""
        return (f" AND {customer_column} IN (SELECT customer_id FROM {self.table('v_w100_customer_master')} "
                f"WHERE branch_code = {self.p('branch')})")

    def _bind(self, key: str, value: Any, type_: str) -> None:
        previous = self._types.get(key)
        if previous is not None and (previous != type_ or self._bound[key] != value):
            raise ValueError(f"parameter {key} bound twice with different values")
        self._bound[key], self._types[key] = value, type_


def _placeholder_type(param: Param) -> str:
    return PLACEHOLDER_TYPES[param.kind]
