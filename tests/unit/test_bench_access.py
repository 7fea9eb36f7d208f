"""The access benchmark's pure parts: latency summaries, added cost, alternation of variants, the README rows."""

from __future__ import annotations

import math
from typing import Any

from infra.bench.access import Variant, block_size, with_bench_limits
from infra.bench.access_report import access_rows, added_cost, latency_summary, rotated
from infra.settings import ApiSettings, StackSettings


def test_summary_uses_nearest_rank_percentiles() -> None:
    s = latency_summary([float(v) for v in range(1, 101)])  # 1..100 ms
    assert (s["requests"], s["p50_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]) == (100, 50.0, 95.0, 99.0, 100.0)
    assert s["mean_ms"] == 50.5
    assert latency_summary([7.0])["p99_ms"] == 7.0


def test_summary_of_nothing_is_nan_not_an_error() -> None:
    s = latency_summary([])
    assert s["requests"] == 0 and math.isnan(s["p50_ms"]) and math.isnan(s["mean_ms"])


def test_added_cost_is_with_minus_without_per_quantile() -> None:
    with_ = {"p50_ms": 12.5, "p95_ms": 20.0, "p99_ms": 31.25}
    without = {"p50_ms": 10.0, "p95_ms": 15.5, "p99_ms": 35.0}
    assert added_cost(with_, without) == {"p50_ms": 2.5, "p95_ms": 4.5, "p99_ms": -3.75}


def test_rounds_start_with_a_different_variant_each_time() -> None:
    items = ["a", "b", "c", "d"]
    assert [rotated(items, r)[0] for r in range(5)] == ["a", "b", "c", "d", "a"]
    assert sorted(rotated(items, 3)) == items
    assert rotated([], 2) == []


def test_bench_limits_keep_the_window_capacity_and_touch_nothing_else() -> None:
    settings = StackSettings(api=ApiSettings(port=18200))
    changed = with_bench_limits(settings)
    assert changed.identity.rate_limit_principal == "600/second"
    assert settings.identity.rate_limit_principal == "600/minute"  # the product's default, unchanged
    assert changed.identity.redis_url == settings.identity.redis_url and changed.api.port == 18200
    assert Variant("x", "https://h/kpis/today", None, "api-bare").user is None


def _run(p50: float, p99: float, rate: float = 100.0) -> dict[str, Any]:
    return {"requests": 2000, "p50_ms": p50, "p95_ms": p50 + 1, "p99_ms": p99, "requests_per_second": rate,
            "server_cpu_ms_per_request": p50 / 4}


def _results() -> dict[str, Any]:
    runs = {"with_head_office": _run(14.0, 30.0), "with_branch_manager": _run(15.0, 32.0),
            "without_all_branches": _run(10.0, 20.0), "without_one_branch": _run(11.0, 24.0)}
    appends = {"appenders": 1, "records": 5000, "records_per_second": 450, "append_p50_ms": 2.1,
               "append_p99_ms": 6.0, "records_per_commit": 1.0}
    return {"backfill": {"rows": 123_456, "days": 7}, "today_live_changes": 1000,
            "users": {"head_office": {"subject": "emp:1", "branch": "TPE"},
                      "branch_manager": {"subject": "emp:2", "branch": "TXG"}},
            "kpis": {"same": {"head_office": True, "branch_manager": False},
                     "sequential": {**runs, "machine": {"cpu_percent": 97.5, "load_average_1m": 6.2, "block": 1}},
                     "concurrent_8": {**runs, "machine": {"cpu_percent": 99.0, "load_average_1m": 9.1, "block": 80}}},
            "parts_ms": {"token_verification": {"p50_ms": 0.1, "p99_ms": 0.2},
                         "rate_limit_check": {"p50_ms": 0.4, "p99_ms": 0.9}},
            "audit": {"sequential": appends,
                      "concurrent_8": {**appends, "appenders": 8, "records_per_second": 2500,
                                       "records_per_commit": 6.5},
                      "verify": {"ok": True, "checked": 19_000, "seconds": 0.8, "records_per_second": 23_750}}}


def test_rows_show_both_sides_and_the_difference() -> None:
    rows = dict(access_rows(_results()))
    head = rows["GET /kpis/today, 1 client, sequential, 2,000 each: head office token / without"]
    assert head.startswith("p50 14.0 / p95 15.0 / p99 30.0 ms / p50 10.0 / p95 11.0 / p99 20.0 ms")
    assert "added **p50 +4.0 ms, p99 +10.0 ms**" in head and head.endswith("server CPU 3.5 vs 2.5 ms per request")
    manager = rows["GET /kpis/today, 8 concurrent requests, 2,000 each: branch manager token (TXG) / without"]
    assert "added **p50 +4.0 ms, p99 +8.0 ms**" in manager and "100.0 vs 100.0 requests/s" in manager
    assert rows["the branch filter's SQL alone (without: branch TXG vs all branches, sequential)"] == \
        "p50 +1.0 ms, p99 +4.0 ms"
    assert "head office yes, branch TXG NO" in rows["without access control"]
    assert rows["the shared machine while they ran (CPU busy, 1-min load average)"] == \
        "sequential: 97.5%, load 6.2; concurrent: 99.0%, load 9.1"


def test_variants_switch_request_by_request_when_sequential_and_in_short_blocks_when_concurrent() -> None:
    assert block_size(1) == 1
    assert block_size(8) == 80 and 2000 % block_size(8) == 0


def test_rows_report_audit_rates_and_the_verification() -> None:
    rows = access_rows(_results())
    audit = next(value for name, value in rows if name.startswith("audit records appended"))
    assert audit.startswith("450 / 2,500 records/s") and "6.5 records per commit" in audit
    verify = next(value for name, value in rows if name.startswith("audit chain verified"))
    assert verify == "OK: 19,000 records in 0.8 s (23,750 records/s)"
    assert all(isinstance(name, str) and isinstance(value, str) for name, value in rows)
