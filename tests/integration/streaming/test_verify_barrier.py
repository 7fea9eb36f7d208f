"""`make verify` while the business goes on: the worker holds at the verify's snapshot, the comparison finds
nothing that is not there and still finds a difference planted in ClickHouse, and the stream carries on."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, date, datetime

import orjson
import pytest

from infra.clickhouse.runner import get_client
from infra.settings import StackSettings
from infra.stack import child_env
from tests.integration.streaming.helpers import simulator_running, wait_until_verified

pytestmark = pytest.mark.integration

PLANTED_DAY = date(1999, 1, 4)


def verify(stack: StackSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.verify", "--wait", "90", *args], env=child_env(stack),
                          capture_output=True, text=True, timeout=600, check=False)


def plant(stack: StackSettings, deleted: int) -> None:
    """A collections cell no payment made (or, with `deleted`, its removal at a higher version)."""
    client = get_client(stack)
    try:
        client.insert("agg_collections", [[PLANTED_DAY, 12_345, 1, 2**64 - 2 + deleted, deleted, datetime.now(UTC)]],
                      column_names=["day", "amount_cents", "payments", "_version", "_deleted", "_updated_at"])
    finally:
        client.close()


def test_verify_during_a_live_workload_compares_one_consistent_point(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    with simulator_running(stack, rate=60, seconds=70, seed=23) as simulator:
        time.sleep(5)
        whole = verify(stack)  # aggregates, row counts and every report
        quick = verify(stack, "--no-reports")
        plant(stack, deleted=0)
        try:
            planted = verify(stack, "--no-reports")
        finally:
            plant(stack, deleted=1)
        released = _released_within(stack, 15)
        output, _ = simulator.communicate(timeout=180)
    assert simulator.returncode == 0, output.decode()[-2000:]
    live = orjson.loads(output.decode().strip().splitlines()[-1])
    assert live["row_changes"] > 1000
    assert whole.returncode == 0, whole.stdout[-3000:] + whole.stderr[-3000:]
    assert "holds at this snapshot" in whole.stdout
    assert quick.returncode == 0, quick.stdout[-3000:] + quick.stderr[-3000:]
    assert planted.returncode == 1, planted.stdout[-3000:] + planted.stderr[-3000:]
    assert any(line.startswith("collections") and line.endswith("truth=None stream=[12345, 1]")
               for line in planted.stdout.splitlines()), planted.stdout[-3000:]
    assert released  # the worker lets go of what it held once the verify is done
    assert wait_until_verified(stack, timeout=120) == []


def _released_within(stack: StackSettings, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if orjson.loads(stack.worker_status_file.read_bytes()).get("barrier") is None:
            return True
        time.sleep(0.2)
    return False


def test_verify_without_a_worker_says_so(stack: StackSettings) -> None:
    from infra.services import worker_process
    from infra.supervisor import start_supervisor, stop_supervisor

    stop_supervisor(stack)
    worker_process(stack).stop()
    try:
        done = subprocess.run([sys.executable, "-m", "infra.verify", "--wait", "5", "--no-reports"],
                              env=child_env(stack), capture_output=True, text=True, timeout=120, check=False)
    finally:
        from infra.services import start_worker

        start_worker(stack)
        start_supervisor(stack)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "did not pause at barrier" in done.stderr and "shards done: none of 1" in done.stderr
