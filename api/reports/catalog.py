"""Every report of the catalog, by id, checked against the role model once.

Contract: `catalog()` is every `Report` of the library modules listed in `LIBRARY`, by id (built once, on
first use: no work at import). `check(reports, policy)` lists what is wrong with the definitions (a duplicate
id, an unknown family or borrowed family, a drill to an unknown report or parameter, a column declared twice);
the app refuses to start with any, and a unit test keeps the list empty. Adding a report is adding one
definition to a module.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from types import MappingProxyType

from api.access.policy import AccessPolicy
from api.reports.definition import FORMATS, Report

LIBRARY = ("w100_customers", "w200_sales", "w200_tracking", "w110_master", "w300_inventory", "w500_receivables",
           "w500_tax", "w600_accounting", "w600_management", "w700_dispatch", "bank")


@lru_cache(maxsize=1)
def catalog() -> Mapping[str, Report]:
    """Every report by id, in library order."""
    reports: dict[str, Report] = {}
    for name in LIBRARY:
        module = importlib.import_module(f"api.reports.library.{name}")
        for report in module.REPORTS:
            if report.id in reports:
                raise ValueError(f"report id {report.id!r} is defined twice")
            reports[report.id] = report
    return MappingProxyType(reports)


def check(reports: Iterable[Report], policy: AccessPolicy) -> list[str]:
    """What is wrong with `reports` under `policy` (empty: nothing)."""
    by_id = {r.id: r for r in reports}
    problems: list[str] = []
    for report in by_id.values():
        problems += _report_problems(report, by_id, policy)
    return problems


def _report_problems(report: Report, by_id: Mapping[str, Report], policy: AccessPolicy) -> list[str]:
    problems = []
    if report.family not in policy.families:
        problems.append(f"{report.id}: family {report.family!r} is not in roles.yaml")
    unknown = [f for f in report.borrows if f not in policy.families]
    if unknown:
        problems.append(f"{report.id}: borrows {unknown}, not families of roles.yaml")
    names = [c.name for c in report.columns]
    if len(set(names)) != len(names):
        problems.append(f"{report.id}: a column is declared twice")
    if any(f not in FORMATS for f in report.formats) or "json" not in report.formats:
        problems.append(f"{report.id}: formats must include json and be among {', '.join(FORMATS)}")
    if "pdf" in report.formats and report.chart is not None:
        missing = [c for c in (report.chart.x, *report.chart.y) if c not in names]
        if missing:
            problems.append(f"{report.id}: chart columns {missing} are not columns")
    for drill in report.drill:
        target = by_id.get(drill.report)
        if target is None:
            problems.append(f"{report.id}: drills into unknown report {drill.report!r}")
            continue
        params = {p.name for p in target.params}
        for param, source in drill.params.items():
            if param not in params:
                problems.append(f"{report.id}: {drill.report} has no parameter {param!r}")
            known = {p.name for p in report.params} if source.startswith("@") else set(names)
            if source.removeprefix("@") not in known:
                problems.append(f"{report.id}: drill source {source!r} is neither a column nor a parameter")
    return problems
