"""Report-catalog benchmark: every report's JSON latency on a year of history, the largest exports' rows/s,
the API's memory while it streams them, and cached against uncached answers under 100 concurrent clients.

    python -m infra.bench --only reports [--reports-days 365] [--keep] [--reuse]

`--reuse` measures again on the stack a `--keep` run left running (its bring-up figures are carried over).

Its own stack (ports +300, `.state/bench-reports-stack`, so the dev stack, the test stack and the other
benchmarks' stack are left alone): PostgreSQL with `--reports-days` of simulated history, Debezium's snapshot
into Kafka, the streaming worker rebuilding ClickHouse from the topics, Redis, the API as the product runs it
(`python -m api`, HTTPS with the stack's own CA), and the bank import (SFTP server, import, landing) with a
statement file per day of the last `BANK_STATEMENT_DAYS`, so the bank reports have data. The benchmark signs
in as a demo head-office person (password, then TOTP: sensitive reports need it) and calls the API over HTTPS.

1. JSON, uncached: every report for a month and for a year (`infra.bench.reports_cases`), `ROUNDS` rounds,
   each on a freshly started API process (the result cache lives in the process) and with its own ranges;
   p50/p95 per report and span against the aims (p95 < 100 ms for a month, < 1 s for a year).
   JSON answers are pages (api/reports/paging.py): the time is the first page's, of the whole ordered result.
2. Exports: the report with the most rows, over the widest range it allows, downloaded as CSV and
   Parquet (`EXPORT_RUNS` each); rows/s; the API's RSS sampled meanwhile (flat memory:
   peak minus baseline). Whether that is a million rows depends on the history: the row count is recorded.
3. 100 concurrent clients on `CONCURRENT_REPORT` (a month): cached (the same parameters every time, after one
   call filled the cache) and uncached (a distinct month range per request); requests/s and p50/p99.

The per-person rate limit is raised from 600/minute to 600/second for the run (the same window capacity; the
product's limit would refuse the benchmark's own requests).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.access.seed_demo_users import DemoUser
from api.reports.catalog import catalog
from api.reports.paging import DEFAULT_LIMIT
from api.reports.parameters import parse
from api.reports.runner import count_rows, prepare
from infra import stack
from infra.access_settings import IdentitySettings
from infra.bench import cdc, streaming
from infra.bench.memory import component_rss_mb
from infra.bench.report import write_json
from infra.bench.reports_cases import Ids, ReportSpec, cases_for, distinct_windows, misses, widest
from infra.bench.reports_http import (
    BROKE_OFF,
    Session,
    concurrent,
    export,
    get_whole,
    latency_rounds,
    report_url,
    restart_api,
)
from infra.clickhouse.runner import get_client, start_clickhouse
from infra.clock import SystemClock, business_day
from infra.kafka.broker import start_kafka
from infra.kafka.connect import register_connector, start_connect
from infra.postgres.runner import apply_schema, start_postgres
from infra.postgres.tables import CAPTURED_TABLES
from infra.process import StackError
from infra.redis.runner import start_redis
from infra.services import api_process
from infra.settings import (
    PROJECT_ROOT,
    ApiSettings,
    ClickHouseSettings,
    ConnectSettings,
    KafkaSettings,
    PostgresSettings,
    StackSettings,
)
from infra.simulator.mt940_text import TWD_ACCOUNT
from infra.status import read_status

ROUNDS = 20
EXPORT_RUNS = 2
CLIENTS, CACHED_REQUESTS, UNCACHED_REQUESTS = 100, 2000, 300
CONCURRENT_REPORT = "daily_sales"
BENCH_RATE_LIMIT = "600/second"
BANK_TIMEOUT = 1800.0
# The landing agent reconciles after every file it lands (35 days back): with a year of payments ~20 s each, so a
# year of files took hours to land (67 files in 9 minutes, then ~23 s per file); the last 35 days are enough.
BANK_STATEMENT_DAYS = 35
POOL_BUSY = b"every ClickHouse client stayed busy"  # api.deps.ClickHousePool after its 5 s wait
PARTIAL = PROJECT_ROOT / ".state" / "bench" / "reports-partial.json"

_BUSIEST = {
    "customer_id": "SELECT customer_id FROM w200.order_master GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    "order_id": "SELECT order_id FROM w200.order_detail GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    "product_id": "SELECT product_id FROM w200.order_detail GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    "sales_employee_id": "SELECT sales_employee_id FROM w200.order_master WHERE sales_employee_id IS NOT NULL "
                         "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    "dispatch_id": "SELECT dispatch_id FROM w700.route_detail GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    "ledger_account": "SELECT account_code FROM w600.gl_transaction GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
}


def reports_settings(days: int) -> StackSettings:
    """Its own state and ports (+300 from the defaults); a statement file per day of the last 35 for the bank."""
    return StackSettings(
        state_dir=PROJECT_ROOT / ".state" / "bench-reports-stack",
        postgres=PostgresSettings(port=55732, slot_name="luckygas_bench_reports",
                                  publication_name="luckygas_bench_reports"),
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:19392", controller_port=19393),
        connect=ConnectSettings(rest_url="http://127.0.0.1:18383"),
        clickhouse=ClickHouseSettings(http_port=18423, tcp_port=19300),
        api=ApiSettings(port=18300),
        identity=IdentitySettings(redis_url="redis://127.0.0.1:16679/0", public_url="https://127.0.0.1:18300",
                                  rate_limit_principal=BENCH_RATE_LIMIT),
        bank={"sftp_port": 18322, "local_statement_days": min(days, BANK_STATEMENT_DAYS)},
    )


def bring_up(settings: StackSettings, days: int, results: dict[str, Any]) -> list[DemoUser]:
    """The whole stack from clean state with `days` of history streamed into ClickHouse; the demo users."""
    stack.clean(settings)
    start_postgres(settings)
    apply_schema(settings)
    start_clickhouse(settings)
    start_kafka(settings)
    started = time.monotonic()
    stack.backfill(settings, days)
    rows = cdc.database_rows(settings)
    results["backfill"] = {"days": days, "rows": rows, "seconds": round(time.monotonic() - started, 1)}
    started = time.monotonic()
    start_connect(settings)
    register_connector(settings, list(CAPTURED_TABLES))
    results["snapshot"] = asyncio.run(cdc.snapshot_rate(settings, rows, started))
    users = stack.prepare_access(settings)
    start_redis(*stack.redis_address(settings), settings.state_dir)
    results["rebuild"] = streaming.rebuild(settings)  # starts the worker, then the API
    started = time.monotonic()
    stack.start_bank_import(settings)
    results["bank"] = {**wait_bank_landed(settings), "statement_days": settings.bank.local_statement_days,
                       "seconds": round(time.monotonic() - started, 1)}
    results["merges_settled_seconds"] = streaming.wait_for_merges(settings, timeout=600)
    return users


def wait_bank_landed(settings: StackSettings) -> dict[str, Any]:
    """Until the importer's first pull has run and the landing agent has landed every file it imported."""
    deadline = time.monotonic() + BANK_TIMEOUT
    while time.monotonic() < deadline:
        pulled = read_status(settings.bank_importer_status_file, 60)[0]
        landed = read_status(settings.bank_landing_status_file, 60)[0]
        last_pull = (pulled or {}).get("last_pull")
        if pulled and pulled["failed_runs"]:
            raise StackError(f"the bank import's first pull failed; see {settings.logs_dir}")
        if pulled and landed and pulled["completed_runs"] >= 1 and last_pull is not None \
                and landed["files"] >= len(last_pull["imported"]):
            return {"files_imported": len(last_pull["imported"]), "files_rejected": len(last_pull["rejected"]),
                    "files_landed": landed["files"], "reconciliation_runs": landed["reconciliation_runs"]}
        time.sleep(2)
    raise StackError(f"the bank import did not land its files within {BANK_TIMEOUT:.0f}s")


def busiest(settings: StackSettings) -> Ids:
    """The entities the required parameters name: the busiest of each kind."""
    with psycopg.connect(settings.postgres.dsn()) as conn:
        found = {name: row[0] for name, sql in _BUSIEST.items() if (row := conn.execute(sql).fetchone())}
    return Ids(customer_id=int(found["customer_id"]), order_id=int(found["order_id"]),
               product_id=int(found["product_id"]), sales_employee_id=int(found["sales_employee_id"]),
               dispatch_id=int(found["dispatch_id"]), ledger_account=str(found["ledger_account"]),
               bank_account=TWD_ACCOUNT)


def json_phase(settings: StackSettings, session: Session, specs: list[ReportSpec], today: date, ids: Ids,
               days: int) -> dict[str, Any]:
    rounds = [[case for spec in specs for case in cases_for(spec, today, ids, shift=n)[0]] for n in range(ROUNDS)]
    skipped = {f"{spec.id}:{span}": why for spec in specs for span, why in cases_for(spec, today, ids)[1].items()}
    warm_day = (today - timedelta(days=days + 5)).isoformat()  # a range no round asks for
    started = time.monotonic()
    cases = latency_rounds(settings, session, rounds, {"date_from": warm_day, "date_to": warm_day})
    return {"rounds": ROUNDS, "seconds": round(time.monotonic() - started, 1), "cases": cases,
            "skipped": skipped, "misses": [f"{c['report']}:{c['span']}" for c in misses(cases)]}


def export_phase(settings: StackSettings, session: Session, specs: list[ReportSpec], cases: list[dict[str, Any]],
                 today: date, ids: Ids, days: int) -> dict[str, Any]:
    """The report with the most rows, over its widest range, as CSV and Parquet (JSON answers are pages: the
    sizes of the cases whose first page was full are counted in ClickHouse)."""
    def size(case: dict[str, Any]) -> int:
        if case["rows"] is not None and case["rows"] < DEFAULT_LIMIT:
            return int(case["rows"])
        return expected_rows(settings, case["report"], case["params"], today)

    biggest = max((c for c in cases if c["status"] in (200, BROKE_OFF)), key=size)
    spec = next(s for s in specs if s.id == biggest["report"])
    params = widest(spec, today, ids, days) if biggest["span"] != "defaults" else dict(biggest["params"])
    expected = expected_rows(settings, spec.id, params, today)
    pid = restart_api(settings)
    runs = [export(settings, session, spec.id, params, fmt, pid)
            for fmt in ("csv", "parquet") for _ in range(EXPORT_RUNS)]
    for run_ in runs:
        run_["complete"] = run_.get("rows") == expected
    return {"report": spec.id, "params": params, "chosen_from": f"{biggest['report']}:{biggest['span']}",
            "expected_rows": expected, "runs": runs}


def expected_rows(settings: StackSettings, report_id: str, params: dict[str, str], today: date) -> int:
    """The export's size as the product's own runner counts it in ClickHouse (as the head office)."""
    policy = load_policy(settings.access.policy_file)
    principal = Principal("bench:head_office", "service", "head_office", None, frozenset(), None, None)
    report = catalog()[report_id]
    prepared = prepare(report, parse(report, params, today, principal, policy), RowScope(principal, policy), today)
    client = get_client(settings)
    try:
        return count_rows(client, prepared)
    finally:
        client.close()


def concurrency_phase(settings: StackSettings, session: Session, today: date) -> dict[str, Any]:
    """`CLIENTS` concurrent clients on one report: cached (one parameter set) and uncached (all distinct)."""
    restart_api(settings)
    cached = distinct_windows(today, 30, 1, start_shift=0)[0]
    uncached = distinct_windows(today, 30, UNCACHED_REQUESTS, start_shift=1)
    headers = session.headers(fresh=True)  # valid for the whole phase (15 minutes)
    with httpx.Client(verify=settings.api_verify(), timeout=60) as client:
        first_ms, status, _, _ = get_whole(client, session, report_url(settings, CONCURRENT_REPORT), cached)
    if status != 200:  # the one call that filled the cached entry before the clock starts
        raise StackError(f"{CONCURRENT_REPORT} answered {status}")
    out: dict[str, Any] = {"report": CONCURRENT_REPORT, "cached_params": cached, "first_call_ms": round(first_ms, 1)}
    log = api_process(settings).log_file
    for mode, param_sets in (("uncached", list(uncached)), ("cached", [cached] * CACHED_REQUESTS)):
        offset = log.stat().st_size
        out[mode] = asyncio.run(concurrent(settings, headers, CONCURRENT_REPORT, param_sets, CLIENTS))
        with log.open("rb") as f:  # why the API refused (503s): its log of the run
            f.seek(offset)
            out[mode]["pool_busy_logged"] = f.read().count(POOL_BUSY)
    return out


def measure(settings: StackSettings, users: list[DemoUser], days: int, results: dict[str, Any]) -> None:
    head_office = next(u for u in users if u.role == "head_office")
    session = Session(settings, head_office)
    ids = busiest(settings)
    today = business_day(SystemClock().now())
    specs = [ReportSpec.of(report) for report in catalog().values()]
    results.update(ids=asdict(ids), today=today.isoformat(), user=head_office.subject)
    results["json"] = json_phase(settings, session, specs, today, ids, days)
    results["exports"] = export_phase(settings, session, specs, results["json"]["cases"], today, ids, days)
    results["concurrency"] = concurrency_phase(settings, session, today)
    results["rss_mb"] = component_rss_mb(settings)


BRING_UP_KEYS = ("backfill", "snapshot", "rebuild", "bank", "merges_settled_seconds")


def run(days: int, keep: bool, header: dict[str, Any], reuse: Path | None = None) -> dict[str, Any]:
    """Bring the stack up and measure; with `reuse` (the results of a run with `--keep`), measure again on the
    stack that run left running, carrying its bring-up figures over (`reused_stack_of` says so)."""
    settings = reports_settings(days)
    results: dict[str, Any] = {**header}
    try:
        if reuse is None:
            users = bring_up(settings, days, results)
        else:
            before = json.loads(reuse.read_text())
            results.update({key: before[key] for key in BRING_UP_KEYS if key in before},
                           reused_stack_of=before.get("when"))
            users = stack.prepare_access(settings)
        measure(settings, users, days, results)
    except BaseException:
        write_json(results, PARTIAL)  # what was measured before the failure
        raise
    finally:
        if not keep:
            stack.clean(settings)
    return results
