"""The W100 customer reports: SQL that builds for every role that may run them, with every optional filter, no
parameter value pasted into the text, closed and blacklisted customers left out unless asked for, and every table
read within the families of every role that may run the report."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.catalog import catalog
from api.reports.definition import Report
from api.reports.library import w100_customers
from api.reports.parameters import ParameterForbidden, parse
from api.reports.runner import Prepared, prepare
from infra.verify.report_truth import truths

TODAY = date(2026, 11, 20)
POLICY = load_policy()
REPORTS = w100_customers.REPORTS
# A value for every parameter any W100 report takes, each one that cannot appear in SQL by chance.
RAW = {"customer_id": "98765", "date_from": "2026-10-03", "date_to": "2026-11-17", "branch": "TXG",
       "customer_type": "restaurant", "overdue_only": "true", "min_points": "4321"}


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


def test_the_module_is_in_the_catalog_with_a_truth_for_each_report() -> None:
    ids = [r.id for r in REPORTS]
    assert ids == ["customer_profile", "customer_aging", "customer_invoices", "service_history", "payment_history",
                   "usage_patterns", "loyalty_programme", "customer_satisfaction"]
    assert all(catalog()[i] is r for i, r in zip(ids, REPORTS, strict=True))
    assert all(i in truths() and len(truths()[i].cases) >= 2 for i in ids)
    assert all(r.group == "W100" for r in REPORTS)


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
        if POLICY.role(role).branch_scope == "own":
            assert prepared.parameters["branches"] == ["TXG"]
        else:
            assert "branches" not in prepared.parameters


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_every_table_is_readable_by_every_role_that_may_run_the_report(report: Report) -> None:
    for role in runners(report):
        _, prepared = build(report, role)
        families = POLICY.role(role).families
        assert {POLICY.table(t).family for t in prepared.tables} <= families, (report.id, role)


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_closed_and_blacklisted_customers_only_when_asked_for(report: Report) -> None:
    assert report.param("include_inactive").default is False
    assert "v_w100_customer_master" in build(report, "head_office")[1].tables
    _, default = build(report, "head_office")
    assert default.parameters["x_inactive_statuses"] == ["closed", "blacklisted"]
    assert "c.status NOT IN {x_inactive_statuses:Array(String)}" in default.sql
    _, wide = build(report, "head_office", include_inactive="true")
    assert "x_inactive_statuses" not in wide.parameters and "c.status NOT IN" not in wide.sql
    for role in runners(report):
        if not POLICY.role(role).inactive_customers:
            with pytest.raises(ParameterForbidden):
                build(report, role, include_inactive="true")


def test_drills_keep_the_inactive_choice_and_the_range() -> None:
    by_id = {r.id: r for r in REPORTS}
    for report in REPORTS:
        for drill in report.drill:
            if drill.report in by_id and "include_inactive" in {p.name for p in by_id[drill.report].params}:
                assert drill.params["include_inactive"] == "@include_inactive", report.id
    assert by_id["customer_aging"].drill[0].report == "customer_invoices"
    assert by_id["usage_patterns"].drill[0].params["date_from"] == "@date_from"


def test_aging_reads_the_streamed_aggregate_and_families_follow_money() -> None:
    by_id = {r.id: r for r in REPORTS}
    aging = by_id["customer_aging"]
    assert aging.source == "aggregate" and aging.family == "receivables"
    assert build(aging, "head_office")[1].tables[0] == "receivables_by_customer"
    assert by_id["customer_invoices"].family == "receivables"
    assert by_id["payment_history"].family == "collections"
    assert by_id["customer_profile"].family == "customers"
    open_invoices = by_id["customer_invoices"]
    assert open_invoices.source == "aggregate" and "open_invoices" in build(open_invoices, "head_office")[1].tables
    assert all(r.source == "query_time" for r in REPORTS if r not in (aging, open_invoices))


def test_today_and_fixed_lists_are_bound_values() -> None:
    by_id = {r.id: r for r in REPORTS}
    _, invoices = build(by_id["customer_invoices"], "sales")
    assert invoices.parameters["x_today"] == TODAY and "{x_today:Date32}" in invoices.sql
    _, satisfaction = build(by_id["customer_satisfaction"], "analyst")
    assert satisfaction.parameters["x_complaint_reasons"] == list(w100_customers.COMPLAINT_REASONS)
    assert "客戶取消" not in satisfaction.sql
    _, loyalty = build(by_id["loyalty_programme"], "head_office")
    assert [loyalty.parameters[f"x_tier_{i}"] for i in range(3)] == ["金", "銀", "銅"]
    assert loyalty.parameters["x_tier_base"] == "一般" and "金" not in loyalty.sql


def test_optional_filters_appear_only_when_given() -> None:
    by_id = {r.id: r for r in REPORTS}
    usage = by_id["usage_patterns"]
    _, overdue = build(usage, "branch_manager")
    assert "days_overdue > 0" in overdue.sql and "c.branch_code = {p_branch:String}" in overdue.sql
    _, own = build(usage, "branch_manager", overdue_only="false", branch="")  # a caller of one branch: its own
    assert "days_overdue > 0" not in own.sql and "{p_branch:String}" in own.sql
    _, everyone = build(usage, "head_office", overdue_only="false", branch="")
    assert "days_overdue > 0" not in everyone.sql and "{p_branch:String}" not in everyone.sql
    _, profile = build(by_id["customer_profile"], "dispatcher")
    assert "c.customer_type = {p_customer_type:String}" in profile.sql


def test_personal_columns_are_marked_for_masking() -> None:
    profile = next(r for r in REPORTS if r.id == "customer_profile")
    personal = {c.name: c.personal for c in profile.columns if c.personal}
    assert personal == {"customer_name": "person_name", "contact_name": "person_name", "contact_mobile": "phone",
                        "delivery_address": "address", "tax_id": "tax_id"}
    assert all(r.column("customer_name").personal == "person_name" for r in REPORTS
               if "customer_name" in {c.name for c in r.columns})
