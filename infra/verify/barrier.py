"""The verify's side of the barrier (agents/barrier.py): one PostgreSQL snapshot the stream is held at.

`held_snapshot(settings)` yields a connection inside a REPEATABLE READ transaction whose snapshot holds
exactly the changes below the WAL position the worker is held at, and releases the worker on leaving.
The writers of the captured tables are kept out only while the snapshot is taken (SHARE locks, taken with
a short `lock_timeout` and retried, so a business transaction is never the one a deadlock ends).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from agents.barrier import BARRIER_TABLE
from infra.postgres.tables import CAPTURED_TABLES
from infra.settings import StackSettings


class BarrierNotReached(RuntimeError):
    """The worker did not reach the barrier in time (not running, or far behind)."""


def _snapshot(dsn: str, attempts: int = 50) -> tuple[psycopg.Connection[Any], str]:
    """A REPEATABLE READ transaction and the WAL position its snapshot corresponds to."""
    tables = ", ".join(CAPTURED_TABLES)
    for _ in range(attempts):
        locker = psycopg.connect(dsn)
        snapshot = psycopg.connect(dsn)
        try:
            locker.execute("SET lock_timeout = '200ms'")
            locker.execute(f"LOCK TABLE {tables} IN SHARE MODE")  # waits for writers in flight to commit
            snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            row = snapshot.execute("SELECT pg_current_wal_lsn()::text").fetchone()
            assert row is not None
            locker.rollback()  # writers go on; the snapshot stays
            return snapshot, str(row[0])
        except psycopg.errors.LockNotAvailable:
            snapshot.close()
            time.sleep(0.05)
        finally:
            locker.close()
    raise BarrierNotReached(f"could not lock the captured tables in {attempts} attempts (long transactions?)")


@contextmanager
def held_snapshot(settings: StackSettings, timeout: float = 120.0) -> Iterator[psycopg.Connection[Any]]:
    """The snapshot connection, once the worker holds at its position; the worker is released after."""
    dsn = settings.postgres.dsn()
    desk = psycopg.connect(dsn, autocommit=True)
    snapshot: psycopg.Connection[Any] | None = None
    barrier_id: int | None = None
    try:
        row = desk.execute(f"INSERT INTO {BARRIER_TABLE} DEFAULT VALUES RETURNING barrier_id").fetchone()
        assert row is not None
        barrier_id = int(row[0])
        deadline = time.monotonic() + timeout
        shards = settings.worker.shards  # every shard's worker holds (agents/shards.py)
        _wait_for(desk, barrier_id, "paused", shards, deadline)  # it applies nothing from here on
        snapshot, lsn = _snapshot(dsn)
        desk.execute(f"UPDATE {BARRIER_TABLE} SET snapshot_lsn = %s::pg_lsn WHERE barrier_id = %s", (lsn, barrier_id))
        _wait_for(desk, barrier_id, "reached", shards, deadline)
        yield snapshot
        _check_still_held(desk, barrier_id)
    finally:
        if barrier_id is not None:
            desk.execute(f"UPDATE {BARRIER_TABLE} SET released_at = now() WHERE barrier_id = %s "
                         "AND released_at IS NULL", (barrier_id,))
        desk.close()
        if snapshot is not None:
            snapshot.close()


def _wait_for(desk: psycopg.Connection[Any], barrier_id: int, step: str, shards: int, deadline: float) -> None:
    """Until every shard's worker has `step`ped ("paused", "reached") at the barrier."""
    done: list[int] = []
    while time.monotonic() < deadline:
        row = desk.execute(f"SELECT {step}_shards FROM {BARRIER_TABLE} WHERE barrier_id = %s",
                           (barrier_id,)).fetchone()
        done = [] if row is None else sorted(row[0])
        if set(range(shards)) <= set(done):
            return
        time.sleep(0.1)
    verb = "pause at" if step == "paused" else "reach"
    raise BarrierNotReached(f"the streaming workers did not {verb} barrier {barrier_id} in time (shards done: "
                            f"{done or 'none'} of {shards}; is each running and caught up? `make status`)")


def _check_still_held(desk: psycopg.Connection[Any], barrier_id: int) -> None:
    row = desk.execute(f"SELECT released_at IS NULL FROM {BARRIER_TABLE} WHERE barrier_id = %s",
                       (barrier_id,)).fetchone()
    if row is None or not row[0]:
        raise BarrierNotReached(f"the worker released barrier {barrier_id} before the comparison ended "
                                "(LG_WORKER__BARRIER_HOLD_SECONDS): the result does not hold")
