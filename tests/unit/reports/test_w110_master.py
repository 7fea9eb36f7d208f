"""The W110 master-data reports: SQL that builds for every role that may run them, with every optional filter and
no parameter value pasted into the text; the catalogue without stock data; prices in force on `as_of` with an
inclusive effective_to; commission rounded on exact decimals; the one known family gap (dispatchers)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.catalog import catalog
from api.reports.definition import Report
from api.reports.library import w110_master
from api.reports.parameters import parse
from api.reports.runner import Prepared, prepare
from infra.verify.report_truth import truths

TODAY = date(2026, 11, 20)
POLICY = load_policy()
REPORTS = w110_master.REPORTS
RAW = {"product_type": "gas_refill", "include_discontinued": "true", "as_of": "2026-09-15",
       "customer_type": "industrial", "product_id": "4242", "date_from": "2026-10-03", "date_to": "2026-11-17",
       "branch": "TXG"}


def principal(role: str) -> Principal:
    branches = None if POLICY.role(role).branch_scope == "all" else frozenset({"TXG"})
    return Principal(f"test:{role}", "person", role, branches, frozenset(), None, None)


def runners(report: Report) -> list[str]:
    return [name for name, role in POLICY.roles.items() if report.family in role.families]


def build(report: Report, role: str, **extra: str) -> tuple[dict[str, Any], Prepared]:
    raw = {k: v for k, v in {**RAW, **extra}.items() if k in {p.name for p in report.params}}
    who = principal(role)
    values = parse(report, raw, TODAY, who, POLICY)
    return values, prepare(report, values, RowScope(who, POLICY), TODAY)


def by_id(report_id: str) -> Report:
    return next(r for r in REPORTS if r.id == report_id)


def test_the_module_is_in_the_catalog_with_a_truth_for_each_report() -> None:
    ids = [r.id for r in REPORTS]
    assert ids == ["product_catalogue", "price_list", "employee_performance", "commission_calculation"]
    assert all(catalog()[i] is r for i, r in zip(ids, REPORTS, strict=True))
    assert all(i in truths() and len(truths()[i].cases) >= 2 for i in ids)
    assert [r.family for r in REPORTS] == ["reference", "reference", "staff", "staff"]


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_sql_builds_for_every_role_with_no_value_pasted(report: Report) -> None:
    assert runners(report)
    for role in runners(report):
        values, prepared = build(report, role)
        assert prepared.tables and prepared.sql.count("(") == prepared.sql.count(")")
        for name, value in values.items():
            if isinstance(value, bool) or value is None:
                continue
            assert str(value) not in prepared.sql, f"{report.id}: {name}={value!r} pasted into the SQL"
            assert prepared.parameters[f"p_{name}"] == value
        scoped = any(POLICY.table(t).branch_column for t in prepared.tables)
        if POLICY.role(role).branch_scope == "own" and scoped:
            assert prepared.parameters["branches"] == ["TXG"]
        else:
            assert "branches" not in prepared.parameters


def test_reference_reports_read_reference_data_only() -> None:
    for report in (by_id("product_catalogue"), by_id("price_list")):
        _, prepared = build(report, "sales")
        assert {POLICY.table(t).family for t in prepared.tables} == {"reference"}
        assert "v_w300_inventory_master" not in prepared.tables  # standard cost is stock data


def test_staff_reports_need_sales_and_dispatch_data_which_only_dispatchers_lack() -> None:
    for report in (by_id("employee_performance"), by_id("commission_calculation")):
        _, prepared = build(report, "head_office")
        needed = {POLICY.table(t).family for t in prepared.tables}
        lacking = {role for role in runners(report) if not needed <= POLICY.role(role).families}
        assert lacking == {"dispatcher"}, report.id


def test_filters_appear_only_when_given() -> None:
    _, catalogue = build(by_id("product_catalogue"), "dispatcher", include_discontinued="false")
    assert "p.is_active" in catalogue.sql and "{p_product_type:String}" in catalogue.sql
    _, everything = build(by_id("product_catalogue"), "dispatcher", product_type="")
    assert "AND p.is_active" not in everything.sql and "{p_product_type:String}" not in everything.sql
    _, performance = build(by_id("employee_performance"), "analyst", branch="")
    assert "{p_branch:String}" not in performance.sql


def test_prices_in_force_on_as_of_with_an_inclusive_end() -> None:
    values, prepared = build(by_id("price_list"), "integration", customer_type="", product_id="")
    assert values["as_of"] == date(2026, 9, 15)
    assert ("pp.effective_from <= {p_as_of:Date32} AND (pp.effective_to IS NULL OR pp.effective_to >= "
            "{p_as_of:Date32})") in prepared.sql
    assert "{p_customer_type:String}" not in prepared.sql and "{p_product_id:Int64}" not in prepared.sql
    assert by_id("price_list").param("as_of").default(TODAY) == TODAY


def test_commission_is_rounded_on_exact_decimals() -> None:
    _, prepared = build(by_id("commission_calculation"), "branch_manager")
    assert "round(s.net * e.commission_rate, 2)" in prepared.sql and "Float" not in prepared.sql
    assert by_id("commission_calculation").param("date_from").default(TODAY) == date(2026, 11, 1)
    # ClickHouse round() on a Decimal and PostgreSQL round(numeric) both round half away from zero: on the
    # non-negative net of a sale that is half up, e.g. 3.00 x 0.0150 = 0.045 -> 0.05 (banker's would give 0.04).
    assert (Decimal("3.00") * Decimal("0.0150")).quantize(Decimal("0.01"), ROUND_HALF_UP) == Decimal("0.05")


def test_drills_open_the_orders_credited_to_the_employee() -> None:
    for report in (by_id("employee_performance"), by_id("commission_calculation")):
        (drill,) = report.drill
        target = catalog()[drill.report]
        assert drill.params == {"sales_employee_id": "employee_id", "date_from": "@date_from",
                                "date_to": "@date_to", "branch": "@branch"}
        assert set(drill.params) <= {p.name for p in target.params}
    assert by_id("product_catalogue").drill[0].report == "price_list"
