"""Every report of the catalog compared cell by cell with its truth recomputed from PostgreSQL.

Contract: `report_differences(settings, only)` runs each report (all, or the ids in `only`) for each of its
truth's cases twice — as the head office (all branches) and as a manager of one branch (`VERIFY_BRANCH`) —
through the same runner the API uses, runs the truth's PostgreSQL query with the same parameter values, and
returns every difference (a row on one side only, or a cell that differs) and the number of cells checked. A
report without a truth is itself a difference: every report must be proven. With every report checked, the
ledger's accounting identities (`accounting_identities`: journals and periods balance, the balance sheet
balances, net income equals the change in net assets) are checked too; each broken one is a difference.
Money compares to the cent, rates to 4 decimals, datetimes to the second.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from fastapi import HTTPException

from api.access.policy import AccessPolicy, load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.catalog import catalog
from api.reports.definition import Column, Report
from api.reports.library.w600_accounting import accounting_identities
from api.reports.parameters import parse
from api.reports.runner import all_rows, prepare
from infra.clickhouse.runner import get_client
from infra.clock import SystemClock, business_day
from infra.settings import StackSettings
from infra.verify.report_truth import Truth, truths

VERIFY_BRANCH = "TPE"


@dataclass(frozen=True)
class ReportDifference:
    report: str
    case: str
    what: str

    def __str__(self) -> str:
        return f"{self.report} [{self.case}]: {self.what}"


def principals() -> tuple[Principal, ...]:
    """Who verify runs the reports as: every branch, and one branch (neither role masks anything)."""
    return (Principal("verify:head_office", "service", "head_office", None, frozenset(), None, None),
            Principal("verify:branch_manager", "service", "branch_manager", frozenset({VERIFY_BRANCH}), frozenset(),
                      None, None))


def normalise(column: Column, value: Any) -> Any:
    """A cell as both sides are compared: money to the cent, rates to 4 places, datetimes to the second."""
    if value is None:
        return None
    if column.kind == "money":
        return Decimal(value).quantize(Decimal("0.01"))
    if column.kind == "decimal":
        return Decimal(value).normalize()
    if column.kind in ("rate", "float"):
        return round(float(value), 4)
    if column.kind == "int":
        return int(value)
    if column.kind == "bool":
        return bool(value)
    if column.kind == "datetime":
        return int(value.timestamp()) if isinstance(value, datetime) else value
    if column.kind == "date":
        return value.date() if isinstance(value, datetime) else value
    return str(value)


def _rows(report: Report, rows: Iterable[Sequence[Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(normalise(c, v) for c, v in zip(report.columns, row, strict=True)) for row in rows)


def _compare(report: Report, case: str, truth: Counter[tuple[Any, ...]],
             stream: Counter[tuple[Any, ...]]) -> list[ReportDifference]:
    diffs = []
    for row in sorted((truth - stream).keys(), key=repr)[:20]:
        diffs.append(ReportDifference(report.id, case, f"only in the truth: {row}"))
    for row in sorted((stream - truth).keys(), key=repr)[:20]:
        diffs.append(ReportDifference(report.id, case, f"only in the report: {row}"))
    return diffs


def check_report(report: Report, truth: Truth, conn: psycopg.Connection[Any], clickhouse: Any,
                 policy: AccessPolicy, today: date) -> tuple[list[ReportDifference], int]:
    """The differences of one report over its cases and principals, and the cells compared."""
    diffs: list[ReportDifference] = []
    cells = 0
    for raw in truth.cases:
        for principal in principals():
            if report.family not in policy.role(principal.role).families:
                continue  # this role may not run the report (the route refuses it)
            case = f"{principal.role} {dict(raw)}"
            values = parse(report, raw, today, principal, policy)
            try:
                prepared = prepare(report, values, RowScope(principal, policy), today)
            except HTTPException as refused:  # company-wide figures: branch-scoped callers get a 403
                if refused.status_code == 403 and principal.branches is not None:
                    continue
                raise
            stream = _rows(report, all_rows(clickhouse, prepared))
            branches = None if principal.branches is None else sorted(principal.branches)
            pg_params: Mapping[str, Any] = {**values, "branches": branches, "today": today}
            expected = _rows(report, conn.execute(truth.sql, pg_params).fetchall())
            cells += sum(expected.values()) * len(report.columns)
            diffs += _compare(report, case, expected, stream)
    return diffs, cells


def report_differences(settings: StackSettings, only: Iterable[str] | None = None,
                       conn: psycopg.Connection[Any] | None = None) -> tuple[list[ReportDifference], dict[str, int]]:
    """Every difference between the reports and their truths, and the cells checked per report; the truth is
    read in `conn`'s snapshot (a barrier's) or in a REPEATABLE READ snapshot of its own."""
    if conn is None:
        with psycopg.connect(settings.postgres.dsn()) as own:
            own.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            return report_differences(settings, only, own)
    wanted = set(only) if only else None
    policy, known = load_policy(settings.access.policy_file), truths(settings)
    today = business_day(SystemClock().now())
    diffs: list[ReportDifference] = []
    checked: dict[str, int] = {}
    clickhouse = get_client(settings)
    try:
        for report in catalog().values():
            if wanted is not None and report.id not in wanted:
                continue
            truth = known.get(report.id)
            if truth is None:
                diffs.append(ReportDifference(report.id, "-", "no truth: the report is not verified"))
                continue
            found, checked[report.id] = check_report(report, truth, conn, clickhouse, policy, today)
            diffs += found
        if wanted is None:
            diffs += [ReportDifference("accounting", "identities", broken)
                      for broken in accounting_identities(clickhouse)]
    finally:
        clickhouse.close()
    return diffs, checked
