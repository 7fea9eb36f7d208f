"""Several streaming workers (agents/shards.py): three, then two, under a mixed live workload, one of them
killed each time (a standby of its shard takes over; the supervisor restarts the dead one), and `make verify`
through the barrier of every shard finds zero differences during the workload and after it. Each time the
shard count changes, `make rebuild` recomputes ClickHouse; at the end the stack goes back to one worker."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from infra.catchup import rebuild
from infra.clickhouse.runner import get_client
from infra.process import ManagedProcess
from infra.services import worker_process
from infra.settings import StackSettings
from infra.stack import child_env
from infra.status import load_status
from tests.integration.streaming.helpers import simulator_running, wait_until_verified

pytestmark = pytest.mark.integration


def _sharded(stack: StackSettings, count: int) -> StackSettings:
    return stack.model_copy(update={"worker": stack.worker.model_copy(update={"shards": count})})


def _status(settings: StackSettings, shard: int) -> dict[str, Any]:
    status = load_status(settings.worker_dir(shard) / "status.json")
    assert status is not None, f"shard {shard} wrote no status"
    return status


def _serving(settings: StackSettings, shard: int) -> int | None:
    """The pid whose fresh status says it serves `shard` (the supervisor removes the file before a restart)."""
    status = load_status(settings.worker_dir(shard) / "status.json")
    return None if status is None or status.get("standby") else int(status["pid"])


def _barrier_verify(settings: StackSettings) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.verify", "--no-reports", "--wait", "90"],
                          env=child_env(settings), capture_output=True, text=True, timeout=300, check=False)


def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def _log_tails(settings: StackSettings) -> str:
    return "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                     for log in sorted((settings.state_dir / "logs").glob("worker-*.log")))


def _standby(settings: StackSettings, shard: int) -> ManagedProcess:
    """A second worker process for `shard` (it waits on the shard's lease)."""
    return dataclasses.replace(worker_process(settings, shard), name=f"worker-{shard}-standby")


def _cells_by_shard(settings: StackSettings) -> dict[int, int]:
    client = get_client(settings)
    try:
        rows = client.query("SELECT shard, count() FROM agg_sales FINAL WHERE _deleted = 0 GROUP BY shard").result_rows
    finally:
        client.close()
    return {int(shard): int(n) for shard, n in rows}


def _run_with(stack: StackSettings, count: int, seed: int) -> None:
    sharded = _sharded(stack, count)
    assert rebuild(sharded), f"the rebuild with {count} workers did not catch up"
    assert sorted(_cells_by_shard(sharded)) == list(range(count))  # every shard wrote its part
    standby = _standby(sharded, 1)
    standby.start()
    try:
        _until(lambda: any(sharded.worker_dir(1).glob("standby-*.json")), 60, "the standby of shard 1 waits")
        active = _status(sharded, 1)["pid"]
        with simulator_running(stack, rate=100, seconds=35, seed=seed) as simulator:
            time.sleep(6)
            worker_process(sharded, 1).kill()  # -9 mid-batch; the standby takes the lease over
            # The standby and the supervisor's restart of the killed one race for the lease: either serves.
            try:
                _until(lambda: _serving(sharded, 1) not in (None, active), 90, "another worker serves shard 1")
            except AssertionError as error:
                raise AssertionError(f"{error}\n{_log_tails(sharded)}") from None
            during = _barrier_verify(sharded)
            output, _ = simulator.communicate(timeout=180)
        assert simulator.returncode == 0, output.decode()[-2000:]
        assert during.returncode == 0, during.stdout[-3000:] + during.stderr[-3000:]
        assert "every aggregate" in during.stdout
        assert wait_until_verified(sharded, timeout=180) == []
        assert _status(sharded, 1)["pid"] != active and _status(sharded, 1)["shards"] == count
        assert _status(sharded, 1)["recovery"]["resumed"]  # from its store, not a reload
    finally:
        standby.stop()


def test_three_then_two_workers_with_one_killed_end_at_the_truth(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    try:
        _run_with(stack, 3, seed=31)
        _run_with(stack, 2, seed=37)
    finally:
        assert rebuild(stack), "back to one worker (the supervisor with it), as the other tests expect"
    assert wait_until_verified(stack, timeout=120) == []
