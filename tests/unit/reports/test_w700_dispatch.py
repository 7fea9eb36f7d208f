"""W700 dispatch reports: SQL for every role that may run them (branch-scoped roles get their branch filter on every
scoped table), no value pasted into it, optional filters only when asked for, crew names as personal data."""

from __future__ import annotations

from datetime import date

import pytest

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.catalog import check
from api.reports.definition import Report
from api.reports.library import w700_dispatch
from api.reports.parameters import parse
from api.reports.runner import Prepared, prepare

TODAY = date(2026, 11, 20)
POLICY = load_policy()
VALUES = {"date_from": "2025-03-04", "date_to": "2025-05-06", "day": "2025-04-05", "branch": "TXG",
          "dispatch_id": "4242", "driver_id": "4243"}


def _prepare(report: Report, role: str, raw: dict[str, str]) -> Prepared:
    branches = None if POLICY.role(role).branch_scope == "all" else frozenset({"TXG"})
    who = Principal(f"test:{role}", "person", role, branches, frozenset(), None, None)
    values = parse(report, raw, TODAY, who, POLICY)
    return prepare(report, values, RowScope(who, POLICY), TODAY)


@pytest.mark.parametrize("report", w700_dispatch.REPORTS, ids=lambda r: r.id)
def test_builds_for_every_role_with_dispatch_and_pastes_no_value(report: Report) -> None:
    raw = {p.name: VALUES[p.name] for p in report.params}
    roles = [name for name, role in POLICY.roles.items() if report.family in role.families]
    assert {"head_office", "branch_manager", "dispatcher", "analyst"} <= set(roles)
    for role in roles:
        prepared = _prepare(report, role, raw)
        for name, value in raw.items():
            assert value not in prepared.sql, f"{report.id}: {name}={value!r} pasted into the SQL"
            assert f"{{p_{name}:" in prepared.sql, f"{report.id}: parameter {name} unused"
        if POLICY.role(role).branch_scope == "own":
            scoped = [t for t in prepared.tables if POLICY.table(t).branch_column is not None]
            assert scoped and prepared.parameters["branches"] == ["TXG"]
            assert prepared.sql.count("{branches:Array(String)}") >= len(scoped)


def test_the_definitions_are_sound() -> None:
    assert check(w700_dispatch.REPORTS, POLICY) == []
    ids = {r.id for r in w700_dispatch.REPORTS}
    assert all(d.report in ids for r in w700_dispatch.REPORTS for d in r.drill)
    assert all(r.drill for r in w700_dispatch.REPORTS if r.id != "route_stops")
    assert w700_dispatch.DAILY_DISPATCH.formats[-1] == "pdf" and w700_dispatch.DAILY_DISPATCH.chart is not None


def test_optional_filters_only_when_asked_for() -> None:
    every = _prepare(w700_dispatch.ROUTE_EFFICIENCY, "head_office", {})
    assert "{p_branch:" not in every.sql and "{p_driver_id:" not in every.sql
    no_driver = _prepare(w700_dispatch.ROUTE_EFFICIENCY, "head_office", {"driver_id": "0"})
    assert "r.driver_id = {p_driver_id:Int64}" in no_driver.sql and no_driver.parameters["p_driver_id"] == 0
    assert _prepare(w700_dispatch.DELIVERY_KPIS, "head_office", {}).tables == ("route_by_day", "v_w110_branch")
    driver = _prepare(w700_dispatch.DRIVER_PERFORMANCE, "head_office", {"branch": "TXG"})
    assert set(driver.tables) == {"v_w110_employee_master", "driver_by_day"}


def test_crew_names_are_personal_and_masked_for_analysts() -> None:
    report = w700_dispatch.DAILY_DISPATCH
    assert report.column("drivers").personal == report.column("assistants").personal == "person_name"
    assert w700_dispatch.DRIVER_PERFORMANCE.column("driver_name").personal == "person_name"
    raw_row = (1, "DS1", "TXG", "AB-1234", "light_truck", "completed", 3, 2, 1, "10.1000", None, "王小明", None,
               None, None)
    assert _prepare(report, "analyst", {}).convert(raw_row)[11] != "王小明"
    assert _prepare(report, "dispatcher", {}).convert(raw_row)[11] == "王小明"


def test_daily_dispatch_defaults_to_today() -> None:
    assert _prepare(w700_dispatch.DAILY_DISPATCH, "dispatcher", {}).parameters["p_day"] == TODAY
