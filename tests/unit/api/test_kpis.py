"""GET /kpis/today with a fake ClickHouse: the figures, and the caller's branch scope in every query's SQL and
parameters (taken from the principal, never from the request), today's totals only for a dispatcher."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.access.principal import EmployeeRecord
from infra.status import write_status
from tests.unit.access.access_testing import AccessHarness, FakeClickHouse

BRANCH_PARAMETER = "{branches:Array(String)}"


def answer(sql: str) -> list[tuple[Any, ...]]:
    if "FROM agg_sales" in sql:
        return [(123_456, 6_173, 7, 12, 9)]
    if "FROM agg_fulfilment" in sql:
        return [(10, 8, 6, 1)]
    if "FROM agg_receivables" in sql:
        return [(500_000, 120_000, 4)]
    return [(98_765,)]  # collections


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[tuple[AccessHarness, TestClient]]:
    h = AccessHarness(tmp_path, clickhouse=FakeClickHouse(answer=answer))
    with h.client() as client:
        yield h, client


def queries(h: AccessHarness) -> dict[str, tuple[str, dict[str, Any]]]:
    assert h.clickhouse is not None
    by_table = {}
    for sql, params in h.clickhouse.queries:
        # the first table read (receivables: inside a grouped subquery; a branch filter's subquery comes after)
        table = next(t for part in sql.split(" FROM ")[1:] if not (t := part.split()[0]).startswith("("))
        by_table[table] = (sql, params)
    return by_table


def test_head_office_sees_the_whole_company(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    body = client.get("/kpis/today", headers=h.bearer("emp:1")).json()
    assert body["branches"] is None and body["business_day"] == "2026-01-15"
    assert body["revenue"] == {"net": "1234.56", "tax": "61.73", "gross": "1296.29"}
    assert (body["orders"], body["quantity"], body["cylinders"]) == (7, 12, 9)
    assert body["deliveries"] == {"due": 10, "delivered": 8, "on_time": 6, "cancelled": 1, "on_time_rate": 0.75}
    assert body["receivables"] == {"outstanding": "5000.00", "over_30_days": "1200.00", "customers_with_balance": 4}
    assert body["collections"] == "987.65"
    q = queries(h)
    assert set(q) == {"agg_sales", "agg_fulfilment", "agg_receivables", "agg_collections"}
    for sql, params in q.values():
        assert BRANCH_PARAMETER not in sql and "branches" not in params
    assert "dimension = 'branch'" in q["agg_sales"][0]  # the sum over every branch's cell is the total
    assert q["agg_fulfilment"][1] == {"day": date(2026, 1, 15)}


def test_a_branch_manager_sees_only_their_branch(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    body = client.get("/kpis/today", headers=h.bearer("emp:2")).json()
    assert body["branches"] == ["TXG"] and body["receivables"] is not None
    q = queries(h)
    assert set(q) == {"agg_sales", "agg_fulfilment", "agg_receivables", "v_w500_payment_record"}
    for sql, params in q.values():
        assert params["branches"] == ["TXG"] and BRANCH_PARAMETER in sql, sql
    assert "`member` IN {branches:Array(String)}" in q["agg_sales"][0]
    assert "`branch` IN {branches:Array(String)}" in q["agg_fulfilment"][0]
    assert ("`customer_id` IN (SELECT `customer_id` FROM `v_w100_customer_master` WHERE `branch_code` IN "
            "{branches:Array(String)})") in q["agg_receivables"][0]
    assert "status != 'reversed'" in q["v_w500_payment_record"][0]


def test_a_query_parameter_cannot_widen_the_scope(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    client.get("/kpis/today?branches=TPE&branch=TPE", headers=h.bearer("emp:2"))
    assert all(params["branches"] == ["TXG"] for _, params in queries(h).values())


def test_a_dispatcher_gets_todays_totals_only(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    body = client.get("/kpis/today", headers=h.bearer("emp:3")).json()
    assert body["branches"] == ["TXG"]
    assert body["receivables"] is None
    assert body["revenue"]["net"] == "1234.56" and body["collections"] == "987.65"
    assert "agg_receivables" not in queries(h)


def test_a_transferred_manager_sees_the_new_branch_at_once(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    h.directory.rows[2] = EmployeeRecord(2, "KHH", "manager", "active")
    assert client.get("/kpis/today", headers=h.bearer("emp:2")).json()["branches"] == ["KHH"]


def test_services_need_the_kpis_scope(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    ok = client.get("/kpis/today", headers=h.bearer("client:dashboards", role="integration", scope="read:kpis"))
    assert ok.status_code == 200 and ok.json()["branches"] is None
    narrowed = client.get("/kpis/today", headers=h.bearer("client:partner", role="integration", scope="read:kpis",
                                                          branches=["KHH"]))
    assert narrowed.json()["branches"] == ["KHH"]
    refused = client.get("/kpis/today", headers=h.bearer("client:dashboards", role="integration",
                                                         scope="read:sales"))
    assert refused.status_code == 403


def test_roles_without_kpis_are_refused(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    assert client.get("/kpis/today", headers=h.bearer("emp:5")).status_code == 403  # a driver
    assert h.clickhouse is not None and h.clickhouse.queries == []


def _worker_status(h: AccessHarness, **fields: Any) -> None:
    now = datetime.now(UTC)
    write_status(h.settings.worker_status_file, {
        "pid": os.getpid(), "started_at": now, "batches": 1, "events_applied": 5, "dead_lettered": 0,
        "written_at": now, "failing_since": None, "last_failure": "", "failed": None, "backlog": 0, "rate": 0.0,
        "eta_seconds": 0.0, "catching_up": False, "backlog_by_table": {}, **fields})


def test_the_figures_say_when_they_are_not_complete(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    body = client.get("/kpis/today", headers=h.bearer("emp:1")).json()
    assert body["complete"] is False and "worker is down" in body["note"]  # no worker status at all
    _worker_status(h, backlog=42_000, rate=3_000.0, eta_seconds=14.0, catching_up=True,
                   backlog_by_table={"w500.invoice_header": 42_000})
    body = client.get("/kpis/today", headers=h.bearer("emp:1")).json()
    assert body["complete"] is False
    assert body["note"] == "catching up: 42,000 changes still to apply, about 14 s; the figures are partial until then"
    _worker_status(h)
    body = client.get("/kpis/today", headers=h.bearer("emp:1")).json()
    assert body["complete"] is True and body["note"] is None


def test_freshness_says_catching_up_with_the_backlog_instead_of_fresh(tmp_path: Path) -> None:
    at = datetime(2026, 1, 15, 1, 0, tzinfo=UTC)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [(t, 1_000, at, at, 150, at, 10) for t in ("w200.order_master", "w500.invoice_header")]

    h = AccessHarness(tmp_path, clickhouse=FakeClickHouse(answer=rows))
    with h.client() as client:
        _worker_status(h)
        body = client.get("/freshness", headers=h.bearer("emp:1")).json()
        assert body["within_sla"] is True and body["worker"] == "up" and body["catching_up"] is None
        _worker_status(h, backlog=9_000, rate=1_500.0, eta_seconds=6.0, catching_up=True,
                       backlog_by_table={"w500.invoice_header": 9_000})
        body = client.get("/freshness", headers=h.bearer("emp:1")).json()
    assert body["within_sla"] is False and body["worker"] == "catching_up"
    assert body["catching_up"] == {"backlog": 9_000, "records_per_second": 1_500.0, "eta_seconds": 6.0}
    status = {t["source_table"]: (t["status"], t["backlog"]) for t in body["tables"]}
    assert status == {"w200.order_master": ("fresh", 0), "w500.invoice_header": ("catching_up", 9_000)}


def test_metrics_expose_the_worker_state_for_alert_rules(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    _worker_status(h, backlog=12_345, rate=1_000.0, eta_seconds=12.0, catching_up=True)
    text = client.get("/metrics", headers=h.bearer("emp:1")).text
    assert 'lg_worker_state{state="catching_up"} 1.0' in text and 'lg_worker_state{state="up"} 0.0' in text
    assert "lg_worker_backlog_records 12345.0" in text
