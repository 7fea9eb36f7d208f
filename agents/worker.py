"""The streaming worker: one Faust agent over every table topic and the heartbeat topic.

    python -m agents.worker        # settings from LG_* (the stack starts it; `make run` / `make up`)

Contract:
- Before Faust starts, `recover` restores state, aggregates, checkpoint and freshness from ClickHouse.
- When Kafka assigns the partitions, the consumer group's committed offsets are overwritten with OUR
  checkpoint (kept in ClickHouse with the results) before Faust seeks to "committed". Faust's own
  commits (bugs #606/#316) therefore never decide where processing resumes.
- The agent takes records in batches (`stream.take_events`), hands the raw bytes to the `Pipeline`
  (decode once, apply per batch, write, then checkpoint), and a 1 s timer closes windows on wall-clock time
  and writes `worker/status.json` for the API's health check.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from faust.types import TP, StreamT
from mode.types.signals import BaseSignalT

from agents.engine import Engine
from agents.pipeline import DeadLetter, Pipeline
from agents.recovery import recover
from infra.clickhouse.runner import get_client
from infra.clock import Clock, SystemClock
from infra.settings import StackSettings, get_settings
from schemas.decode import ChangeDecoder
from sinks.clickhouse import ClickHouseSink
from streams.app import create_app
from streams.replay import RawRecord
from streams.topics import dead_letter_topic_name, ensure_topics, heartbeat_topic_name

log = logging.getLogger("luckygas.worker")

FREEZE_EVERY_SECONDS = 30.0


class Worker:
    """Wires a Pipeline to a Faust app; holds the lock that serialises batches and ticks."""

    def __init__(self, settings: StackSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.started_at = datetime.now(UTC)
        prefix = settings.kafka.topic_prefix
        self.sink = ClickHouseSink(get_client(settings), settings.clickhouse.database,
                                   client_factory=lambda: get_client(settings), parallel=settings.worker.insert_threads)
        self.decoder = ChangeDecoder(prefix)
        self.app = create_app(settings)
        self.dead_letter_topic = self.app.topic(dead_letter_topic_name(prefix), key_type=bytes, value_type=bytes,
                                                key_serializer="raw", value_serializer="raw")
        self.pipeline = Pipeline(Engine(clock or SystemClock()), self.sink, self.decoder, heartbeat_topic_name(prefix),
                                 self._send_dead_letter, overlap_writes=settings.worker.overlap_writes)
        self.pipeline.highwaters = self._highwater
        self.lock = asyncio.Lock()
        self.batches = 0
        self.recovery: dict[str, Any] = {}
        self._watched = {(t, p) for t in self.decoder.topics for p in range(settings.kafka.partitions)}
        self._progress: dict[tuple[str, int], tuple[int, float]] = {}
        self._frozen_at = 0.0
        self._wire()

    def _wire(self) -> None:
        names = [*self.decoder.topics, heartbeat_topic_name(self.settings.kafka.topic_prefix)]
        source = self.app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                                value_serializer="raw", acks=True)
        self.app.agent(source, name="apply-changes", concurrency=1)(self._consume)
        self.app.timer(1.0, name="wall-clock-tick")(self._tick)
        self.app.on_rebalance_complete.connect(self._seek_to_our_checkpoint)

    async def _consume(self, stream: StreamT[Any]) -> AsyncIterator[None]:
        assert isinstance(stream, faust.Stream)  # take_events is on the concrete Stream only
        async for events in stream.take_events(self.settings.worker.batch_max,
                                               within=self.settings.worker.batch_within_seconds):
            records = [_raw(e) for e in events]
            async with self.lock:
                await self.pipeline.process(records)
                self.batches += 1
            yield None

    async def _tick(self) -> None:
        async with self.lock:
            await self.pipeline.tick()
        await self._unstick_partitions()
        self._write_status()
        if time.monotonic() - self._frozen_at > FREEZE_EVERY_SECONDS:
            # The state is millions of long-lived tuples without reference cycles; a full collection
            # would walk all of them (pauses of seconds at 90 days of history). Freezing moves what
            # survived so far out of the collector's sight; young objects are still collected.
            gc.freeze()
            self._frozen_at = time.monotonic()

    async def _unstick_partitions(self) -> None:
        """Re-seek a partition that has records beyond our checkpoint yet made no progress for a while.

        Seen here with faust-streaming 0.15.3: after a restart, one assigned partition is occasionally never
        fetched again. Seeking it to our checkpoint resumes it; a replay is harmless (versions), so a false
        alarm costs only re-reading.
        """
        now = time.monotonic()
        consumer: Any = self.app.consumer
        for tp in consumer.assignment():
            key = (tp.topic, tp.partition)
            if key not in self._watched:
                continue
            done = self.pipeline.checkpoint.get(key, 0)
            highwater = self._highwater(key)
            last_done, since = self._progress.get(key, (-1, now))
            if done != last_done or highwater is None or highwater <= done:
                self._progress[key] = (done, now)
            elif now - since > self.settings.worker.stall_seconds:
                log.warning("partition %s[%d] made no progress for %.0fs at %d of %d: seeking it again",
                            tp.topic, tp.partition, now - since, done, highwater)
                consumer.resume_partitions({tp})
                await consumer.seek(tp, done)
                self.pipeline.metrics.reseeks.inc()
                self._progress[key] = (done, now)

    async def _seek_to_our_checkpoint(self, sender: Any, /, *_: Any, signal: BaseSignalT[Any], **__: Any) -> None:
        # `_commit` (commit these exact offsets) is the transport consumer's, not on Faust's ConsumerT type.
        consumer: Any = self.app.consumer
        assigned = consumer.assignment()
        offsets = {tp: self.pipeline.checkpoint.get((tp.topic, tp.partition), 0) for tp in assigned}
        if offsets:
            # Faust seeks to the group's committed offsets right after this signal; make those ours.
            await consumer._commit(offsets)
            log.info("resuming %d partitions from the checkpoint kept in ClickHouse", len(offsets))

    def _highwater(self, tp: tuple[str, int]) -> int | None:
        try:
            value = self.app.consumer.highwater(TP(tp[0], tp[1]))
        except Exception:  # not assigned yet or no fetch response yet: unknown
            return None
        return None if value is None else int(value)

    async def _send_dead_letter(self, letter: DeadLetter) -> None:
        headers = [("source-topic", letter.topic.encode()), ("source-partition", str(letter.partition).encode()),
                   ("source-offset", str(letter.offset).encode()), ("reason", letter.reason.encode())]
        pending = await self.dead_letter_topic.send(key=f"{letter.topic}:{letter.partition}:{letter.offset}".encode(),
                                                    value=letter.value or b"", headers=headers)
        await pending  # delivered before the batch's checkpoint is written

    def _write_status(self) -> None:
        m = self.pipeline.metrics
        status = {
            "pid": os.getpid(), "started_at": self.started_at, "last_tick_at": datetime.now(UTC),
            "batches": self.batches, "checkpoint_partitions": len(self.pipeline.checkpoint),
            "events_applied": sum(f.events_applied for f in self.pipeline.freshness.values()),
            "dead_lettered": int(m.dead._value.get()), "recovery": self.recovery,
        }
        path = self.settings.worker_status_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(status))
        tmp.replace(path)

    async def recover(self) -> None:
        created = await ensure_topics(self.settings)
        if created:
            log.info("created %d topics not yet made by Debezium: %s", len(created), ", ".join(created))
        self.sink.ensure_schema()
        report = await recover(self.pipeline, self.sink)
        self.recovery = {"rows_loaded": report.rows_loaded, "cells": report.cells,
                         "corrections": report.corrections, "seconds": round(report.seconds, 2)}


def _raw(event: Any) -> RawRecord:
    message = event.message
    return RawRecord(message.topic, message.partition, message.offset, message.key, message.value,
                     int(message.timestamp * 1000) if message.timestamp else 0, time.time())


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    worker = Worker(settings)
    asyncio.run(worker.recover())
    log.info("recovery: %s", worker.recovery)
    gc.freeze()  # the state just loaded lives as long as the process
    faust_worker = faust.Worker(worker.app, loglevel="INFO", quiet=True)
    faust_worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
