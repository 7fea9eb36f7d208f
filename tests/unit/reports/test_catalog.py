"""Every report of the catalog: a sound definition, and SQL that builds for every role that may run it, with the
caller's branch filter on every table and no parameter value pasted into the text."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import HTTPException

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.catalog import catalog, check
from api.reports.definition import Report
from api.reports.parameters import parse
from api.reports.runner import prepare
from infra.verify.report_truth import truths

TODAY = date(2026, 11, 20)
POLICY = load_policy()
REPORTS = list(catalog().values())


def principal(role: str, branches: frozenset[str] | None) -> Principal:
    return Principal(f"test:{role}", "person", role, branches, frozenset(), None, None)


def test_the_definitions_are_sound() -> None:
    assert REPORTS and check(REPORTS, POLICY) == []


def test_every_report_has_an_independent_truth() -> None:
    assert sorted(r.id for r in REPORTS if r.id not in truths()) == []


def _sample(report: Report) -> dict[str, str]:
    """A value for each required parameter."""
    samples = {"date": "2026-11-01", "month": "2026-10", "int": "1", "text": "x", "branch": "TXG", "bool": "false"}
    return {p.name: (p.choices[0] if p.kind == "choice" else samples[p.kind]) for p in report.params if p.required}


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_sql_builds_for_every_role_that_may_run_it(report: Report) -> None:
    for role_name, role in POLICY.roles.items():
        if report.family not in role.families:
            continue
        branches = None if role.branch_scope == "all" else frozenset({"TXG"})
        who = principal(role_name, branches)
        values = parse(report, _sample(report), TODAY, who, POLICY)
        try:
            prepared = prepare(report, values, RowScope(who, POLICY), TODAY)
        except HTTPException as refused:  # company-wide figures for a branch-scoped role
            assert refused.status_code == 403 and branches is not None
            continue
        assert prepared.tables, f"{report.id} reads no table through ctx.table"
        if branches is not None:
            assert prepared.parameters.get("branches") == ["TXG"] or all(
                POLICY.table(t).branch_column is None for t in prepared.tables)
        for name, value in values.items():
            if report.param(name).kind == "choice":
                continue  # one of the definition's own fixed words (e.g. a dimension), never the caller's text
            if isinstance(value, str) and len(value) >= 3:
                assert f"'{value}'" not in prepared.sql, f"{report.id}: {value!r} pasted into the SQL"
