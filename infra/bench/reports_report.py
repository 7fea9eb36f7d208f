"""The report benchmark's README table, from its results (no I/O)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from infra.bench.reports_cases import AIM_MS

_SPAN_TEXT = {"month": "a month", "year": "a year", "defaults": "no range (defaults)"}


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _span_row(span: str, cases: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    ok = [c for c in cases if c["status"] == 200 and c["n"]]
    meets = sum(1 for c in ok if c["meets_aim"])
    slowest = max(ok, key=lambda c: c["p95_ms"], default=None)
    text = f"{meets} of {len(cases)} meet it"
    if ok and slowest is not None:
        text += (f"; p95 median {_ms(statistics.median(c['p95_ms'] for c in ok))} ms, slowest "
                 f"`{slowest['report']}` {_ms(slowest['p95_ms'])} ms")
    failed = [c["report"] for c in cases if c["status"] != 200]
    if failed:
        text += f"; failed: {', '.join(failed)}"
    return f"JSON, uncached, {_SPAN_TEXT[span]}: p95 under {_ms(AIM_MS[span])} ms", text


def _miss_text(case: Mapping[str, Any]) -> str:
    if case["status"] == 0:
        return f"`{case['report']}` broke off mid-body after {case['bytes'] / 2**20:.1f} MiB"
    if case["status"] != 200:
        return f"`{case['report']}` answered {case['status']}"
    rows = "?" if case["rows"] is None else f"{case['rows']:,}"
    runs = "" if case["n"] >= 10 else f", {case['n']} runs"
    return f"`{case['report']}` {_ms(case['p95_ms'])} ({rows} rows{runs})"


def _misses_row(span: str, cases: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    missed = sorted((c for c in cases if c["meets_aim"] is not True), key=lambda c: -(c["p95_ms"] or 0))
    if not missed:
        return None
    return (f"… missing it, {_SPAN_TEXT[span]} (p95 ms, rows in the first JSON page; slowest first)",
            "; ".join(_miss_text(c) for c in missed))


def _export_text(run: Mapping[str, Any]) -> str:
    if run["status"] == 0:
        return (f"{run['format'].upper()} broke off after {run['seconds']} s and {run['bytes'] / 2**20:,.0f} MiB "
                f"({run['error']})")
    if run["status"] != 200:
        return f"{run['format'].upper()}: answered {run['status']}"
    partial = "" if run.get("complete", True) else f", INCOMPLETE: {run['rows']:,} rows"
    return (f"{run['format'].upper()} {run['rows_per_second']:,} rows/s ({run['seconds']} s, "
            f"{run['bytes'] / 2**20:,.0f} MiB, first byte after {run['first_byte_seconds']} s{partial})")


def _memory_text(run: Mapping[str, Any]) -> str:
    rss = run.get("rss")
    if not rss:
        return f"{run['format'].upper()}: —"
    return f"{run['format'].upper()} {rss['baseline_mb']} → {rss['peak_mb']} MiB (+{rss['growth_mb']})"


def _concurrency_text(run: Mapping[str, Any]) -> str:
    text = (f"{run['requests_per_second']} requests/s, p50 {_ms(run['p50_ms'])} / p99 {_ms(run['p99_ms'])} ms "
            f"({run['ok']:,} of {run['requests']:,} answered 200")
    others = {k: v for k, v in run["statuses"].items() if k != "200"}
    if others:
        text += ", " + ", ".join(f"{v:,} {k}" for k, v in others.items())
    if run.get("pool_busy_logged"):
        text += f"; the API logged {run['pool_busy_logged']:,} × \"every ClickHouse client stayed busy\""
    return text + ")"


def reports_rows(r: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The README table of one benchmark run."""
    js, ex, co = r["json"], r["exports"], r["concurrency"]
    cases = js["cases"]
    reports = len({c["report"] for c in cases})
    rows = [("history (simulator → PostgreSQL → Debezium → Kafka → worker → ClickHouse)",
             f"{r['backfill']['rows']:,} rows, {r['backfill']['days']} days; the worker rebuilt ClickHouse in "
             f"{r['rebuild']['seconds']} s; bank: {r['bank']['files_landed']} daily statement files landed (the last "
             f"{r['bank'].get('statement_days', '?')} days) in {r['bank'].get('seconds', '?')} s"),
            ("JSON latency, how", f"{reports} reports, {len(cases)} cases, {js['rounds']} rounds; each round on a "
                                  "freshly started API process (the cache is per process) with its own ranges, "
                                  "over HTTPS as the head office (MFA token), one request at a time, to the last "
                                  "byte, the first page of at most 1,000 rows (JSON answers are pages); a case over "
                                  "3 s asked in the first 3 rounds only"
                                  + (f"; measured again on the stack of the run of {r['reused_stack_of']}"
                                     if r.get("reused_stack_of") else ""))]
    for span in ("month", "year", "defaults"):
        of_span = [c for c in cases if c["span"] == span]
        rows.append(_span_row(span, of_span))
        missed = _misses_row(span, of_span)
        if missed is not None:
            rows.append(missed)
    if js["skipped"]:
        rows.append(("not asked (longer than the report allows: a 422)",
                     "; ".join(f"`{key}` ({why})" for key, why in sorted(js["skipped"].items()))))
    params = ", ".join(f"{k}={v}" for k, v in ex["params"].items())
    rows.append((f"largest export: `{ex['report']}` ({params}), {ex['expected_rows']:,} rows, streamed through "
                 "the API",
                 "; ".join(_export_text(run) for run in ex["runs"])))
    rows.append(("API resident memory while streaming it (baseline → peak, RSS sampled every 20 ms)",
                 "; ".join(_memory_text(run) for run in ex["runs"])))
    rows.append((f"{co['cached']['clients']} concurrent clients, `{co['report']}` for a month: cached (the same "
                 "parameters)", _concurrency_text(co["cached"])))
    rows.append((f"… uncached ({co['uncached']['distinct_parameter_sets']} distinct month ranges)",
                 _concurrency_text(co["uncached"])))
    return rows
