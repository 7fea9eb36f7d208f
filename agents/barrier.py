"""A consistent point for `make verify` while the business goes on: the worker holds at a WAL position.

The protocol, through `analytics.verify_barrier` in PostgreSQL (the verify's side is infra/verify/barrier.py):
1. the verify inserts a request row; the worker sees it (`BarrierDesk.pending`, polled once a second),
   from then on HOLDS every change it fetches, unapplied, and says so (`paused_at`): whatever it applied
   before was committed before anything the verify does next;
2. the verify takes a REPEATABLE READ snapshot while SHARE locks keep every writer of the captured tables
   out for a few milliseconds, so the snapshot holds exactly the changes whose WAL position is below the
   position `L` it reads with it, and writes `L` into the row (a captured change: the replication slot is
   moved past `L` even when the business is idle); the worker applies what it held below `L` and from then
   on holds only the changes at or above `L` (`L` is where the first record after the snapshot starts: a
   change exactly there is not in the snapshot), and everything after one on the same partition
   (`Hold.admit`);
   a worker that starts while a request is pending takes it up before its first batch (`take_up`), so a
   successor of a shard's worker (after a crash or a lost lease) never applies past its predecessor's hold;
3. it has REACHED `L` when the slot's confirmed position is at or past `L` (Debezium has delivered every
   change below it to Kafka: it confirms only what Connect committed) and, read after that, every table
   partition is consumed to its end or holds a change above `L`; it then writes `reached_at`;
4. the verify compares its snapshot with ClickHouse and sets `released_at`; the worker applies what it
   held and carries on. A request older than `hold_seconds` is released by the worker itself, so a verify
   that died never stops the stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import psycopg

from agents.pipeline import Pipeline
from streams.replay import RawRecord

log = logging.getLogger("luckygas.barrier")

BARRIER_TABLE = "analytics.verify_barrier"


def lsn_number(text: str) -> int:
    """PostgreSQL's `X/Y` notation as the integer Debezium puts in `source.lsn`."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def record_lsn(value: bytes | None) -> int | None:
    """The `source.lsn` of a Debezium change, or None (not a change: the pipeline deals with it)."""
    if not value:
        return None
    try:
        lsn = orjson.loads(value)["source"]["lsn"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return lsn if isinstance(lsn, int) else None


@dataclass(frozen=True)
class Barrier:
    barrier_id: int
    lsn: int | None  # None until the verify has taken its snapshot: until then everything is held
    age_seconds: float


@dataclass
class Hold:
    """Changes at or above `lsn` (and all after one on the same partition) kept back until the barrier is
    released: every change the snapshot holds starts below `lsn`."""

    barrier: Barrier
    table_topics: frozenset[str]
    held: list[RawRecord] = field(default_factory=list)
    partitions: set[tuple[str, int]] = field(default_factory=set)
    reached: bool = False
    max_applied_lsn: int | None = None  # of the changes let through while held: always below the barrier

    def admit(self, records: Sequence[RawRecord]) -> list[RawRecord]:
        """The records to apply now; the rest are held, in order."""
        now: list[RawRecord] = []
        limit = self.barrier.lsn
        for record in records:
            tp = (record.topic, record.partition)
            lsn = None
            if tp not in self.partitions and record.topic in self.table_topics:
                lsn = record_lsn(record.value)
                # At `limit` itself starts the first record written after the snapshot (pg_current_wal_lsn
                # is the end of what was written): it is after the barrier, as is everything above it.
                if limit is None or (lsn is not None and lsn >= limit):
                    self.partitions.add(tp)
            if tp in self.partitions:
                self.held.append(record)
                continue
            now.append(record)
            if lsn is not None:
                self.max_applied_lsn = max(self.max_applied_lsn or 0, lsn)
        return now

    def settle(self, lsn: int) -> list[RawRecord]:
        """The snapshot's position is known: what was held up to it is to be applied now (in order)."""
        self.barrier = replace(self.barrier, lsn=lsn)
        held, self.held, self.partitions = self.held, [], set()
        return self.admit(held)

    def consumed_to(self, checkpoint: dict[tuple[str, int], int], ends: dict[tuple[str, int], int | None]) -> bool:
        """Every table partition applied to its end (`ends`, read after the slot passed the barrier) or held."""
        return all(tp in self.partitions or (end is not None and checkpoint.get(tp, 0) >= end)
                   for tp, end in ends.items() if tp[0] in self.table_topics)


class BarrierDesk:
    """The worker's side of `analytics.verify_barrier` (one autocommit session, used from a thread)."""

    def __init__(self, dsn: str, slot_name: str, shard: int = 0) -> None:
        self.dsn, self.slot_name, self.shard = dsn, slot_name, shard
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        return self._conn

    def pending(self) -> Barrier | None:
        """The oldest request not yet released, if any."""
        row = self._connection().execute(
            f"SELECT barrier_id, snapshot_lsn::text, extract(epoch FROM now() - requested_at)::float8 "
            f"FROM {BARRIER_TABLE} WHERE released_at IS NULL ORDER BY barrier_id LIMIT 1").fetchone()
        if row is None:
            return None
        return Barrier(int(str(row[0])), None if row[1] is None else lsn_number(str(row[1])), float(str(row[2])))

    def mark_paused(self, barrier_id: int) -> None:
        self._mark("paused", barrier_id)

    def _mark(self, step: str, barrier_id: int) -> None:
        """This shard has paused / reached: the time, and the shard added to the step's list (once)."""
        self._connection().execute(
            f"UPDATE {BARRIER_TABLE} SET {step}_at = now(), {step}_shards = CASE WHEN %(s)s = ANY({step}_shards) "
            f"THEN {step}_shards ELSE array_append({step}_shards, %(s)s) END WHERE barrier_id = %(b)s",
            {"s": self.shard, "b": barrier_id})

    def snapshot_lsn(self, barrier_id: int) -> int | None:
        row = self._connection().execute(f"SELECT snapshot_lsn::text FROM {BARRIER_TABLE} WHERE barrier_id = %s",
                                         (barrier_id,)).fetchone()
        return None if row is None or row[0] is None else lsn_number(str(row[0]))

    def slot_confirmed(self) -> int | None:
        row = self._connection().execute(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
            (self.slot_name,)).fetchone()
        return None if row is None or row[0] is None else lsn_number(str(row[0]))

    def mark_reached(self, barrier_id: int) -> None:
        self._mark("reached", barrier_id)

    def is_released(self, barrier_id: int) -> bool:
        row = self._connection().execute(f"SELECT released_at IS NOT NULL FROM {BARRIER_TABLE} WHERE barrier_id = %s",
                                         (barrier_id,)).fetchone()
        return row is None or bool(row[0])

    def release(self, barrier_id: int) -> None:
        """Release on the worker's own authority (the request outlived `hold_seconds`)."""
        self._connection().execute(f"UPDATE {BARRIER_TABLE} SET released_at = now() WHERE barrier_id = %s "
                                   "AND released_at IS NULL", (barrier_id,))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class BarrierKeeper:
    """The worker's part of the protocol (module doc, steps 2–4): `admit` on every fetched batch, `step` once a
    second, both while holding the worker's batch lock."""

    def __init__(self, desk: BarrierDesk, table_topics: frozenset[str], *, hold_seconds: float = 300.0,
                 settle_seconds: float = 1.0) -> None:
        self.desk, self.table_topics = desk, table_topics
        self.hold_seconds, self.settle_seconds = hold_seconds, settle_seconds
        self.hold: Hold | None = None
        self._since = 0.0  # monotonic time the hold began
        self._slot_passed_at: float | None = None

    def admit(self, records: Sequence[RawRecord]) -> list[RawRecord]:
        return list(records) if self.hold is None else self.hold.admit(records)

    async def step(self, pipeline: Pipeline, ends: Callable[[], dict[tuple[str, int], int | None]]) -> None:
        hold = self.hold
        if hold is None:
            await self.take_up()
        elif hold.reached or time.monotonic() - self._since > self.hold_seconds:
            await self._maybe_release(pipeline, hold)
        elif hold.barrier.lsn is None:
            lsn = await asyncio.to_thread(self.desk.snapshot_lsn, hold.barrier.barrier_id)
            if lsn is not None:
                now = hold.settle(lsn)
                if now:
                    await pipeline.process(now)
        else:
            await self._check_reached(pipeline, hold, ends)

    async def take_up(self) -> None:
        """Hold for the oldest pending request, if any. A worker calls it once before its first batch: a
        worker that starts (or takes a shard over) while a verify compares must not apply a change above
        the snapshot its predecessor was held at, not even in the one batch before its first `step`."""
        if self.hold is not None:
            return
        pending = await asyncio.to_thread(self.desk.pending)
        if pending is None:
            return
        if pending.age_seconds > self.hold_seconds:  # its verify is long gone
            await asyncio.to_thread(self.desk.release, pending.barrier_id)
            return
        self.hold = Hold(pending, self.table_topics)
        self._since, self._slot_passed_at = time.monotonic() - pending.age_seconds, None
        if pending.lsn is None:
            await asyncio.to_thread(self.desk.mark_paused, pending.barrier_id)
        log.info("holding for barrier %d of a verify", pending.barrier_id)

    async def _check_reached(self, pipeline: Pipeline, hold: Hold,
                             ends: Callable[[], dict[tuple[str, int], int | None]]) -> None:
        if self._slot_passed_at is None:
            confirmed = await asyncio.to_thread(self.desk.slot_confirmed)
            if confirmed is not None and hold.barrier.lsn is not None and confirmed >= hold.barrier.lsn:
                self._slot_passed_at = time.monotonic()
            return
        if time.monotonic() - self._slot_passed_at < self.settle_seconds:
            return  # partition ends are trusted only from fetches after the slot passed the barrier
        await pipeline.drain()
        if hold.consumed_to(pipeline.checkpoint, ends()):
            await asyncio.to_thread(self.desk.mark_reached, hold.barrier.barrier_id)
            hold.reached = True
            log.info("reached barrier %d at lsn %s; %d changes held; the highest change applied while held: %s",
                     hold.barrier.barrier_id, hold.barrier.lsn, len(hold.held), hold.max_applied_lsn)

    async def _maybe_release(self, pipeline: Pipeline, hold: Hold) -> None:
        expired = time.monotonic() - self._since > self.hold_seconds
        if not expired and not await asyncio.to_thread(self.desk.is_released, hold.barrier.barrier_id):
            return
        if expired:
            log.warning("barrier %d held for %.0fs without a release: released", hold.barrier.barrier_id,
                        self.hold_seconds)
            await asyncio.to_thread(self.desk.release, hold.barrier.barrier_id)
        self.hold = None
        if hold.barrier.lsn is not None and (hold.max_applied_lsn or 0) >= hold.barrier.lsn:
            log.error("barrier %d: a change at lsn %s was applied while held at %s (the comparison did not hold)",
                      hold.barrier.barrier_id, hold.max_applied_lsn, hold.barrier.lsn)
        if hold.held:
            await pipeline.process(hold.held)

    def status(self) -> dict[str, Any] | None:
        hold = self.hold
        if hold is None:
            return None
        return {"barrier_id": hold.barrier.barrier_id, "lsn": hold.barrier.lsn, "reached": hold.reached,
                "held": len(hold.held), "held_for_seconds": round(time.monotonic() - self._since, 1)}
