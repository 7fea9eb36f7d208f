"""Turning a request's query string into a report's parameter values, with messages a person can act on.

Contract: `parse(report, raw, today, principal, policy)` returns every declared parameter's value (defaults
filled in from today's business day in Asia/Taipei) or raises `ParameterError(name, message)` (→ 422), or
`ParameterForbidden` (→ 403) for a branch outside the caller's branches or `include_inactive` asked for by a
role that may not see closed and blacklisted customers. Unknown parameters are refused (a typo must not
silently give the default). `date_from`/`date_to` must be in order and within `report.max_range_days`.
A `branch` parameter left out by a caller of one branch is that branch.
`RESERVED` names (format, and the JSON paging of api/reports/paging.py) belong to the route, not the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from api.access.policy import AccessPolicy
from api.access.principal import Principal
from api.reports.definition import Param, Report
from api.reports.query import INCLUDE_INACTIVE

RESERVED = frozenset({"format", "limit", "offset"})  # the route's: format, paging
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_BRANCH = re.compile(r"^[A-Z]{3}$")
_TEXT_MAX = 200
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class ParameterError(ValueError):
    """A parameter value the report cannot take (422)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name, self.message = name, message


class ParameterForbidden(PermissionError):
    """A parameter value the caller may not ask for (403)."""


def parse(report: Report, raw: Mapping[str, str], today: date, principal: Principal,
          policy: AccessPolicy) -> dict[str, Any]:
    """Every parameter's value for this run (see the module docstring)."""
    known = {p.name for p in report.params}
    for name in raw:
        if name not in known and name not in RESERVED:
            takes = ", ".join(sorted(known)) or "no parameters"
            raise ParameterError(name, f"unknown parameter; {report.id} takes {takes}")
    values = {p.name: _value(p, raw.get(p.name) or _own_branch(p, principal), today) for p in report.params}
    _check_range(report, values)
    _check_rights(values, principal, policy)
    return values


def _own_branch(param: Param, principal: Principal) -> str | None:
    """A branch parameter left out by a caller of one branch is that branch."""
    if param.kind == "branch" and principal.branches is not None and len(principal.branches) == 1:
        return next(iter(principal.branches))
    return None


def _value(param: Param, text: str | None, today: date) -> Any:
    if text is None or text == "":
        if param.required:
            raise ParameterError(param.name, "is required")
        default = param.default
        return default(today) if callable(default) else default
    if len(text) > _TEXT_MAX:
        raise ParameterError(param.name, f"longer than {_TEXT_MAX} characters")
    return _PARSERS[param.kind](param, text.strip())


def _date(param: Param, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ParameterError(param.name, f"{text!r} is not a date (YYYY-MM-DD)") from None


def _month(param: Param, text: str) -> str:
    if not _MONTH.match(text):
        raise ParameterError(param.name, f"{text!r} is not a month (YYYY-MM)")
    return text


def _int(param: Param, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ParameterError(param.name, f"{text!r} is not a whole number") from None
    if not -(2**63) <= value < 2**63:
        raise ParameterError(param.name, "is out of range (a 64-bit whole number)")
    if param.minimum is not None and value < param.minimum:
        raise ParameterError(param.name, f"must be at least {param.minimum}")
    if param.maximum is not None and value > param.maximum:
        raise ParameterError(param.name, f"must be at most {param.maximum}")
    return value


def _choice(param: Param, text: str) -> str:
    if text not in param.choices:
        raise ParameterError(param.name, f"{text!r} is not one of {', '.join(param.choices)}")
    return text


def _branch(param: Param, text: str) -> str:
    if not _BRANCH.match(text):
        raise ParameterError(param.name, f"{text!r} is not a branch code (three capital letters, e.g. TPE)")
    return text


def _bool(param: Param, text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ParameterError(param.name, f"{text!r} is not true or false")


def _text(param: Param, text: str) -> str:
    return text


_PARSERS = {"date": _date, "month": _month, "int": _int, "choice": _choice, "branch": _branch, "bool": _bool,
            "text": _text}


def _check_range(report: Report, values: Mapping[str, Any]) -> None:
    first, last = values.get("period_from"), values.get("period_to")
    if isinstance(first, str) and isinstance(last, str) and last < first:
        raise ParameterError("period_to", f"{last} is before period_from {first}")
    start, end = values.get("date_from"), values.get("date_to")
    if not isinstance(start, date) or not isinstance(end, date):
        return
    if end < start:
        raise ParameterError("date_to", f"{end} is before date_from {start}")
    days = (end - start).days + 1
    if report.max_range_days is not None and days > report.max_range_days:
        raise ParameterError("date_to", f"the range is {days} days; {report.id} allows at most "
                                        f"{report.max_range_days} (request a report run for longer ranges)")


def _check_rights(values: Mapping[str, Any], principal: Principal, policy: AccessPolicy) -> None:
    branch = values.get("branch")
    if isinstance(branch, str) and principal.branches is not None and branch not in principal.branches:
        raise ParameterForbidden(f"branch {branch} is outside the caller's branches "
                                 f"({', '.join(sorted(principal.branches))})")
    if values.get(INCLUDE_INACTIVE) and not policy.role(principal.role).inactive_customers:
        raise ParameterForbidden(f"the role {principal.role} may not list closed or blacklisted customers")
