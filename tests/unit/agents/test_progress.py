"""The worker's backlog, catch-up rate and ETA, and its health judged by progress rather than a heartbeat."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.progress import Progress, Recovering
from infra.services import judge_worker

TOPICS = {"lg.w200.order_master": "w200.order_master", "lg.w500.invoice_header": "w500.invoice_header"}
ORDERS, INVOICES, BEAT = ("lg.w200.order_master", 0), ("lg.w500.invoice_header", 0), ("__debezium-heartbeat.lg", 0)


def test_backlog_rate_and_eta_while_catching_up_then_caught_up() -> None:
    progress = Progress(TOPICS, catching_up_records=100)
    progress.observe(1.0, {}, {ORDERS: None})
    assert progress.catching_up and not progress.snapshot()["positions_known"]
    progress.observe(1.0, {ORDERS: 0, INVOICES: 0}, {ORDERS: 5_000, INVOICES: 1_000, BEAT: 10})
    progress.observe(11.0, {ORDERS: 2_000, INVOICES: 1_000}, {ORDERS: 5_000, INVOICES: 1_000, BEAT: 20})
    snap = progress.snapshot()
    assert snap["backlog"] == 3_000 and snap["backlog_by_table"] == {"w200.order_master": 3_000}
    assert snap["rate"] == 300.0 and snap["eta_seconds"] == 10.0 and snap["catching_up"]
    progress.observe(21.0, {ORDERS: 5_000, INVOICES: 1_000}, {ORDERS: 5_000, INVOICES: 1_000, BEAT: 30})
    assert progress.snapshot()["backlog"] == 0 and not progress.catching_up  # the heartbeat is no backlog
    # Once at the end, a small backlog is normal streaming, a large one is catching up again.
    progress.observe(22.0, {ORDERS: 5_000, INVOICES: 1_000}, {ORDERS: 5_050, INVOICES: 1_000})
    assert progress.backlog == 50 and not progress.catching_up
    progress.observe(23.0, {ORDERS: 5_000, INVOICES: 1_000}, {ORDERS: 5_500, INVOICES: 1_000})
    assert progress.catching_up


def test_nothing_moving_has_no_eta() -> None:
    progress = Progress(TOPICS)
    progress.observe(0.0, {ORDERS: 10}, {ORDERS: 9_000})
    progress.observe(5.0, {ORDERS: 10}, {ORDERS: 9_000})
    assert progress.rate == 0.0 and progress.eta_seconds is None


NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def status(**fields: Any) -> dict[str, Any]:
    base = {"pid": 1, "started_at": (NOW - timedelta(hours=1)).isoformat(), "last_tick_at": NOW.isoformat(),
            "batches": 5, "events_applied": 100, "dead_lettered": 0, "backlog": 0, "rate": 0.0, "eta_seconds": 0.0,
            "catching_up": False, "written_at": (NOW - timedelta(seconds=2)).isoformat(), "failing_since": None,
            "last_failure": "", "failed": None}
    return {**base, **fields}


def judge(s: dict[str, Any] | None, live: bool = True) -> tuple[str, str]:
    health = judge_worker(s, live, NOW, stale_seconds=15, stall_seconds=60)
    return health.state, health.detail


def test_up_catching_up_stalled_failed_down() -> None:
    assert judge(status())[0] == "up"
    state, detail = judge(status(backlog=40_000, rate=2_000.0, eta_seconds=20.0, catching_up=True))
    assert state == "catching_up" and "40,000 records behind at 2,000/s, ETA 20s" in detail
    # Ticking every second but writing nothing while the backlog grows is not healthy.
    state, detail = judge(status(backlog=900, written_at=(NOW - timedelta(seconds=90)).isoformat()))
    assert state == "stalled" and "900 records behind and nothing written for 90s" in detail
    # A quiet stream (no backlog) that wrote nothing for long is fine.
    assert judge(status(written_at=(NOW - timedelta(hours=2)).isoformat()))[0] == "up"
    state, detail = judge(status(backlog=10, failing_since=(NOW - timedelta(seconds=75)).isoformat(),
                                 last_failure="writing 3 rows to agg_sales failed: OperationalError: refused"))
    assert state == "stalled" and "writes failing for 75s" in detail and "refused" in detail
    failed = status(failed={"error": "TypeError: Decimal expected", "at": NOW.isoformat()})
    assert judge(failed, live=False)[0] == "failed" and "TypeError: Decimal expected" in judge(failed, False)[1]
    assert judge(status(), live=False) == ("down", "process 1 is gone")
    assert judge(status(last_tick_at=(NOW - timedelta(seconds=30)).isoformat()))[0] == "down"
    assert judge(None)[0] == "down"
    never_wrote = status(written_at=None, backlog=5, started_at=(NOW - timedelta(seconds=61)).isoformat())
    assert judge(never_wrote)[0] == "stalled"


def test_a_long_recovery_keeps_the_status_fresh_and_says_so() -> None:
    """A full recovery at a year of history takes minutes before any batch: the worker is catching up, not
    down, and the status is rewritten all along (then the block ends and the batches' status takes over)."""
    written: list[dict[str, Any]] = []
    three = threading.Event()

    def write(progress: dict[str, Any]) -> None:
        written.append(progress)
        if len(written) >= 3:
            three.set()

    with Recovering(write, every=0.01):
        assert three.wait(5)
    count = len(written)
    assert written[0] == {"recovering": True, "catching_up": True, "backlog": 0}
    assert not any(t.name == "recovering-status" for t in threading.enumerate())
    assert len(written) == count  # nothing written after the block
    state, detail = judge(status(batches=0, events_applied=0, written_at=None, **written[0],
                                 started_at=(NOW - timedelta(minutes=7)).isoformat()))
    assert state == "catching_up" and "recovering its state from ClickHouse for 420s" in detail
    assert judge_worker(status(recovering=True), True, NOW, stale_seconds=15, stall_seconds=60).up
