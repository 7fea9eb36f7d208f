"""The streaming worker: one Faust agent over every table topic and the heartbeat topic.

    python -m agents.worker        # settings from LG_* (the stack starts it; `make run` / `make up`)

Contract:
- Before Faust starts, `recover` restores state, aggregates, checkpoint and freshness from ClickHouse.
- When Kafka assigns the partitions, every partition is sought to OUR checkpoint (kept in ClickHouse with
  the results), and the group's committed offsets are overwritten with it before Faust seeks to
  "committed". Faust's own commits (bugs #606/#316) therefore never decide where processing resumes.
- The agent receives records in batches (`streams.batches.deliver_in_batches`: one Faust event per batch,
  not per record; a batch is everything fetched while the previous one was processed), hands the raw bytes
  to the `Pipeline` (decode once, apply per batch, write, then checkpoint). A 1 s timer closes windows on
  wall-clock time, commits the checkpoint into the consumer group (so Kafka's own tools show the true lag)
  and writes `worker/status.json` for the API's health check: its backlog, catch-up rate and ETA
  (`agents.progress`), when it last wrote a batch, and whether writes are failing.
- Fail loudly: a permanent error anywhere in applying or writing (anything but a transient write failure,
  which the pipeline retries) is logged with its traceback, counted (`lg_stream_worker_fatal_errors`), written
  to the status file as `failed`, and stops the worker through the same clean shutdown as SIGTERM; the
  process exits with status 70 so the supervisor restarts it, from the last checkpoint.
- Shards (`LG_WORKER__SHARDS`, `LG_WORKER__SHARD`; agents/shards.py): each shard's worker reads every topic
  with its own consumer group, checkpoint, store, status file and lease (a standby of the same shard takes
  over), and writes its part of the cells; only shard 0 publishes dead letters to Kafka (every shard meets
  the same malformed record; each records it in ClickHouse, where the copies collapse into one row).

Faust and aiokafka interfaces: public ones throughout (`app.agent`, `app.timer`, `on_rebalance_complete`,
`consumer.assignment()`, `consumer.highwater()`, `consumer.seek_wait()`, `topic.send()`), except one:
`consumer._commit(offsets)`, which commits the exact offsets given. Faust's public `commit()` commits only the
offsets of events acknowledged through its own tracking, which this worker turns off (`acks=False`: its
checkpoint lives in ClickHouse with the results), and reaching aiokafka's public `commit(offsets)` would mean
going through the private transport thread instead.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from faust.types import TP, StreamT
from mode.types.signals import BaseSignalT

from agents.barrier import BarrierDesk, BarrierKeeper
from agents.engine import Engine
from agents.lease import WorkerLease, version_floor
from agents.metrics import watch_gc
from agents.pipeline import DeadLetter, Pipeline
from agents.progress import Progress, Recovering
from agents.recovery import recover
from agents.shards import Shard
from agents.store import RocksStore
from infra.clickhouse.runner import get_client
from infra.clock import Clock, SystemClock
from infra.settings import StackSettings, get_settings
from infra.status import write_status
from schemas.changefeed import encode_batch
from schemas.decode import ChangeDecoder
from sinks.clickhouse import ClickHouseSink
from streams.app import create_app
from streams.batches import FetchBuffer, deliver_in_batches
from streams.replay import RawRecord
from streams.topics import change_feed_topic_name, dead_letter_topic_name, ensure_topics, heartbeat_topic_name

log = logging.getLogger("luckygas.worker")

FREEZE_EVERY_SECONDS = 30.0
TICK_SECONDS = 1.0
GROUP_COMMIT_SECONDS = 10.0  # the group commit mirrors the checkpoint for lag tools only: never wait long on it
EXIT_FAILED = 70  # EX_SOFTWARE: the worker stopped on an error it cannot get past by retrying


class Worker:
    """Wires a Pipeline to a Faust app; holds the lock that serialises batches and ticks."""

    def __init__(self, settings: StackSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.started_at = datetime.now(UTC)
        prefix = settings.kafka.topic_prefix
        self.sink = ClickHouseSink(get_client(settings), settings.clickhouse.database,
                                   client_factory=lambda: get_client(settings), parallel=settings.worker.insert_threads)
        self.decoder = ChangeDecoder(prefix, clock=clock or SystemClock())
        self.shard = Shard(settings.worker.shard, settings.worker.shards)
        # Its own consumer group per shard: in one group, Kafka would split the topics between the shards.
        self.app = create_app(settings, app_id=consumer_group(self.shard))
        self.dead_letter_topic = self.app.topic(dead_letter_topic_name(prefix), key_type=bytes, value_type=bytes,
                                                key_serializer="raw", value_serializer="raw")
        self.pipeline = Pipeline(Engine(clock or SystemClock(), shard=self.shard), self.sink, self.decoder,
                                 heartbeat_topic_name(prefix), self._send_dead_letter,
                                 overlap_writes=settings.worker.overlap_writes)
        self.pipeline.highwaters = self._highwater
        self.change_feed_topic = self.app.topic(change_feed_topic_name(prefix), key_type=bytes, value_type=bytes,
                                                key_serializer="raw", value_serializer="raw")
        self._feed_run = f"{os.getpid()}@{self.started_at.isoformat()}"
        self._feed_seq = 0
        self.progress = Progress({topic: spec.name for topic in self.decoder.topics
                                  if (spec := self.decoder.table_of(topic)) is not None},
                                 catching_up_records=settings.worker.catching_up_records)
        self.fatal: dict[str, Any] | None = None
        self.lease: WorkerLease | None = None
        self.barrier: BarrierKeeper | None = None
        self._standby_logged = 0.0
        self.lock = asyncio.Lock()
        self.batches = 0
        self.recovery: dict[str, Any] = {}
        self._group_committed: dict[tuple[str, int], int] = {}
        self._ticked_at = 0.0
        self._frozen_at = 0.0
        self._wire()

    def _wire(self) -> None:
        names = [*self.decoder.topics, heartbeat_topic_name(self.settings.kafka.topic_prefix)]
        # acks=False: Faust neither acks nor commits these records; the checkpoint does (see module doc).
        source = self.app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                                value_serializer="raw", acks=False)
        batches = deliver_in_batches(self.app, source, limit=self.settings.worker.batch_max,
                                     fetch_max_wait_ms=self.settings.worker.fetch_max_wait_ms)
        self.app.agent(batches, name="apply-changes", concurrency=1)(self._consume)
        self.app.timer(TICK_SECONDS, name="wall-clock-tick")(self._tick)
        self.app.on_rebalance_complete.connect(self._seek_to_our_checkpoint)

    async def _consume(self, stream: StreamT[Any]) -> AsyncIterator[None]:
        buffer: FetchBuffer
        async for buffer in stream:
            fetched = buffer.take()
            if not fetched:
                continue  # a wake-up whose records an earlier take already had
            received = time.time()
            records = [RawRecord(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp or 0, received)
                       for r in fetched]
            try:
                if self.lease is not None:
                    checked = time.perf_counter()
                    await asyncio.to_thread(self.lease.check)  # LeaseLost: stop before writing anything
                    self.pipeline.metrics.phase_seconds.labels("lease").observe(time.perf_counter() - checked)
                async with self.lock:
                    if self.barrier is not None:
                        records = self.barrier.admit(records)  # held back while a verify compares
                    if records:
                        await self.pipeline.process(records)
                        self.batches += 1
                    await self._close_windows()
            except Exception as error:
                await self._fail(error)
                return
            yield None

    async def _fail(self, error: BaseException) -> None:
        """Stop on a permanent error (see the module contract). Idempotent."""
        if self.fatal is not None:
            return
        self.record_fatal(error, "the streaming worker stops on a permanent error; a restart resumes from the "
                                 "last checkpoint")
        os.kill(os.getpid(), signal.SIGTERM)  # Faust's own clean shutdown, as a supervisor's stop would do

    async def _close_windows(self) -> None:
        """The pipeline's wall-clock tick, at most once a second; call it holding the lock."""
        if time.monotonic() - self._ticked_at < TICK_SECONDS * 0.9:  # 0.9: timer jitter
            return
        self._ticked_at = time.monotonic()
        with self.pipeline.metrics.tick_seconds.time():
            await self.pipeline.tick()
        if self.barrier is not None:
            assigned = self._assignment()
            await self.barrier.step(self.pipeline, lambda: {(tp.topic, tp.partition): self._highwater(
                (tp.topic, tp.partition)) for tp in assigned})

    async def _tick(self) -> None:
        # While batches follow each other, the agent closes windows between them; waiting here for
        # the lock would only make this timer overrun. A quiet stream leaves the lock free.
        if self.fatal is not None:
            return
        try:
            if not self.lock.locked():
                async with self.lock:
                    await self._close_windows()
            writer_error = self.pipeline.writer_error()
            if writer_error is not None:
                raise writer_error
        except Exception as error:
            await self._fail(error)
            return
        self.pipeline.metrics.flush_gc_pauses()
        self._write_status()  # first: whatever the group commit below does, the status stays current
        await self._commit_checkpoint_to_group()
        if time.monotonic() - self._frozen_at > FREEZE_EVERY_SECONDS:
            # The state is millions of long-lived tuples without reference cycles; a full collection
            # would walk all of them (pauses of seconds at 90 days of history). Freezing moves what
            # survived so far out of the collector's sight; young objects are still collected.
            gc.freeze()
            self._frozen_at = time.monotonic()

    async def _commit_checkpoint_to_group(self) -> None:
        """Mirror the checkpoint into the consumer group's committed offsets (for Kafka's lag tools only:
        on assignment the worker resumes from the checkpoint in ClickHouse, whatever the group says)."""
        consumer: Any = self.app.consumer
        if self.app.rebalancing or self.pipeline.checkpoint == self._group_committed:
            return
        checkpoint = dict(self.pipeline.checkpoint)
        offsets = {tp: checkpoint[(tp.topic, tp.partition)] for tp in consumer.assignment()
                   if (tp.topic, tp.partition) in checkpoint}
        try:
            if offsets and await asyncio.wait_for(consumer._commit(offsets), GROUP_COMMIT_SECONDS):
                self._group_committed = checkpoint
        except Exception as exc:  # racing a rebalance, or no coordinator yet: the next tick retries
            log.debug("group commit skipped: %r", exc)

    async def _seek_to_our_checkpoint(self, sender: Any, /, *_: Any, signal: BaseSignalT[Any], **__: Any) -> None:
        # `_commit` (commit these exact offsets) is the transport consumer's, not on Faust's ConsumerT type.
        consumer: Any = self.app.consumer
        assigned = consumer.assignment()
        offsets = {tp: self.pipeline.checkpoint.get((tp.topic, tp.partition), 0) for tp in assigned}
        if offsets:
            # Faust seeks to the group's committed offsets right after this signal; make those ours.
            await consumer._commit(offsets)
            # ...and seek ourselves too: aiokafka's seek_to_committed skips a committed offset of 0, so a
            # partition whose position was set from older commits before ours landed would stay there
            # (seen here: a rebuild on an emptied ClickHouse left a whole table unread).
            await consumer.seek_wait(offsets)
            log.info("resuming %d partitions from the checkpoint kept in ClickHouse", len(offsets))

    def _highwater(self, tp: tuple[str, int]) -> int | None:
        try:
            value = self.app.consumer.highwater(TP(tp[0], tp[1]))
        except Exception:  # not assigned yet or no fetch response yet: unknown
            return None
        return None if value is None else int(value)

    async def _send_dead_letter(self, letter: DeadLetter) -> None:
        if self.shard.index != 0:
            return  # shard 0 publishes it (see the module contract)
        headers = [("source-topic", letter.topic.encode()), ("source-partition", str(letter.partition).encode()),
                   ("source-offset", str(letter.offset).encode()), ("reason", letter.reason.encode())]
        pending = await self.dead_letter_topic.send(key=f"{letter.topic}:{letter.partition}:{letter.offset}".encode(),
                                                    value=letter.value or b"", headers=headers)
        await pending  # delivered before the batch's checkpoint is written

    async def _publish_changes(self, rows: dict[str, list[Any]], positions: dict[tuple[str, int], int]) -> None:
        self._feed_seq += 1
        messages = encode_batch(self._feed_run, self._feed_seq, datetime.now(UTC), positions, rows,
                                shard=self.shard.index)
        pending = [await self.change_feed_topic.send(key=self._feed_run.encode(), value=m) for m in messages]
        for sent in pending:
            await sent  # delivered in order (one partition) before the next batch is published

    def record_fatal(self, error: BaseException, why: str) -> None:
        """Log `error` with its traceback, count it, and say so in the status file (`failed`)."""
        log.critical(why, exc_info=error)
        self.fatal = {"error": f"{type(error).__name__}: {error}"[:2000], "at": datetime.now(UTC)}
        self.pipeline.metrics.fatal.inc()
        self._write_status()

    @property
    def standby_file(self) -> Path:
        return self.settings.worker_status_file.with_name(f"standby-{os.getpid()}.json")

    def standing_by(self, holder: int | None) -> None:
        """While another worker holds the lease: say so (its own status file, not the active worker's)."""
        write_status(self.standby_file, {"pid": os.getpid(), "standby": True, "lease_holder_backend_pid": holder})
        if time.monotonic() - self._standby_logged > 30:
            self._standby_logged = time.monotonic()
            log.info("standby: the worker lease is held (PostgreSQL backend %s); waiting to take over", holder)

    def recovering_status(self, progress: dict[str, Any]) -> None:
        """The status while recovery runs (before any batch): up, catching up, and since when."""
        write_status(self.settings.worker_status_file, {
            "pid": os.getpid(), "started_at": self.started_at, "batches": 0, "events_applied": 0,
            "dead_lettered": 0, "shard": self.shard.index, "shards": self.shard.count, **progress})

    def _write_status(self) -> None:
        pipeline = self.pipeline
        if self.fatal is None:
            assigned = [(tp.topic, tp.partition) for tp in self._assignment()]
            self.progress.observe(time.time(), pipeline.checkpoint, {tp: self._highwater(tp) for tp in assigned})
        status = {
            "pid": os.getpid(), "started_at": self.started_at,
            "batches": self.batches, "checkpoint_partitions": len(pipeline.checkpoint),
            "events_applied": sum(f.events_applied for f in pipeline.freshness.values()),
            "dead_lettered": pipeline.dead_lettered, "recovery": self.recovery,
            "written_at": _utc(pipeline.written_at), "failing_since": _utc(pipeline.failing_since),
            "last_failure": pipeline.last_failure[:2000], "failed": self.fatal, **self.progress.snapshot(),
            "epoch": None if self.lease is None else self.lease.epoch,
            "shard": self.shard.index, "shards": self.shard.count,
            "barrier": None if self.barrier is None else self.barrier.status(),
            "schema_drift": {t: d.to_json() for t, d in sorted(self.decoder.drift.items())},
            "schema_broken": {t: b.to_json() for t, b in sorted(self.decoder.broken.items())},
        }
        write_status(self.settings.worker_status_file, status)

    def _assignment(self) -> set[TP]:
        try:
            return set(self.app.consumer.assignment())
        except Exception:  # no consumer yet (before the first assignment)
            return set()

    async def recover(self) -> None:
        created = await ensure_topics(self.settings)
        if created:
            log.info("created %d topics not yet made by Debezium: %s", len(created), ", ".join(created))
        self.sink.ensure_schema()
        worker = self.settings.worker
        if worker.state_on_disk:  # opened only now: the lease (held by now) makes this the only writer
            store = RocksStore(self.settings.worker_state_dir, cache_mib=worker.state_cache_mib)
            self.pipeline.engine.use_store(store, cache_entries=worker.cache_entries)
        report = await recover(self.pipeline, self.sink)
        self.recovery = {"rows_loaded": report.rows_loaded, "cells": report.cells, "resumed": report.resumed,
                         "corrections": report.corrections, "seconds": round(report.seconds, 2)}
        # From here on (Faust's producer runs): what recovery itself rewrote is current in ClickHouse already.
        self.pipeline.publish = self._publish_changes
        if self.barrier is not None:
            await self.barrier.take_up()  # before the first batch (BarrierKeeper.take_up)


def consumer_group(shard: Shard) -> str:
    """The Kafka consumer group (Faust app id) of a shard's worker."""
    return "luckygas-analytics" if shard.whole else f"luckygas-analytics-shard-{shard.index}"


def _utc(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    worker = Worker(settings)
    worker.lease = WorkerLease(settings.postgres.dsn(), shard=worker.shard.index)
    epoch = worker.lease.acquire(on_wait=worker.standing_by)
    worker.standby_file.unlink(missing_ok=True)
    worker.pipeline.engine.version_floor = version_floor(epoch)
    worker.barrier = BarrierKeeper(BarrierDesk(settings.postgres.dsn(), settings.postgres.slot_name,
                                               worker.shard.index),
                                   frozenset(worker.decoder.topics), hold_seconds=settings.worker.barrier_hold_seconds)
    log.info("holding the worker lease of %s, epoch %d", worker.shard, epoch)
    try:
        with Recovering(worker.recovering_status):
            asyncio.run(worker.recover())
    except Exception as error:  # e.g. a ClickHouse table that does not match its definition (SchemaMismatch)
        worker.record_fatal(error, "the streaming worker cannot start")
        return EXIT_FAILED
    log.info("recovery: %s", worker.recovery)
    watch_gc(worker.pipeline.metrics)
    gc.freeze()  # the state just loaded lives as long as the process
    faust_worker = faust.Worker(worker.app, loglevel="INFO", quiet=True)
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exit_:
        if worker.fatal is None:
            raise
        log.critical("stopped: %s", worker.fatal["error"])
        return EXIT_FAILED if exit_.code in (0, None) else int(exit_.code)
    return EXIT_FAILED if worker.fatal is not None else 0


if __name__ == "__main__":
    sys.exit(main())
