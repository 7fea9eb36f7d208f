"""W600 management reports: SQL for every role that may run them, no value pasted into it, the grain shapes."""

from __future__ import annotations

from datetime import date

import pytest

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.definition import Report
from api.reports.library import w600_management
from api.reports.parameters import parse
from api.reports.runner import Prepared, prepare

TODAY = date(2026, 11, 20)
POLICY = load_policy()
VALUES = {"period": "2025-07", "period_from": "2025-03", "period_to": "2025-08", "branch": "TXG", "grain": "year"}


def _prepare(report: Report, role: str, raw: dict[str, str]) -> Prepared:
    who = Principal(f"test:{role}", "person", role, None, frozenset(), None, None)
    values = parse(report, raw, TODAY, who, POLICY)
    return prepare(report, values, RowScope(who, POLICY), TODAY)


@pytest.mark.parametrize("report", w600_management.REPORTS, ids=lambda r: r.id)
def test_builds_for_every_role_with_the_ledger_and_pastes_no_value(report: Report) -> None:
    raw = {p.name: VALUES[p.name] for p in report.params}
    roles = [name for name, role in POLICY.roles.items() if report.family in role.families]
    assert roles == ["head_office", "auditor"]
    for role in roles:
        prepared = _prepare(report, role, raw)
        for name, value in raw.items():
            assert value not in prepared.sql, f"{report.id}: {name}={value!r} pasted into the SQL"
        for name in raw.keys() - {"grain"}:  # grain chooses the SQL's shape, it is not compared
            assert f"{{p_{name}:" in prepared.sql, f"{report.id}: parameter {name} unused"


def test_period_summary_groups_by_month_or_year() -> None:
    month = _prepare(w600_management.PERIOD_SUMMARY, "head_office", {})
    year = _prepare(w600_management.PERIOD_SUMMARY, "head_office", {"grain": "year"})
    assert "substring(month, 1, 4)" not in month.sql and "substring(month, 1, 4)" in year.sql
    assert month.parameters["x_cash_accounts"] == list(w600_management.CASH_ACCOUNTS)
    assert "'1101'" not in year.sql


def test_budget_reads_the_period_balances() -> None:
    prepared = _prepare(w600_management.BUDGET_VS_ACTUAL, "auditor", {"period": "2026-10"})
    assert prepared.tables == ("v_w600_account_balance", "v_w600_gl_master")
