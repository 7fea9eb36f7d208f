"""Commit-to-Kafka latency: for every change that reaches a table topic, the time from its commit in
PostgreSQL (`source.ts_ms`) to its arrival at a consumer on this machine.

The consumer starts at the topics' current end, so only changes made during the measurement count.
One clock serves both ends (same machine), so the difference is meaningful to the millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer

from streams.replay import start_consumer


@dataclass
class LatencySample:
    """What a probe saw: per change, (commit time, arrival time) in seconds since the epoch."""

    commits: list[float] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    def latencies_ms(self) -> list[float]:
        return [(a - c) * 1000 for c, a in zip(self.commits, self.arrivals, strict=True)]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    # The smallest value with at least q% of the values at or below it: rank ceil(q·n/100), 1-based. (Not
    # round(x + 0.5), which rounds half to even: p95 of 100 values would be the 96th.)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered) / 100 - 1e-9)))
    return ordered[rank - 1]


class LatencyProbe:
    """Consumes the table topics from their end and records each change's commit and arrival time."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self._consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None,
                                          auto_offset_reset="latest", enable_auto_commit=False,
                                          fetch_max_wait_ms=50)
        self.sample = LatencySample()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await start_consumer(self._consumer)
        # Resolve positions now so changes made after start() are all seen.
        await self._consumer.seek_to_end()
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=20_000)
            now = time.time()
            for messages in batch.values():
                for m in messages:
                    if m.value is None:
                        continue
                    source = orjson.loads(m.value).get("source") or {}
                    if source.get("snapshot") in (None, "false") and "ts_ms" in source:
                        self.sample.commits.append(source["ts_ms"] / 1000)
                        self.sample.arrivals.append(now)

    async def stop(self) -> LatencySample:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
        return self.sample
