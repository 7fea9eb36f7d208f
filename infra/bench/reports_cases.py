"""The report benchmark's pure parts: which requests it makes of each report, and how it sums them up (no I/O).

Every report of the catalog is asked for in JSON:
- a report with a date range (`date_from`/`date_to`) or a period range (`period_from`/`period_to`, or
  `period`/`period_to` for the 401 summary) twice: a month (30 days ending `shift` days before today; one
  period, the last complete month) and a year (365 days ending `shift` days before today; the 12 periods up
  to this month). A year over the report's `max_range_days` is not asked (the API refuses it with a 422);
- any other report once, with its defaults ("defaults": today, this month, every customer ...).
Required parameters name the busiest entity of the data (`Ids`: the customer with the most orders, ...).
`shift` is the round's number, so every round asks for another range of the same length.

Aims (the issue): p95 under 100 ms for a month, under 1 s for a year; a report without a range is judged
against the month's aim (an interactive "now" view).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from infra.bench.latency import percentile

SPAN_DAYS: Mapping[str, int] = {"month": 30, "year": 365}
AIM_MS: Mapping[str, float] = {"month": 100.0, "year": 1000.0, "defaults": 100.0}
_ROW_COUNT = re.compile(rb'"row_count":(\d+)\}\s*$')


@dataclass(frozen=True, slots=True)
class Ids:
    """Values for the required parameters: the busiest entity of each kind in the benchmark's data."""

    customer_id: int
    order_id: int
    product_id: int
    sales_employee_id: int
    dispatch_id: int
    ledger_account: str
    bank_account: str
    branch: str = "TPE"

    def value(self, report_id: str, group: str, name: str) -> str | None:
        """The value of required parameter `name` of a report, None when there is none."""
        if name == "account":
            return self.bank_account if group == "BANK" else self.ledger_account
        if name == "branch":
            return self.branch
        found = getattr(self, name, None)
        return None if found is None else str(found)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """What the case builder needs of a report parameter (`api.reports.definition.Param`)."""

    name: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """What the case builder needs of a report (`api.reports.definition.Report`)."""

    id: str
    group: str
    params: tuple[ParamSpec, ...]
    max_range_days: int | None = None

    @classmethod
    def of(cls, report: Any) -> ReportSpec:
        return cls(report.id, report.group, tuple(ParamSpec(p.name, p.required) for p in report.params),
                   report.max_range_days)


@dataclass(frozen=True, slots=True)
class Case:
    """One request of a round: a report, the span it covers and its query string."""

    report: str
    span: str  # "month", "year" or "defaults"
    params: Mapping[str, str]

    @property
    def key(self) -> str:
        return f"{self.report}:{self.span}"

    @property
    def aim_ms(self) -> float:
        return AIM_MS[self.span]


def month_text(day: date, months_back: int = 0) -> str:
    """The month `months_back` months before the month of `day`, as YYYY-MM."""
    index = day.year * 12 + day.month - 1 - months_back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def range_kind(spec: ReportSpec) -> str | None:
    """"date" or "period" when the report takes a range of days or of months, None otherwise."""
    names = {p.name for p in spec.params}
    if {"date_from", "date_to"} <= names:
        return "date"
    if {"period_from", "period_to"} <= names or {"period", "period_to"} <= names:
        return "period"
    return None


def required_values(spec: ReportSpec, ids: Ids) -> dict[str, str]:
    values: dict[str, str] = {}
    for param in spec.params:
        if param.required:
            value = ids.value(spec.id, spec.group, param.name)
            if value is None:
                raise ValueError(f"{spec.id}: no benchmark value for its required parameter {param.name!r}")
            values[param.name] = value
    return values


def cases_for(spec: ReportSpec, today: date, ids: Ids, shift: int = 0) -> tuple[list[Case], dict[str, str]]:
    """The cases of one report for a round, and the spans left out with the reason."""
    base = required_values(spec, ids)
    kind = range_kind(spec)
    if kind is None:
        return [Case(spec.id, "defaults", base)], {}
    cases, skipped = [], {}
    for span, days in SPAN_DAYS.items():
        if kind == "date":
            if spec.max_range_days is not None and days > spec.max_range_days:
                skipped[span] = f"the report allows at most {spec.max_range_days} days"
                continue
            end = today - timedelta(days=shift)
            params = {"date_from": (end - timedelta(days=days - 1)).isoformat(), "date_to": end.isoformat()}
        else:
            first = "period_from" if any(p.name == "period_from" for p in spec.params) else "period"
            # a month: the last complete one; a year: the 12 months up to this one
            params = ({first: month_text(today, 1), "period_to": month_text(today, 1)} if span == "month"
                      else {first: month_text(today, 11), "period_to": month_text(today)})
        cases.append(Case(spec.id, span, {**base, **params}))
    return cases, skipped


def widest(spec: ReportSpec, today: date, ids: Ids, history_days: int) -> dict[str, str]:
    """The widest range a report takes over the history (all of it when the report allows that)."""
    params = required_values(spec, ids)
    if range_kind(spec) == "date":
        days = history_days + 1 if spec.max_range_days is None else min(history_days + 1, spec.max_range_days)
        params |= {"date_from": (today - timedelta(days=days - 1)).isoformat(), "date_to": today.isoformat()}
    return params


def row_count(body_tail: bytes) -> int | None:
    """The `row_count` at the end of a JSON report document, None when it is not there."""
    found = _ROW_COUNT.search(body_tail)
    return int(found.group(1)) if found else None


def summary(values: Sequence[float]) -> dict[str, Any]:
    """n, p50, p95 and max of latencies in ms (nearest rank)."""
    values = list(values)
    return {"n": len(values), "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1), "max_ms": round(max(values, default=math.nan), 1)}


def case_result(case: Case, latencies: Sequence[float], rows: int | None, size: int, status: int) -> dict[str, Any]:
    """One case's figures and whether it meets its aim (p95 under the aim; None when it failed)."""
    result: dict[str, Any] = {"report": case.report, "span": case.span, "params": dict(case.params),
                              "status": status, "rows": rows, "bytes": size, "aim_ms": case.aim_ms,
                              **summary(latencies)}
    result["meets_aim"] = None if status != 200 or not latencies else result["p95_ms"] < case.aim_ms
    return result


def misses(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The cases that miss their aim (or failed), slowest first."""
    return sorted((r for r in results if r["meets_aim"] is not True),
                  key=lambda r: -r["p95_ms"] if r["p95_ms"] == r["p95_ms"] else 0.0)


def memory_growth(baseline_mb: float, samples_mb: Sequence[float]) -> dict[str, float]:
    """Peak and growth over the baseline of RSS samples taken during a download (MiB)."""
    peak = max(samples_mb, default=baseline_mb)
    return {"baseline_mb": round(baseline_mb, 1), "peak_mb": round(peak, 1),
            "growth_mb": round(peak - baseline_mb, 1), "samples": len(samples_mb)}


def distinct_windows(today: date, days: int, count: int, start_shift: int = 1) -> list[dict[str, str]]:
    """`count` distinct ranges of `days` days, ending `start_shift`, `start_shift + 1`, ... days before today."""
    ends = (today - timedelta(days=start_shift + k) for k in range(count))
    return [{"date_from": (end - timedelta(days=days - 1)).isoformat(), "date_to": end.isoformat()} for end in ends]
