"""Bank reports: SQL for the roles that may read the bank (head office, auditors) with no value pasted into it, a
403 for branch-scoped callers, and the truth built from statement files (parsed with the import's reader)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi import HTTPException

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.catalog import check
from api.reports.definition import Report
from api.reports.library import bank
from api.reports.parameters import parse
from api.reports.runner import Prepared, prepare
from infra.verify.report_truth import bank as bank_truth

TODAY = date(2026, 12, 2)
POLICY = load_policy()
VALUES = {"account": "0081234567890", "statement_number": "334", "status": "unmatched_bank", "date_from": "2026-11-03",
          "date_to": "2026-11-27", "day": "2026-11-29", "linked_by": "reference"}
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):[^}]+\}")
STATEMENT = (":20:LGB261129A\r\n:25:0081234567890\r\n:28C:00333/00001\r\n:60F:C261128TWD5000000,\r\n"
             ":61:2611291129C29720,NTRF95010000279102//TX26112835293605\r\n"
             ":86:虛擬帳號 95010000279102 100% 's 貨款\r\n/EREF/TX26112835293605\r\n"
             ":61:2611291129D120,NCHGNONREF\r\n:86:手續費\r\n"
             ":62F:C261129TWD5029600,\r\n-\r\n")


def _who(role: str, branches: frozenset[str] | None = None) -> Principal:
    return Principal(f"test:{role}", "person", role, branches, frozenset(), None, None)


def _prepare(report: Report, who: Principal, raw: dict[str, str]) -> Prepared:
    return prepare(report, parse(report, raw, TODAY, who, POLICY), RowScope(who, POLICY), TODAY)


@pytest.mark.parametrize("report", bank.REPORTS, ids=lambda r: r.id)
def test_builds_for_the_bank_roles_and_pastes_no_value(report: Report) -> None:
    roles = [name for name, role in POLICY.roles.items() if report.family in role.families]
    assert roles == ["head_office", "auditor"]
    raw = {p.name: VALUES[p.name] for p in report.params}
    for role in roles:
        prepared = _prepare(report, _who(role), raw)
        for name, value in raw.items():
            pasted = f"'{value}'" if report.param(name).kind == "choice" else value  # a choice is also a word
            assert pasted not in prepared.sql, f"{report.id}: {name}={value!r} pasted into the SQL"
            assert f"{{p_{name}:" in prepared.sql, f"{report.id}: parameter {name} unused"
        assert set(PLACEHOLDER.findall(prepared.sql)) <= set(prepared.parameters)
        assert any(t.startswith(("v_bank_", "bank_")) for t in prepared.tables)


@pytest.mark.parametrize("report", bank.REPORTS, ids=lambda r: r.id)
def test_a_branch_scoped_caller_is_refused(report: Report) -> None:
    who = _who("branch_manager", frozenset({"TPE"}))
    raw = {p.name: VALUES[p.name] for p in report.params if p.required}
    with pytest.raises(HTTPException) as refused:
        _prepare(report, who, raw)
    assert refused.value.status_code == 403


def test_defaults_read_everything_of_the_newest_run() -> None:
    items = _prepare(bank.BANK_RECONCILIATION_ITEMS, _who("auditor"), {})
    assert items.values["status"] == "all" and "b.status =" not in items.sql and "b.account =" not in items.sql
    collections = _prepare(bank.BANK_COLLECTIONS, _who("head_office"), {"linked_by": "all"})
    assert "b.linked_by =" not in collections.sql and "bank_reconciliation_latest" in collections.tables
    assert _prepare(bank.BANK_STATEMENT_LINES, _who("head_office"), {"account": "x"}).values["day"] == date(2026, 12, 1)


def test_definitions_are_sound_and_the_truth_covers_every_report(tmp_path: Path) -> None:
    assert check(bank.REPORTS, POLICY) == []
    (tmp_path / "2026-11-30").mkdir()
    (tmp_path / "2026-11-30" / "x_LGB_20261129.sta").write_bytes(STATEMENT.encode())
    (tmp_path / "2026-11-30" / "copy.sta").write_bytes(STATEMENT.encode())  # the same bytes: once
    (tmp_path / "broken.sta").write_bytes(b"not a statement")  # a rejected file's local copy: left out
    files = bank_truth.accepted_candidates(tmp_path)
    assert [len(f.statements[0].transactions) for f in files] == [2]
    truths = bank_truth.build(files, 35, 3)
    assert sorted(truths) == sorted(r.id for r in bank.REPORTS)
    for report in bank.REPORTS:
        truth = truths[report.id]
        assert "bank_import.seen_file" in truth.sql and len(truth.cases) >= 2
        assert {p.name for p in report.params} >= set(re.findall(r"%\((\w+)\)s", truth.sql)) - {"branches", "today"}
    sql = truths["cash_flow"].sql
    assert "100%% ''s" in sql and "100% '" not in sql  # quotes doubled, % escaped for psycopg
    assert "- 34 AS period_start" in truths["bank_reconciliation"].sql
