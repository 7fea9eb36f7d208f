"""Change-capture benchmarks on the real stack: snapshot, latency under load, sustained rate, memory.

Load comes from the simulator in its own process (`python -m infra.simulator live`), so the probe that
measures arrival times does not share an interpreter with the load generator. Every figure is measured
on this machine with the whole stack (PostgreSQL, Kafka, Connect, ClickHouse) running.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from infra.bench.latency import LatencyProbe, percentile
from infra.bench.memory import component_rss_mb
from infra.kafka.connect import start_connect, stop_connect
from infra.postgres.tables import CAPTURED_TABLES, topic_for
from infra.settings import StackSettings
from infra.stack import child_env
from streams.replay import topic_partitions


@dataclass
class LoadRun:
    target_rate: float
    achieved_rate: float
    row_changes: int
    arrived: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_mb: dict[str, float]

    @property
    def kept_up(self) -> bool:
        """Debezium kept up: everything arrived and p99 stayed under two seconds."""
        return self.arrived >= self.row_changes and self.p99_ms < 2000


def table_topics(settings: StackSettings) -> list[str]:
    return [topic_for(t, settings.kafka.topic_prefix) for t in CAPTURED_TABLES]


def simulate(settings: StackSettings, rate: float, seconds: float, seed: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "infra.simulator", "live", "--rate", str(rate), "--duration", str(seconds),
           "--seed", str(seed)]
    return subprocess.Popen(cmd, env=child_env(settings), stdout=subprocess.PIPE, text=True)


def simulation_result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=600)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


async def load_run(settings: StackSettings, rate: float, seconds: float, seed: int) -> LoadRun:
    """Drive `rate` changes/s for `seconds`; measure commit-to-consumer latency of every change."""
    probe = LatencyProbe(settings.kafka.bootstrap_servers, table_topics(settings))
    await probe.start()
    proc = simulate(settings, rate, seconds, seed)
    await asyncio.sleep(seconds / 2)
    rss = component_rss_mb(settings)
    result = await asyncio.to_thread(simulation_result, proc)
    deadline = time.monotonic() + 60
    while len(probe.sample.commits) < result["row_changes"] and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    sample = await probe.stop()
    latencies = sample.latencies_ms()
    return LoadRun(rate, result["rate"], result["row_changes"], len(latencies), round(percentile(latencies, 50), 1),
                   round(percentile(latencies, 99), 1), round(max(latencies, default=float("nan")), 1), rss)


async def catch_up(settings: StackSettings, seconds: float) -> dict[str, float]:
    """Debezium's drain rate: changes written while Connect is stopped, streamed after it starts."""
    stop_connect(settings)
    proc = simulate(settings, 100_000, seconds, seed=99)
    written = (await asyncio.to_thread(simulation_result, proc))["row_changes"]
    probe = LatencyProbe(settings.kafka.bootstrap_servers, table_topics(settings))
    await probe.start()
    started = time.monotonic()
    await asyncio.to_thread(start_connect, settings)
    while len(probe.sample.commits) < written and time.monotonic() - started < 600:
        await asyncio.sleep(0.2)
    sample = await probe.stop()
    arrivals = sorted(sample.arrivals)
    streaming = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else float("nan")
    return {"changes_written": written, "changes_arrived": len(arrivals),
            "seconds_from_connect_start": round(time.monotonic() - started, 1),
            "streaming_seconds": round(streaming, 1),
            "events_per_second": round(len(arrivals) / streaming) if streaming else 0.0}


async def snapshot_rate(settings: StackSettings, rows: int, started: float) -> dict[str, float]:
    """Wait until the initial snapshot's `rows` are in Kafka; rows per second since Connect started."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, group_id=None)
    await consumer.start()
    await asyncio.sleep(0)
    try:
        while time.monotonic() - started < 1800:
            partitions = await topic_partitions(settings.kafka.bootstrap_servers, table_topics(settings))
            total = sum((await consumer.end_offsets(partitions)).values()) if partitions else 0
            if total >= rows:
                break
            await asyncio.sleep(1)
    finally:
        await consumer.stop()
    seconds = time.monotonic() - started
    return {"rows": rows, "seconds": round(seconds, 1), "rows_per_second": round(rows / seconds)}


def database_rows(settings: StackSettings) -> int:
    with psycopg.connect(settings.postgres.dsn()) as conn:
        return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in CAPTURED_TABLES)  # type: ignore[index]
