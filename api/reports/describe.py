"""What `GET /reports` says of a report: titles, parameters as JSON Schema, columns, formats, who may run it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, urlencode

from api.access.policy import AccessPolicy
from api.reports.definition import GROUP_TITLES, Param, Report

_SCHEMAS: dict[str, dict[str, Any]] = {
    "date": {"type": "string", "format": "date"},
    "month": {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"},
    "int": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    "text": {"type": "string", "maxLength": 200},
    "choice": {"type": "string"},
    "branch": {"type": "string", "pattern": "^[A-Z]{3}$"},
    "bool": {"type": "boolean"},
}


def parameter_schema(param: Param) -> dict[str, Any]:
    """The JSON Schema of one parameter, with its labels and default."""
    schema = dict(_SCHEMAS[param.kind])
    if param.choices:
        schema["enum"] = list(param.choices)
    if param.minimum is not None:
        schema["minimum"] = param.minimum
    if param.maximum is not None:
        schema["maximum"] = param.maximum
    default = "computed from today (Asia/Taipei)" if callable(param.default) else param.default
    return {"name": param.name, "label_zh": param.label_zh, "label_en": param.label_en, "required": param.required,
            "schema": schema, "default": default}


def sensitive(report: Report, policy: AccessPolicy) -> bool:
    return report.sensitive if report.sensitive is not None else report.family in policy.sensitive_families


def describe(report: Report, policy: AccessPolicy, may_run: Callable[[str], bool]) -> dict[str, Any]:
    """The catalog entry of `report`; `may_run(role)` says which roles may run it."""
    group_zh, group_en = GROUP_TITLES[report.group]
    return {
        "id": report.id, "group": report.group, "group_zh": group_zh, "group_en": group_en,
        "title_zh": report.title_zh, "title_en": report.title_en, "answers": report.answers,
        "family": report.family, "sensitive": sensitive(report, policy), "source": report.source, "how": report.how,
        "parameters": [parameter_schema(p) for p in report.params], "max_range_days": report.max_range_days,
        "columns": [{"name": c.name, "kind": c.kind, "label_zh": c.label_zh, "label_en": c.label_en, "unit": c.unit}
                    for c in report.columns],
        "formats": list(report.formats), "drill": [d.report for d in report.drill],
        "roles": sorted(r for r in policy.roles if may_run(r)),
        "href": f"/reports/{report.id}",
    }


def drill_links(report: Report, values: dict[str, Any]) -> Callable[[tuple[Any, ...]], dict[str, str]] | None:
    """A function giving one row's drill-through links, or None when the report has none."""
    if not report.drill:
        return None
    index = {c.name: i for i, c in enumerate(report.columns)}
    # Per drill: its path, and per parameter either its encoded `name=value` (from the request: the same on every
    # row) or (`name=`, the row's column); a drill a request value leaves empty is never offered.
    plans: list[tuple[str, str, list[str | tuple[str, int]]]] = []
    for drill in report.drill:
        parts: list[str | tuple[str, int]] = []
        for param, source in drill.params.items():
            if source.startswith("@"):
                value = values.get(source[1:])
                if value is None:
                    break
                parts.append(urlencode({param: _text(value)}))
            else:
                parts.append((f"{quote_plus(param)}=", index[source]))
        else:
            plans.append((drill.report, f"/reports/{drill.report}?", parts))

    def links(row: tuple[Any, ...]) -> dict[str, str]:
        out = {}
        for target, path, parts in plans:
            encoded = []
            for part in parts:
                if isinstance(part, str):
                    encoded.append(part)
                    continue
                value = row[part[1]]
                if value is None:  # a computed line (a subtotal) has nothing to open
                    break
                encoded.append(part[0] + quote_plus(_text(value)))
            else:
                out[target] = path + "&".join(encoded)
        return out

    return links


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
