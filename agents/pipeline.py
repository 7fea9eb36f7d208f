"""One batch of raw Kafka records in, exact results and their checkpoint out: the worker's whole job.

Contract for `Pipeline.process(records)` (records of any of the table topics and the heartbeat topic):
1. every record is decoded once; one that is not a valid change of a captured table is sent to the
   dead-letter topic (with topic, partition, offset and reason) BEFORE anything is written, counted and
   logged, and processing carries on with the rest;
2. the engine applies the valid changes; the sink receives the current-state rows and absolute aggregate
   values, and flushes them;
3. only then are freshness and the consumed positions (`stream_offsets`, next offset per partition)
   written. A crash anywhere before step 3 completes leaves the previous checkpoint, from which a restart
   replays; replays are idempotent (versions), so nothing is lost and nothing is counted twice.
4. a write that fails transiently (`SinkError.transient`: ClickHouse restarting, the network) is retried with
   backoff for as long as it takes, and nothing after it is consumed meanwhile (`failing_since` says since
   when); any other failure is raised to the caller, which must stop: retrying a permanent error would stall
   the stream silently.
5. after a batch's data (or a tick's rows) is written and before its checkpoint is, `publish` (when set)
   receives the rows written and the positions the batch reaches: the change feed (`schemas.changefeed`).
   What it announces is durable, and a crash before the checkpoint replays and announces it again.
6. the engine's state after a batch (staged when it was applied) is committed to the engine's store with
   the positions the batch reaches, after the batch's data is written and before the checkpoint is: a
   restart resumes from the store at those positions, and replays at most what ClickHouse already has.
Faust, aiokafka and ClickHouse stay outside: the worker passes records in, a `Sink` and a dead-letter
callable out, so this runs in unit tests with the in-memory sink.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.engine import Change, Engine, Output
from agents.metrics import StreamMetrics
from agents.spaces import Staged
from schemas.decode import ChangeDecoder, MalformedChange, decode_heartbeat
from sinks.base import Sink, SinkError
from streams.replay import RawRecord

log = logging.getLogger("luckygas.pipeline")

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not be applied, and why."""

    topic: str
    partition: int
    offset: int
    reason: str
    value: bytes | None


DeadLetterSender = Callable[[DeadLetter], Awaitable[None]]
# After a batch (or tick) is durably written: its rows by table and the checkpoint it reached (the change feed).
ChangePublisher = Callable[[dict[str, list[Any]], dict[tuple[str, int], int]], Awaitable[None]]


@dataclass
class TableFreshness:
    """How current one source table is in ClickHouse."""

    last_commit_ms: int | None = None
    last_visible_ms: int | None = None
    last_lag_ms: int = 0
    caught_up_ms: int | None = None
    events_applied: int = 0


@dataclass
class BatchReport:
    records: int = 0
    applied: int = 0
    stale: int = 0
    dead_lettered: int = 0
    rows_written: int = 0
    write_seconds: float = 0.0
    lags_ms: dict[str, int] = field(default_factory=dict)
    change_lags_ms: list[int] = field(default_factory=list)
    kafka_lags_ms: list[int] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step (StreamMetrics.phase_seconds)


def _lap(report: BatchReport, phase: str, since: float) -> float:
    """Record the time since `since` as `phase` of the batch; now, for the next lap."""
    now = time.perf_counter()
    report.phases[phase] = now - since
    return now


def _ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@dataclass
class Prepared:
    """A batch decoded and applied, waiting to be written."""

    records: Sequence[RawRecord]
    output: Output
    dead: list[DeadLetter]
    heartbeat_ms: int | None
    staged: Staged
    apply_seconds: float = 0.0


@dataclass
class Ticked:
    """A tick's output (or a recovery's corrections) and the engine state it leaves, waiting to be written."""

    output: Output
    staged: Staged


class Pipeline:
    """Decode → engine → sink → checkpoint, one batch at a time (callers serialise calls).

    With `overlap_writes`, `process` returns once the batch is applied and queued; one writer task writes
    the batches in order (data, then that batch's freshness and checkpoint) while the next batch is decoded
    and applied. `drain()` waits for every queued write. Without it, `process` returns after the writes.
    """

    def __init__(self, engine: Engine, sink: Sink, decoder: ChangeDecoder, heartbeat_topic: str,
                 dead_letter: DeadLetterSender, metrics: StreamMetrics | None = None, *,
                 overlap_writes: bool = False) -> None:
        self.engine = engine
        self.sink = sink
        self.decoder = decoder
        self.heartbeat_topic = heartbeat_topic
        self.dead_letter = dead_letter
        self.metrics = metrics or StreamMetrics()
        self.checkpoint: dict[TopicPartition, int] = {}
        self.retry_initial_seconds = 0.5
        self.retry_max_seconds = 5.0
        self.highwaters: Callable[[TopicPartition], int | None] = lambda _tp: None
        self.freshness: dict[str, TableFreshness] = {}
        self.failing_since: float | None = None  # wall time of the first failed attempt of the current write
        self.last_failure = ""
        self.written_at: float | None = None  # wall time the last batch's checkpoint was written
        self.dead_lettered = 0  # records sent to the dead-letter topic by this process
        self.publish: ChangePublisher | None = None
        self.overlap_writes = overlap_writes
        self._queue: asyncio.Queue[Prepared | Ticked] = asyncio.Queue(maxsize=1)
        self._writer: asyncio.Task[None] | None = None
        self.topic_table = {topic: spec.name for topic in decoder.topics
                             if (spec := decoder.table_of(topic)) is not None}

    async def process(self, records: Sequence[RawRecord]) -> BatchReport | None:
        """Apply one batch; the report of its write (None when the write is queued, see the class)."""
        prepared = await self._prepare(records)
        if not self.overlap_writes:
            return await self._write(prepared)
        await self._enqueue(prepared)
        return None

    async def drain(self) -> None:
        """Wait until every queued write is done (raises what a failed writer raised)."""
        if self._writer is not None:
            await self._join()

    def writer_error(self) -> BaseException | None:
        """Why the writer task stopped, if it did (it only stops on a permanent failure)."""
        if self._writer is None or not self._writer.done() or self._writer.cancelled():
            return None
        return self._writer.exception()

    async def _enqueue(self, item: Prepared | Ticked) -> None:
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_forever(), name="sink-writer")
        if self._writer.done():
            self._writer.result()  # re-raise why the writer stopped
        await self._queue.put(item)

    async def _join(self) -> None:
        assert self._writer is not None
        join = asyncio.ensure_future(self._queue.join())
        await asyncio.wait({join, self._writer}, return_when=asyncio.FIRST_COMPLETED)
        if self._writer.done():
            join.cancel()
            self._writer.result()

    async def _write_forever(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, Prepared):
                    await self._write(item)
                else:
                    await self.write_output(item.output, item.staged)
            finally:
                self._queue.task_done()

    async def _prepare(self, records: Sequence[RawRecord]) -> Prepared:
        started = time.perf_counter()
        changes: list[Change] = []
        dead: list[DeadLetter] = []
        heartbeat_ms: int | None = None
        for record in records:
            try:
                if record.topic == self.heartbeat_topic:
                    beat = decode_heartbeat(record.topic, record.value, partition=record.partition,
                                            offset=record.offset)
                    heartbeat_ms = max(heartbeat_ms or 0, beat.ts_ms)
                    continue
                envelope = self.decoder.decode(record.topic, record.value, partition=record.partition,
                                               offset=record.offset)
            except MalformedChange as error:
                dead.append(DeadLetter(record.topic, record.partition, record.offset, error.reason, record.value))
                continue
            if envelope is not None:  # None: a Kafka tombstone after a delete, nothing to apply
                changes.append(Change(self.topic_table[record.topic], envelope))
        self.dead_lettered += len(dead)
        for letter in dead:
            await self.dead_letter(letter)
            log.warning("dead-lettered %s[%d]@%d: %s", letter.topic, letter.partition, letter.offset, letter.reason)
        output = self.engine.apply(changes)
        return Prepared(records, output, dead, heartbeat_ms, self.engine.stage(), time.perf_counter() - started)

    async def _write(self, batch: Prepared) -> BatchReport:
        output = batch.output
        report = BatchReport(records=len(batch.records), applied=output.applied, stale=output.stale,
                             dead_lettered=len(batch.dead), phases={"apply": batch.apply_seconds})
        self._add_output(output)
        self._add_dead_letters(batch.dead)
        started = step = time.perf_counter()
        report.rows_written = await self._flush()
        # Visible to every ClickHouse reader from here on: that is the moment the latency metrics measure.
        visible_ms = int(time.time() * 1000)
        step = _lap(report, "write_data", step)
        # Announced once durable and before the checkpoint: a crash in between replays (and re-announces) it.
        await self._publish(output, batch.records)
        step = _lap(report, "publish", step)
        report.lags_ms = self._note_applied(output, visible_ms)
        report.change_lags_ms = [visible_ms - commit for commit in output.commit_ms]
        report.kafka_lags_ms = [visible_ms - r.timestamp_ms for r in batch.records
                                if r.timestamp_ms and r.topic != self.heartbeat_topic]
        self._advance(batch.records, batch.heartbeat_ms)
        # The engine's state after this batch, with the positions it reached, once its output is durable. On
        # the event loop, like `apply`: the commit unpins entries the next batch may be changing.
        self.engine.commit(batch.staged, dict(self.checkpoint))
        step = _lap(report, "commit_state", step)
        self._add_freshness_and_checkpoint(batch.records, output, batch.heartbeat_ms is not None)
        report.rows_written += await self._flush()
        _lap(report, "write_checkpoint", step)
        self.written_at = time.time()
        report.write_seconds = time.perf_counter() - started
        self.metrics.observe_batch(report)
        return report

    async def tick(self) -> int:
        """Emit what wall-clock time changed (closed windows, re-aged receivables); rows written (0 when
        queued behind the batches being written)."""
        output = self.engine.tick()
        staged = self.engine.stage()
        if self.overlap_writes:  # queued even when empty: the engine's state is committed in batch order
            await self._enqueue(Ticked(output, staged))
            return 0
        return await self.write_output(output, staged)

    async def write_output(self, output: Output, staged: Staged | None = None) -> int:
        """Write rows the engine produced outside a batch (a tick, a rebuild on recovery), publish them, then
        commit the engine state they leave (`staged`, when given)."""
        written = 0
        if output.rows:
            self._add_output(output)
            written = await self._flush()
            await self._publish(output)
        if staged is not None:
            self.engine.commit(staged, dict(self.checkpoint))
        return written

    async def _publish(self, output: Output, records: Sequence[RawRecord] = ()) -> None:
        """Hand what was just written, and the positions it reaches, to the change feed if one is attached."""
        if self.publish is not None and output.rows:
            positions = dict(self.checkpoint)
            for record in records:
                positions[(record.topic, record.partition)] = max(positions.get((record.topic, record.partition), 0),
                                                                 record.offset + 1)
            await self.publish(output.rows, positions)

    async def _flush(self) -> int:
        """Flush, retrying with backoff while the sink fails transiently (e.g. ClickHouse restarting): the sink
        keeps what it could not write, and nothing after this batch is consumed meanwhile, so nothing is lost.
        A permanent failure is raised (see the module contract)."""
        delay = self.retry_initial_seconds
        while True:
            try:
                written = await asyncio.to_thread(self.sink.flush)
            except SinkError as error:
                self.metrics.write_failures.inc()
                self.last_failure = str(error)
                if not error.transient:
                    raise
                if self.failing_since is None:
                    self.failing_since = time.time()
                log.warning("write failed, retrying in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_seconds)
                continue
            self.failing_since = None
            return written

    # -- helpers -------------------------------------------------------------------------------------
    def _add_output(self, output: Output) -> None:
        for table, rows in output.rows.items():
            self.sink.add(table, rows)

    def _add_dead_letters(self, dead: list[DeadLetter]) -> None:
        if not dead:
            return
        now = datetime.now(UTC)
        self.sink.add("dead_letters", [
            {"topic": d.topic, "partition": d.partition, "offset": d.offset, "reason": d.reason,
             "value": (d.value or b"").decode("utf-8", "replace")[:10_000], "dead_lettered_at": now,
             "_version": 1, "_deleted": 0} for d in dead])

    def _note_applied(self, output: Output, visible_ms: int) -> dict[str, int]:
        lags: dict[str, int] = {}
        for table, commit_ms in output.newest_commit_ms.items():
            fresh = self.freshness.setdefault(table, TableFreshness())
            fresh.last_commit_ms = max(fresh.last_commit_ms or 0, commit_ms)
            fresh.last_visible_ms = visible_ms
            fresh.last_lag_ms = lags[table] = max(0, visible_ms - commit_ms)
        return lags

    def _advance(self, records: Sequence[RawRecord], heartbeat_ms: int | None) -> None:
        for record in records:
            tp = (record.topic, record.partition)
            self.checkpoint[tp] = max(self.checkpoint.get(tp, 0), record.offset + 1)
        if heartbeat_ms is None:
            return
        # A heartbeat proves the source was captured up to its time; a table whose topic we have consumed
        # to the end is therefore current up to then, even if nothing in it changed.
        for topic, table in self.topic_table.items():
            partitions = [tp for tp in self.checkpoint if tp[0] == topic] or [(topic, 0)]
            if all(self._consumed_to_end(tp) for tp in partitions):
                fresh = self.freshness.setdefault(table, TableFreshness())
                fresh.caught_up_ms = max(fresh.caught_up_ms or 0, heartbeat_ms)

    def _consumed_to_end(self, tp: TopicPartition) -> bool:
        highwater = self.highwaters(tp)
        return highwater is None or self.checkpoint.get(tp, 0) >= highwater

    def _add_freshness_and_checkpoint(self, records: Sequence[RawRecord], output: Output, beat: bool) -> None:
        now = datetime.now(UTC)
        version = self.engine.next_version()
        self.metrics.observe_applied(output.applied_by_table)
        for table, count in output.applied_by_table.items():
            self.freshness.setdefault(table, TableFreshness()).events_applied += count
        changed = set(output.newest_commit_ms) | (set(self.freshness) if beat else set())
        self.sink.add("freshness", [self.freshness_row(t, version, now) for t in sorted(changed)])
        touched = {(r.topic, r.partition) for r in records}
        shard = self.engine.shard
        self.sink.add("stream_offsets", [
            {"topic": tp[0], "partition": tp[1], "next_offset": self.checkpoint[tp], "_version": version,
             "_deleted": 0, "_updated_at": now, "shard": shard.index, "shards": shard.count} for tp in sorted(touched)])

    def freshness_row(self, table: str, version: int, now: datetime) -> dict[str, Any]:
        f = self.freshness[table]
        return {"source_table": table, "last_commit_at": _ms_to_datetime(f.last_commit_ms),
                "last_visible_at": _ms_to_datetime(f.last_visible_ms), "last_lag_ms": f.last_lag_ms,
                "caught_up_to": _ms_to_datetime(f.caught_up_ms), "events_applied": f.events_applied,
                "_version": version, "_deleted": 0, "_updated_at": now, "shard": self.engine.shard.index}


