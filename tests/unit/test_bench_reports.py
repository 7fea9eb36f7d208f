"""The report benchmark's pure parts: the cases asked of each report, summaries, aims and the README rows."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from api.reports.catalog import catalog
from infra.bench.reports_cases import (
    Case,
    Ids,
    ParamSpec,
    ReportSpec,
    case_result,
    cases_for,
    distinct_windows,
    memory_growth,
    misses,
    month_text,
    range_kind,
    row_count,
    widest,
)
from infra.bench.reports_report import reports_rows

TODAY = date(2026, 12, 2)
IDS = Ids(customer_id=7, order_id=8, product_id=9, sales_employee_id=10, dispatch_id=11, ledger_account="4100",
          bank_account="0081234567890")


def _spec(*names: str, required: tuple[str, ...] = (), max_days: int | None = None, group: str = "W200") -> ReportSpec:
    params = tuple(ParamSpec(n, n in required) for n in (*names, *required))
    return ReportSpec("r", group, params, max_days)


def test_months_count_back_across_years() -> None:
    assert month_text(TODAY) == "2026-12"
    assert month_text(TODAY, 1) == "2026-11"
    assert month_text(TODAY, 11) == "2026-01"
    assert month_text(date(2026, 1, 31), 1) == "2025-12"
    assert month_text(date(2026, 3, 1), 26) == "2024-01"


def test_a_date_range_report_is_asked_for_a_month_and_a_year_ending_shift_days_ago() -> None:
    cases, skipped = cases_for(_spec("date_from", "date_to", "branch"), TODAY, IDS, shift=3)
    assert skipped == {}
    assert [(c.span, dict(c.params)) for c in cases] == [
        ("month", {"date_from": "2026-10-31", "date_to": "2026-11-29"}),
        ("year", {"date_from": "2025-11-30", "date_to": "2026-11-29"})]
    assert [c.aim_ms for c in cases] == [100.0, 1000.0]
    assert cases[0].key == "r:month"


def test_a_year_over_the_reports_limit_is_left_out_with_the_reason() -> None:
    cases, skipped = cases_for(_spec("date_from", "date_to", max_days=93), TODAY, IDS)
    assert [c.span for c in cases] == ["month"]
    assert skipped == {"year": "the report allows at most 93 days"}


def test_period_reports_get_the_last_complete_month_and_the_twelve_months_to_this_one() -> None:
    cases, _ = cases_for(_spec("period_from", "period_to"), TODAY, IDS)
    assert [dict(c.params) for c in cases] == [{"period_from": "2026-11", "period_to": "2026-11"},
                                               {"period_from": "2026-01", "period_to": "2026-12"}]
    tax, _ = cases_for(_spec("period", "period_to"), TODAY, IDS)  # the 401 summary names its start `period`
    assert dict(tax[1].params) == {"period": "2026-01", "period_to": "2026-12"}
    assert range_kind(_spec("period")) is None  # one period (trial balance): its defaults


def test_other_reports_run_with_their_defaults_and_the_busiest_ids() -> None:
    cases, _ = cases_for(_spec("as_of", required=("customer_id",)), TODAY, IDS, shift=5)
    assert [(c.span, dict(c.params)) for c in cases] == [("defaults", {"customer_id": "7"})]
    bank, _ = cases_for(_spec("day", required=("account",), group="BANK"), TODAY, IDS)
    ledger, _ = cases_for(_spec(required=("account",), group="W600"), TODAY, IDS)
    assert bank[0].params["account"] == "0081234567890" and ledger[0].params["account"] == "4100"
    assert cases_for(_spec(required=("branch",)), TODAY, IDS)[0][0].params == {"branch": "TPE"}


def test_every_catalog_report_has_cases_and_a_value_for_each_required_parameter() -> None:
    specs = [ReportSpec.of(r) for r in catalog().values()]
    for spec in specs:
        cases, skipped = cases_for(spec, TODAY, IDS)
        assert cases, spec.id
        assert len(cases) + len(skipped) in (1, 2)
    spans = {s.id: [c.span for c in cases_for(s, TODAY, IDS)[0]] for s in specs}
    assert spans["daily_sales"] == ["month", "year"] and spans["period_invoices"] == ["month"]
    assert spans["profit_and_loss"] == ["month", "year"] and spans["customer_profile"] == ["defaults"]


def test_rounds_ask_for_distinct_ranges_of_the_same_length() -> None:
    spec = _spec("date_from", "date_to")
    rounds = [dict(cases_for(spec, TODAY, IDS, shift=n)[0][1].params) for n in range(20)]
    assert len({tuple(p.items()) for p in rounds}) == 20
    windows = distinct_windows(TODAY, 30, 300, start_shift=1)
    assert len({tuple(w.items()) for w in windows}) == 300
    assert windows[0] == {"date_from": "2026-11-02", "date_to": "2026-12-01"}
    assert all((date.fromisoformat(w["date_to"]) - date.fromisoformat(w["date_from"])).days == 29 for w in windows)


def test_widest_takes_the_whole_history_or_the_reports_limit() -> None:
    assert widest(_spec("date_from", "date_to", max_days=400), TODAY, IDS, 365) == {
        "date_from": "2025-12-02", "date_to": "2026-12-02"}
    assert widest(_spec("date_from", "date_to", max_days=93), TODAY, IDS, 365)["date_from"] == "2026-09-01"
    assert widest(_spec("branch", required=("product_id",)), TODAY, IDS, 365) == {"product_id": "9"}


def test_row_count_is_read_from_the_end_of_a_json_document() -> None:
    assert row_count(b'..."x":1}],"row_count":12345}') == 12345
    assert row_count(b'{"rows":[],"row_count":0}\n') == 0
    assert row_count(b"id,name\r\n1,a\r\n") is None


def _result(p95: float, span: str = "month", status: int = 200) -> dict[str, Any]:
    return case_result(Case("r", span, {}), [p95] * 20, rows=10, size=2048, status=status)


def test_a_case_meets_its_aim_when_p95_is_under_it() -> None:
    one_slow = case_result(Case("r", "month", {}), [40.0] * 19 + [150.0], 1, 1, 200)
    assert one_slow["meets_aim"] is True and one_slow["p95_ms"] == 40.0  # p95 of 20 is the 19th
    two_slow = case_result(Case("r", "month", {}), [50.0] * 18 + [150.0] * 2, 1, 1, 200)
    assert two_slow["meets_aim"] is False and two_slow["p50_ms"] == 50.0 and two_slow["n"] == 20
    assert _result(150.0)["meets_aim"] is False
    assert _result(900.0, "year")["meets_aim"] is True
    failed = case_result(Case("r", "year", {}), [], None, 0, 422)
    assert failed["meets_aim"] is None and math.isnan(failed["p95_ms"])
    ordered = misses([_result(10.0), failed, *[case_result(Case(x, "month", {}), [v] * 20, 1, 1, 200)
                                               for x, v in (("a", 300.0), ("b", 900.0))]])
    assert [r["report"] for r in ordered] == ["b", "a", "r"]


def test_memory_growth_is_peak_minus_baseline() -> None:
    assert memory_growth(150.0, [151.0, 170.25, 160.0]) == {"baseline_mb": 150.0, "peak_mb": 170.2,
                                                              "growth_mb": 20.2, "samples": 3}
    assert memory_growth(150.0, [])["growth_mb"] == 0.0


def _export(fmt: str) -> dict[str, Any]:
    return {"format": fmt, "status": 200, "rows": 1_000_000, "bytes": 200 * 2**20, "seconds": 40.0,
            "first_byte_seconds": 1.5, "rows_per_second": 25_000, "mb_per_second": 5.0,
            "rss": {"baseline_mb": 150.0, "peak_mb": 180.0, "growth_mb": 30.0, "samples": 2000, "after_mb": 160.0}}


def _concurrent(rate: float) -> dict[str, Any]:
    return {"clients": 100, "requests": 300, "distinct_parameter_sets": 300, "seconds": 3.0,
            "requests_per_second": rate, "ok": 300, "statuses": {"200": 300}, "n": 300, "p50_ms": 300.0,
            "p95_ms": 500.0, "p99_ms": 700.0, "max_ms": 800.0}


def test_readme_rows_name_the_misses_the_export_and_the_concurrency() -> None:
    cases = [{**_result(40.0), "report": "daily_sales"}, {**_result(150.0), "report": "customer_profile"},
             {**_result(700.0, "year"), "report": "daily_sales"}]
    results = {"backfill": {"rows": 4_000_000, "days": 365}, "rebuild": {"seconds": 400.0},
               "bank": {"files_landed": 365},
               "json": {"rounds": 20, "cases": cases, "skipped": {"period_invoices:year": "at most 93 days"},
                        "misses": ["customer_profile:month"]},
               "exports": {"report": "stock_movements", "params": {"date_from": "2025-12-02", "date_to": "2026-12-02"},
                           "expected_rows": 1_000_000,
                           "runs": [_export("csv"), _export("parquet"),
                                    {"format": "json", "status": 0, "bytes": 3 * 2**20, "seconds": 30.5,
                                     "error": "RemoteProtocolError: peer closed", "rss": None}]},
               "concurrency": {"report": "daily_sales", "cached": _concurrent(900.0), "uncached": _concurrent(80.0)}}
    rows = dict(reports_rows(results))
    assert rows["JSON, uncached, a month: p95 under 100 ms"].startswith("1 of 2 meet it")
    assert rows["… missing it, a month (p95 ms, rows in the first JSON page; slowest first)"] == "`customer_profile` 150 (10 rows)"
    assert not any("missing it, a year" in k for k in rows)
    assert "`period_invoices:year`" in rows["not asked (longer than the report allows: a 422)"]
    export = next(v for k, v in rows.items() if k.startswith("largest export: `stock_movements`"))
    assert "CSV 25,000 rows/s" in export and "PARQUET" in export and "INCOMPLETE" not in export
    assert "JSON broke off after 30.5 s and 3 MiB (RemoteProtocolError: peer closed)" in export
    memory = next(v for k, v in rows.items() if k.startswith("API resident memory"))
    assert "CSV 150.0 → 180.0 MiB (+30.0)" in memory
    cached = next(v for k, v in rows.items() if "cached (the same parameters)" in k)
    assert cached.startswith("900.0 requests/s, p50 300 / p99 700 ms")
