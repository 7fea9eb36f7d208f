"""W200 sales reports: SQL for every role that may run them (branch-scoped roles get their branch filter on every
scoped table; revenue by a company-wide dimension is refused to them), no value pasted into it, the right shape
for each dimension and grain, and the drills into the detail reports."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import HTTPException

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.catalog import check
from api.reports.definition import Report
from api.reports.library import w200_sales
from api.reports.parameters import parse
from api.reports.runner import Prepared, prepare

TODAY = date(2026, 11, 20)
POLICY = load_policy()
VALUES = {"date_from": "2025-03-04", "date_to": "2025-05-06", "day": "2025-04-05", "branch": "TXG",
          "order_id": "4242", "product_id": "4243", "sales_employee_id": "4244", "member": "4245",
          "by": "branch", "grain": "month"}
SHAPE = ("by", "grain")  # choices that pick the SQL's shape (their words are SQL words, e.g. branch)


def _prepare(report: Report, role: str, raw: dict[str, str]) -> Prepared:
    branches = None if POLICY.role(role).branch_scope == "all" else frozenset({"TXG"})
    who = Principal(f"test:{role}", "person", role, branches, frozenset(), None, None)
    values = parse(report, raw, TODAY, who, POLICY)
    return prepare(report, values, RowScope(who, POLICY), TODAY)


def _roles(report: Report) -> list[str]:
    return [name for name, role in POLICY.roles.items() if report.family in role.families]


@pytest.mark.parametrize("report", w200_sales.REPORTS, ids=lambda r: r.id)
def test_builds_for_every_role_and_pastes_no_value(report: Report) -> None:
    raw = {p.name: VALUES[p.name] for p in report.params}
    roles = _roles(report)
    assert {"head_office", "branch_manager"} <= set(roles)
    for role in roles:
        prepared = _prepare(report, role, raw)
        for name, value in raw.items():
            if name in SHAPE:
                continue
            assert value not in prepared.sql, f"{report.id}: {name}={value!r} pasted into the SQL"
            assert f"{{p_{name}:" in prepared.sql, f"{report.id}: parameter {name} unused"
        if POLICY.role(role).branch_scope == "own":
            scoped = [t for t in prepared.tables if POLICY.table(t).branch_column is not None]
            assert scoped and prepared.parameters["branches"] == ["TXG"]
            assert prepared.sql.count("{branches:Array(String)}") >= len(scoped)


def test_the_definitions_are_sound_and_every_drill_stays_in_the_module() -> None:
    assert check(w200_sales.REPORTS, POLICY) == []
    ids = {r.id for r in w200_sales.REPORTS}
    assert all(d.report in ids for r in w200_sales.REPORTS for d in r.drill)
    aggregated = [r for r in w200_sales.REPORTS if r.source == "aggregate" or r.id.endswith("_performance")]
    assert all(r.drill for r in aggregated)


@pytest.mark.parametrize("by", w200_sales.DIMENSIONS)
@pytest.mark.parametrize("grain", ["day", "month"])
def test_revenue_analysis_reads_the_cells_of_the_dimension(by: str, grain: str) -> None:
    prepared = _prepare(w200_sales.REVENUE_ANALYSIS, "analyst", {"by": by, "grain": grain})
    assert prepared.parameters["p_by"] == by and "s.dimension = {p_by:String}" in prepared.sql
    assert "s.grain = 'day'" in prepared.sql  # months are summed from days, cut to the range
    assert ("toStartOfMonth" in prepared.sql) == (grain == "month")
    labels = {"branch": "v_w110_branch", "product": "v_w110_product_master", "category": "v_w110_product_category",
              "sales_employee": "v_w110_employee_master"}
    assert set(prepared.tables) == {"sales", *([labels[by]] if by in labels else [])}


@pytest.mark.parametrize("by", [d for d in w200_sales.DIMENSIONS if d != "branch"])
def test_revenue_by_a_company_wide_dimension_is_refused_to_a_branch(by: str) -> None:
    for role in ("branch_manager", "sales"):
        with pytest.raises(HTTPException) as refused:
            _prepare(w200_sales.REVENUE_ANALYSIS, role, {"by": by})
        assert refused.value.status_code == 403
    allowed = _prepare(w200_sales.REVENUE_ANALYSIS, "branch_manager", {"by": "branch"})
    assert set(allowed.tables) == {"sales", "v_w110_branch"} and allowed.parameters["branches"] == ["TXG"]


@pytest.mark.parametrize("by", w200_sales.DIMENSIONS)
def test_revenue_orders_filter_on_the_member(by: str) -> None:
    prepared = _prepare(w200_sales.REVENUE_ORDERS, "head_office", {"by": by, "member": "x1"})
    assert prepared.parameters["p_member"] == "x1" and "= {p_member:String}" in prepared.sql


def test_the_employee_name_is_personal_and_masked_for_analysts() -> None:
    assert w200_sales.REVENUE_ANALYSIS.column("employee_name").personal == "person_name"
    assert w200_sales.SALES_TEAM_PERFORMANCE.column("employee_name").personal == "person_name"
    prepared = _prepare(w200_sales.SALES_TEAM_PERFORMANCE, "analyst", {})
    row = prepared.convert((7, "E007", "王小明", "TXG", 3, 2, "300.0000", "15.0000", "315.0000", "100.0000000000"))
    assert row[2] != "王小明" and row[-1] == row[6] / 3


def test_defaults_and_drills() -> None:
    prepared = _prepare(w200_sales.REVENUE_ANALYSIS, "head_office", {})
    assert prepared.values["by"] == "branch" and prepared.values["grain"] == "month"
    assert prepared.values["date_from"] == date(2026, 8, 23) and prepared.values["date_to"] == TODAY
    [drill] = w200_sales.REVENUE_ANALYSIS.drill
    assert drill.report == "revenue_orders" and drill.params["by"] == "@by"
    [drill] = w200_sales.ORDER_FULFILMENT.drill
    assert drill.report == "fulfilment_orders" and drill.params == {"day": "day", "branch": "branch_code"}
    assert w200_sales.ORDER_FULFILMENT.family == w200_sales.FULFILMENT_ORDERS.family == "fulfilment"
    assert "dispatcher" in _roles(w200_sales.ORDER_FULFILMENT)
