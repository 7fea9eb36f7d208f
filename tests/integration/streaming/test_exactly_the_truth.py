"""Every aggregate equals the truth recomputed from PostgreSQL: after the snapshot, after a mixed live
workload during which the worker is killed (-9) twice and ClickHouse is restarted, and across Kafka and
Kafka Connect restarts."""

from __future__ import annotations

import time

import orjson
import pytest

from infra.clickhouse.runner import start_clickhouse, stop_clickhouse
from infra.kafka.broker import start_kafka, stop_kafka
from infra.kafka.connect import register_connector, start_connect, stop_connect
from infra.postgres.tables import CAPTURED_TABLES
from infra.services import start_worker, worker_healthy, worker_process
from infra.settings import StackSettings
from tests.integration.streaming.helpers import start_simulator, wait_until_verified

pytestmark = pytest.mark.integration


def test_the_snapshot_streams_to_exactly_the_truth(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []


def test_kill_9_twice_and_a_clickhouse_restart_lose_nothing_and_count_nothing_twice(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    simulator = start_simulator(stack, rate=150, seconds=45, seed=7)
    try:
        for pause in (6, 9):
            time.sleep(pause)
            worker_process(stack).kill()  # no clean shutdown: mid-batch, mid-write, whatever it was doing
            start_worker(stack)
        recovered = orjson.loads(stack.worker_status_file.read_bytes())["recovery"]
        time.sleep(4)
        stop_clickhouse(stack)  # the worker retries its writes until ClickHouse is back
        time.sleep(3)
        start_clickhouse(stack)
        output, _ = simulator.communicate(timeout=120)
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait()
    assert simulator.returncode == 0, output.decode()[-2000:]
    live = orjson.loads(output.decode().strip().splitlines()[-1])
    assert live["row_changes"] > 4000
    assert {"delete", "update", "insert"} <= set(live["operations"]["w200.order_detail"])
    assert live["actions"]["cancel"] > 0 and live["actions"]["late_payment"] > 0
    assert recovered["rows_loaded"] > 0
    assert wait_until_verified(stack, timeout=120) == []


def test_kafka_and_connect_restarts_lose_nothing(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    simulator = start_simulator(stack, rate=100, seconds=35, seed=5)
    try:
        time.sleep(6)
        stop_kafka(stack)  # the worker's consumer and Debezium both lose the broker
        time.sleep(4)
        start_kafka(stack)
        time.sleep(6)
        stop_connect(stack)  # changes keep committing in PostgreSQL meanwhile
        time.sleep(3)
        start_connect(stack)
        register_connector(stack, list(CAPTURED_TABLES))
        output, _ = simulator.communicate(timeout=120)
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait()
    assert simulator.returncode == 0, output.decode()[-2000:]
    assert worker_healthy(stack)
    assert wait_until_verified(stack, timeout=180) == []
