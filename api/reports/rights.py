"""Who may run a report: its family, and the family of every table its query reads, but those it borrows.

Why: a report is filed under one family (roles.yaml), but its query may read tables of others: commissions
read each employee's sales, employee performance reads orders and dispatch runs. Judging by the report's
family alone let a dispatcher read commissions and sellers' sales. A report may `borrow` a family whose rows
it reads only to place or label rows of its own (the order a route stop delivers, a run's driver): that
family is not asked of the caller.

Contract:
- `families_read(report, policy)`: the families of the tables the report's query reads, found once by
  building the query with a value for each required parameter as the head office (cached per report: the
  app has one role model, and the families of its tables do not change while it runs).
- `families_needed(report, policy)`: the report's family and `families_read`, less `report.borrows`.
- `may_run(policy, principal, report)`: the principal reads (`may_read`) every needed family.
- `missing_families(policy, principal, report, tables)`: for one call, the needed families (as above, of
  the tables it actually read) that the principal does not read (a parameter may change what is read); the route
  refuses such a call with a 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from api.access.policy import AccessPolicy
from api.access.principal import Principal, may_read
from api.access.rows import RowScope
from api.reports.definition import Report
from api.reports.parameters import parse
from api.reports.query import QueryContext

_SAMPLE_DAY = date(2026, 1, 15)
_SAMPLES = {"date": "2026-01-15", "month": "2026-01", "int": "1", "text": "x", "branch": "TPE", "bool": "false"}
_HEAD_OFFICE = Principal("catalog:families", "service", "head_office", None, frozenset(), None, None)
_READ: dict[str, frozenset[str]] = {}


def families_read(report: Report, policy: AccessPolicy) -> frozenset[str]:
    """The families of the tables `report` reads (see the module contract)."""
    found = _READ.get(report.id)
    if found is None:
        raw = {p.name: p.choices[0] if p.choices else _SAMPLES[p.kind] for p in report.params if p.required}
        values = parse(report, raw, _SAMPLE_DAY, _HEAD_OFFICE, policy)
        ctx = QueryContext(report, values, RowScope(_HEAD_OFFICE, policy), _SAMPLE_DAY)
        report.sql(ctx)
        found = _READ[report.id] = frozenset(policy.table(t).family for t in ctx.tables)
    return found


def families_needed(report: Report, policy: AccessPolicy) -> frozenset[str]:
    return _needed(report, families_read(report, policy))


def _needed(report: Report, read: Iterable[str]) -> frozenset[str]:
    """The report's own family and the families it reads, less those it borrows."""
    return (frozenset(read) | {report.family}) - frozenset(report.borrows)


def may_run(policy: AccessPolicy, principal: Principal, report: Report) -> bool:
    return all(may_read(policy, principal, family) for family in families_needed(report, policy))


def missing_families(policy: AccessPolicy, principal: Principal, report: Report,
                     tables: Iterable[str]) -> list[str]:
    """The needed families of `tables` the principal may not read, sorted."""
    needed = _needed(report, (policy.table(t).family for t in tables))
    return sorted(f for f in needed if not may_read(policy, principal, f))
