"""Every aggregate equals the truth recomputed from PostgreSQL: after the snapshot, after a mixed live
workload during which the worker is killed (-9) twice and ClickHouse is restarted, across Kafka and
Kafka Connect restarts, and after the worker's ClickHouse tables are emptied while the consumer group says "all read"."""

from __future__ import annotations

import shutil
import time

import orjson
import pytest

from infra.clickhouse.runner import get_client, start_clickhouse, stop_clickhouse
from infra.kafka.broker import start_kafka, stop_kafka
from infra.kafka.connect import register_connector, start_connect, stop_connect
from infra.postgres.tables import CAPTURED_TABLES
from infra.services import start_worker, worker_health, worker_healthy, worker_process
from infra.settings import StackSettings
from infra.supervisor import start_supervisor, stop_supervisor
from sinks.ddl import table_defs
from tests.integration.streaming.helpers import (
    group_committed_offsets,
    simulator_running,
    stream_checkpoint,
    wait_until_verified,
)

pytestmark = pytest.mark.integration


def test_the_snapshot_streams_to_exactly_the_truth(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []


def test_kill_9_twice_and_a_clickhouse_restart_lose_nothing_and_count_nothing_twice(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    recoveries = []
    with simulator_running(stack, rate=150, seconds=45, seed=7) as simulator:
        for pause, lose_disk in ((6, False), (9, True)):
            time.sleep(pause)
            worker_process(stack).kill()  # no clean shutdown: mid-batch, mid-write, whatever it was doing
            if lose_disk:  # the second time the worker's own state is gone too: it reloads from ClickHouse
                stop_supervisor(stack)
                shutil.rmtree(stack.worker_state_dir)
            start_worker(stack)
            if lose_disk:
                start_supervisor(stack)
            recoveries.append(orjson.loads(stack.worker_status_file.read_bytes())["recovery"])
        time.sleep(4)
        stop_clickhouse(stack)  # the worker retries its writes until ClickHouse is back
        time.sleep(3)
        start_clickhouse(stack)
        output, _ = simulator.communicate(timeout=120)
    assert simulator.returncode == 0, output.decode()[-2000:]
    live = orjson.loads(output.decode().strip().splitlines()[-1])
    assert live["row_changes"] > 4000
    assert {"delete", "update", "insert"} <= set(live["operations"]["w200.order_detail"])
    assert live["actions"]["cancel"] > 0 and live["actions"]["late_payment"] > 0
    resumed, reloaded = recoveries
    assert resumed["resumed"] and resumed["rows_loaded"] == 0 and resumed["seconds"] < 5, resumed
    assert not reloaded["resumed"] and reloaded["rows_loaded"] > 0, reloaded
    assert wait_until_verified(stack, timeout=120) == []


def test_kafka_and_connect_restarts_lose_nothing(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    with simulator_running(stack, rate=100, seconds=35, seed=5) as simulator:
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
    assert simulator.returncode == 0, output.decode()[-2000:]
    assert worker_healthy(stack)
    assert wait_until_verified(stack, timeout=180) == []


def test_the_consumer_group_shows_the_checkpoint_and_an_emptied_clickhouse_is_rebuilt_whole(
        stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    # Heartbeat offsets move every second; the table topics are quiet now.
    checkpoint = {tp: o for tp, o in stream_checkpoint(stack).items() if not tp[0].startswith("__")}
    deadline = time.monotonic() + 15
    while not _group_shows(stack, checkpoint) and time.monotonic() < deadline:
        time.sleep(0.5)  # the worker mirrors its checkpoint into the group once a second
    assert _group_shows(stack, checkpoint)
    assert len(checkpoint) >= len(CAPTURED_TABLES) and all(offset > 0 for offset in checkpoint.values())

    # The group now says "everything read"; ClickHouse, the only place results live, is emptied. The worker
    # must resume from ITS checkpoint (none: offset 0 everywhere), not from the group's offsets — aiokafka
    # alone would not seek a partition to a committed offset of 0.
    stop_supervisor(stack)  # an operator's maintenance: nothing may restart the worker meanwhile
    worker_process(stack).kill()
    # Every table the worker writes, as `make rebuild` drops them; the bank landing's tables are not the
    # worker's to recompute (and the report views over both must keep working).
    client = get_client(stack)
    try:
        for name in table_defs():
            client.command(f"DROP TABLE IF EXISTS `{stack.clickhouse.database}`.`{name}` SYNC")
    finally:
        client.close()
    start_worker(stack)
    start_supervisor(stack)
    seen = _states_until_up(stack, timeout=120)
    assert "catching_up" in seen and seen[-1] == "up", seen  # health says so while the rebuild runs
    assert wait_until_verified(stack, timeout=180) == []
    rebuilt = stream_checkpoint(stack)
    assert {tp: rebuilt.get(tp) for tp in checkpoint} == checkpoint


def _states_until_up(stack: StackSettings, timeout: float) -> list[str]:
    """The worker's health states, each change of state once, until it is up (or the timeout)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = worker_health(stack).state
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == "up":
            break
        time.sleep(0.2)
    return seen


def _group_shows(stack: StackSettings, checkpoint: dict[tuple[str, int], int]) -> bool:
    group = group_committed_offsets(stack)
    return all(group.get(tp) == offset for tp, offset in checkpoint.items())
