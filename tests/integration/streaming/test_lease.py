"""One active worker at a time: a second worker waits as a standby, takes over when the active one is killed
during a live workload (the results stay exact), and a late write of the dead worker's epoch loses."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from agents.lease import version_floor
from infra.clickhouse.runner import get_client
from infra.process import ManagedProcess
from infra.services import start_worker, worker_process
from infra.settings import StackSettings, settings_env
from infra.status import load_status
from infra.supervisor import start_supervisor, stop_supervisor
from tests.integration.streaming.helpers import simulator_running, wait_until_verified

pytestmark = pytest.mark.integration


def _second_worker(stack: StackSettings) -> ManagedProcess:
    env = {**settings_env(stack), "PROMETHEUS_MULTIPROC_DIR": str(stack.metrics_dir)}
    return ManagedProcess("worker-second", [sys.executable, "-m", "agents.worker"], stack.state_dir, env=env,
                          stop_timeout=30)


def _until(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return value


def test_a_standby_takes_over_from_a_killed_worker_and_a_zombie_write_loses(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    first = load_status(stack.worker_status_file)
    assert first is not None and first["epoch"] is not None
    stop_supervisor(stack)  # this test plays the operator: nothing restarts the killed worker behind its back
    second = _second_worker(stack)
    try:
        pid = second.start()
        standby_file = stack.worker_status_file.with_name(f"standby-{pid}.json")
        assert _until(standby_file.exists, 90), "the second worker never reported standing by"
        time.sleep(3)
        active = load_status(stack.worker_status_file)
        assert active is not None and active["pid"] == first["pid"]  # still the first one, alone
        with simulator_running(stack, rate=80, seconds=25, seed=41) as simulator:
            time.sleep(8)
            worker_process(stack).kill()  # mid-workload
            took_over = _until(lambda: (s := load_status(stack.worker_status_file)) is not None
                               and s["pid"] == pid and s.get("epoch") is not None and s, 120)
            assert took_over, "the standby did not take over"
            assert took_over["epoch"] > first["epoch"]
            simulator.wait(timeout=120)
        assert wait_until_verified(stack, timeout=180) == []
        _zombie_write_loses(stack, first["epoch"])
        assert wait_until_verified(stack, timeout=60) == []
    finally:
        second.stop()
        start_worker(stack)
        start_supervisor(stack)
    assert wait_until_verified(stack, timeout=180) == []


def _zombie_write_loses(stack: StackSettings, old_epoch: int) -> None:
    """The killed worker's epoch writes a wrong cell late (as a paused zombie would): ClickHouse keeps the new."""
    client = get_client(stack)
    try:
        result = client.query("SELECT *, toUnixTimestamp(bucket) AS ts FROM agg_sales FINAL WHERE _deleted = 0 "
                              "AND grain = 'day' AND dimension = 'total' ORDER BY bucket DESC LIMIT 1")
        row = dict(zip(result.column_names, result.result_rows[0], strict=True))
        ts = row.pop("ts")
        assert row["_version"] >= version_floor(old_epoch + 1)  # rewritten by the new epoch
        zombie = {**row, "net_cents": row["net_cents"] + 999_999, "_version": version_floor(old_epoch) + 10**9}
        client.insert("agg_sales", [list(zombie.values())], column_names=list(zombie))
        after = client.query("SELECT net_cents, _version FROM agg_sales FINAL WHERE grain = 'day' AND "
                             "dimension = 'total' AND member = {m:String} AND toUnixTimestamp(bucket) = {ts:Int64} "
                             "AND _deleted = 0", parameters={"m": row["member"], "ts": ts}).result_rows
    finally:
        client.close()
    assert [tuple(r) for r in after] == [(row["net_cents"], row["_version"])]
