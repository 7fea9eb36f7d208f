"""W300 inventory reports: SQL for every role that may run them (branch-scoped roles get their branch filter on
every table), no value pasted into it, and the windows computed from today."""

from __future__ import annotations

from datetime import date

import pytest

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.definition import Report
from api.reports.library import w300_inventory
from api.reports.parameters import parse
from api.reports.runner import Prepared, prepare

TODAY = date(2026, 11, 20)
POLICY = load_policy()
VALUES = {"date_from": "2025-03-04", "date_to": "2025-05-06", "branch": "TXG", "product_id": "4242",
          "movement_type": "transfer_out", "only_below": "true", "days": "37", "cover_days": "11"}


def _prepare(report: Report, role: str, raw: dict[str, str]) -> Prepared:
    branches = None if POLICY.role(role).branch_scope == "all" else frozenset({"TXG"})
    who = Principal(f"test:{role}", "person", role, branches, frozenset(), None, None)
    values = parse(report, raw, TODAY, who, POLICY)
    return prepare(report, values, RowScope(who, POLICY), TODAY)


@pytest.mark.parametrize("report", w300_inventory.REPORTS, ids=lambda r: r.id)
def test_builds_for_every_role_with_stock_and_pastes_no_value(report: Report) -> None:
    raw = {p.name: VALUES[p.name] for p in report.params}
    roles = [name for name, role in POLICY.roles.items() if report.family in role.families]
    assert {"head_office", "branch_manager", "dispatcher"} <= set(roles)
    for role in roles:
        prepared = _prepare(report, role, raw)
        for name, value in raw.items():
            if name not in ("only_below", "days", "cover_days"):  # booleans and small numbers: see below
                assert value not in prepared.sql, f"{report.id}: {name}={value!r} pasted into the SQL"
            if name != "only_below":  # a bool chooses the SQL's shape
                assert f"{{p_{name}:" in prepared.sql, f"{report.id}: parameter {name} unused"
        if POLICY.role(role).branch_scope == "own":
            scoped = [t for t in prepared.tables if POLICY.table(t).branch_column is not None]
            assert scoped and prepared.parameters["branches"] == ["TXG"]
            assert prepared.sql.count("{branches:Array(String)}") >= len(scoped)


def test_shortage_alerts_average_the_full_days_before_today() -> None:
    prepared = _prepare(w300_inventory.SHORTAGE_ALERTS, "dispatcher", {"days": "14"})
    assert prepared.parameters["x_window_from"] == date(2026, 11, 6)
    assert prepared.parameters["x_window_to"] == date(2026, 11, 19)
    assert prepared.parameters["p_days"] == 14 and prepared.parameters["p_cover_days"] == 7
    assert prepared.parameters["x_outflow_types"] == ["delivery", "transfer_out"]


def test_turnover_counts_the_days_of_the_range() -> None:
    prepared = _prepare(w300_inventory.STOCK_TURNOVER, "analyst", {"date_from": "2026-11-01", "date_to": "2026-11-30"})
    assert prepared.parameters["x_range_days"] == 30


def test_stock_status_lists_everything_unless_only_below() -> None:
    every = _prepare(w300_inventory.STOCK_STATUS, "head_office", {})
    below = _prepare(w300_inventory.STOCK_STATUS, "head_office", {"only_below": "true"})
    assert "s.qty_full < s.safety_stock)" not in every.sql and "s.qty_full < s.safety_stock)" in below.sql
    assert every.tables == ("stock_on_hand", "v_w110_product_master")


def test_valuation_by_warehouse_drills_to_the_product_lines() -> None:
    [drill] = w300_inventory.INVENTORY_VALUATION_BY_WAREHOUSE.drill
    assert drill.report == "inventory_valuation" and drill.params == {"branch": "warehouse"}
