"""A permanent write error stops the worker loudly (log, status, /health, exit) instead of stalling the stream
silently, and once the cause is fixed the supervisor's restart resumes from the checkpoint with nothing lost."""

from __future__ import annotations

import time

import pytest

from infra.clickhouse.runner import get_client
from infra.services import WorkerHealth, worker_health, worker_process
from infra.settings import StackSettings
from infra.status import load_status
from tests.integration.streaming.helpers import simulator_running, wait_until_verified

pytestmark = pytest.mark.integration


def _wait_state(stack: StackSettings, states: set[str], timeout: float) -> WorkerHealth:
    deadline = time.monotonic() + timeout
    while (health := worker_health(stack)).state not in states and time.monotonic() < deadline:
        time.sleep(0.2)
    return health


def test_a_permanent_write_error_stops_the_worker_and_a_restart_after_the_fix_loses_nothing(
        stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    client = get_client(stack)
    database = stack.clickhouse.database
    # An operator's mistake on our own table: the worker's inserts now name a column the table lacks.
    client.command(f"ALTER TABLE `{database}`.agg_sales RENAME COLUMN orders TO orders_by_mistake")
    try:
        with simulator_running(stack, rate=40, seconds=8, seed=11) as simulator:
            # Seen before the supervisor's restart (which starts a fresh status file).
            health = _wait_state(stack, {"failed"}, timeout=90)
            simulator.wait(timeout=60)
        assert health.state == "failed", health
        assert "permanent error" in health.detail and "agg_sales" in health.detail, health.detail
        assert health.status is not None and health.status["failed"]["error"]
        log = worker_process(stack).log_file.read_text(errors="replace")
        assert "the streaming worker stops on a permanent error" in log and "Traceback" in log
    finally:
        client.command(f"ALTER TABLE `{database}`.agg_sales RENAME COLUMN orders_by_mistake TO orders")
    # The supervisor restarts the worker (with backoff); it resumes from its checkpoint: nothing lost.
    assert _wait_state(stack, {"up", "catching_up"}, timeout=180).up
    assert wait_until_verified(stack, timeout=180) == []
    supervisor = load_status(stack.supervisor_status_file)
    assert supervisor is not None
    restarted = supervisor["processes"]["worker"]
    assert restarted["restarts"] >= 1 and not restarted["gave_up"], restarted
