"""W600 financial statements: SQL for every role that may run them, no value pasted into it, the shapes chosen
by parameters, and `accounting_identities` against a fake ClickHouse."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.definition import Report
from api.reports.library import w600_accounting
from api.reports.library.w600_accounting import IDENTITIES, accounting_identities
from api.reports.parameters import parse
from api.reports.runner import Prepared, prepare

TODAY = date(2026, 11, 20)
POLICY = load_policy()
VALUES = {"period": "2025-07", "period_from": "2025-03", "period_to": "2025-08", "branch": "TXG", "account": "4101"}


def _prepare(report: Report, role: str, raw: dict[str, str]) -> Prepared:
    branches = None if POLICY.role(role).branch_scope == "all" else frozenset({"TXG"})
    who = Principal(f"test:{role}", "person", role, branches, frozenset(), None, None)
    values = parse(report, raw, TODAY, who, POLICY)
    return prepare(report, values, RowScope(who, POLICY), TODAY)


def _raw(report: Report) -> dict[str, str]:
    return {p.name: VALUES[p.name] for p in report.params}


@pytest.mark.parametrize("report", w600_accounting.REPORTS, ids=lambda r: r.id)
def test_builds_for_every_role_with_the_ledger_and_pastes_no_value(report: Report) -> None:
    roles = [name for name, role in POLICY.roles.items() if report.family in role.families]
    assert roles == ["head_office", "auditor"]  # ledger: never a branch-scoped role
    for role in roles:
        prepared = _prepare(report, role, _raw(report))
        for name, value in _raw(report).items():
            assert value not in prepared.sql, f"{report.id}: {name}={value!r} pasted into the SQL"
            assert f"{{p_{name}:" in prepared.sql, f"{report.id}: parameter {name} unused"
        assert set(prepared.tables) <= {"v_w600_gl_transaction", "v_w600_gl_master"}


def test_the_statements_read_the_ledger_lines_and_defaults_are_this_month() -> None:
    prepared = _prepare(w600_accounting.TRIAL_BALANCE, "head_office", {})
    assert prepared.values == {"period": "2026-11", "branch": None}
    assert "cost_center =" not in prepared.sql  # no cost centre asked for: every branch
    pnl = _prepare(w600_accounting.PROFIT_AND_LOSS, "head_office", {})
    assert (pnl.values["period_from"], pnl.values["period_to"]) == ("2026-01", "2026-11")


def test_the_balance_sheet_splits_earnings_at_the_period_s_year() -> None:
    prepared = _prepare(w600_accounting.BALANCE_SHEET, "auditor", {"period": "2025-07"})
    assert prepared.parameters["x_year_start"] == "2025-01"
    assert "current_earnings" in prepared.sql and "retained_earnings" in prepared.sql


def test_ledger_lines_from_the_first_posting_when_no_period_from() -> None:
    prepared = _prepare(w600_accounting.GL_LINES, "head_office", {"account": "1191"})
    assert "p_period_from" not in prepared.sql and "{p_period_to:String}" in prepared.sql


@dataclass
class FakeResult:
    result_rows: list[tuple[Any, ...]]


@dataclass
class FakeClickHouse:
    """Answers each identity query with the rows given for the first identity name fragment it matches."""

    broken: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def query(self, sql: str) -> FakeResult:
        self.asked.append(sql)
        name = next(n for n, s in IDENTITIES if s == sql)
        for fragment, rows in self.broken.items():
            if fragment in name:
                return FakeResult(rows)
        return FakeResult([])


def test_identities_hold_when_no_query_returns_a_row() -> None:
    client = FakeClickHouse()
    assert accounting_identities(client) == []
    assert len(client.asked) == len(IDENTITIES)


def test_a_broken_identity_is_named_with_its_rows() -> None:
    client = FakeClickHouse({"total debits = total credits": [("2026-10", 5), ("2026-11", 7), ("2026-12", 1),
                                                                ("2027-01", 2)]})
    [broken] = accounting_identities(client)
    assert broken.startswith("trial balance: total debits = total credits in every period: 4 rows break it")
    assert "('2026-10', 5)" in broken and "2027-01" not in broken  # at most SHOWN rows quoted


def test_the_identities_state_what_they_check() -> None:
    sql = dict(IDENTITIES)
    trial = sql["trial balance: total debits = total credits in every period"]
    assert "sum(debit) - sum(credit)" in trial and "GROUP BY period" in trial and "!= 0" in trial
    balance = next(s for n, s in IDENTITIES if n.startswith("balance sheet balances"))
    assert "assets - liabilities - equity - net_income" in balance
    assert not any("{p_" in s or "{x_" in s for s in sql.values())  # no parameters: the whole ledger
