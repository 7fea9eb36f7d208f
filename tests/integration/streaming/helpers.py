"""Waiting for the stream to agree with the truth, and running the simulator, for the streaming tests."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from infra.clickhouse.runner import get_client
from infra.settings import StackSettings
from infra.stack import child_env, simulator_command
from infra.verify.compare import Difference, differences

WORKER_GROUP = "luckygas-analytics"  # the Faust app id (streams.app.create_app)


def wait_until_verified(settings: StackSettings, timeout: float = 90.0) -> list[Difference]:
    """Differences left after waiting up to `timeout` for the stream to catch up (empty = all equal)."""
    deadline = time.monotonic() + timeout
    while True:
        diffs, _ = differences(settings)
        if not diffs or time.monotonic() > deadline:
            return diffs
        time.sleep(2)


def start_simulator(settings: StackSettings, rate: float, seconds: float, seed: int) -> subprocess.Popen[bytes]:
    """The live simulator writing a mixed workload (inserts, updates, deletes, cancellations, late payments)."""
    cmd = simulator_command("live", "--rate", str(rate), "--duration", str(seconds), "--seed", str(seed))
    return subprocess.Popen(cmd, env=child_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@contextmanager
def simulator_running(settings: StackSettings, rate: float, seconds: float,
                      seed: int) -> Iterator[subprocess.Popen[bytes]]:
    """`start_simulator` for the body of a `with`; killed on the way out if still running (a failed test)."""
    simulator = start_simulator(settings, rate, seconds, seed)
    try:
        yield simulator
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait()


def group_committed_offsets(settings: StackSettings) -> dict[tuple[str, int], int]:
    """The worker's consumer group's committed offsets, as Kafka's own tools see them."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def read() -> dict[tuple[str, int], int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(WORKER_GROUP)
        finally:
            await admin.close()
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}

    return asyncio.run(read())


def stream_checkpoint(settings: StackSettings) -> dict[tuple[str, int], int]:
    """The worker's checkpoint: next offset per partition, kept in ClickHouse with the results."""
    client = get_client(settings)
    try:
        rows = client.query("SELECT topic, partition, next_offset FROM stream_offsets FINAL").result_rows
    finally:
        client.close()
    return {(r[0], int(r[1])): int(r[2]) for r in rows}
