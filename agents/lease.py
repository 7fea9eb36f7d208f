"""One active streaming worker per shard at a time, and fencing for a zombie: a lease held in PostgreSQL.

Why: a shard's engine (agents/shards.py) keeps its fact roots' inputs in one process and writes its part of
each aggregate cell as an absolute value; two workers of the same shard would both write it. So a worker must
hold its shard's lease to consume, and a worker that lost it must never overwrite what its successor wrote.

Contract:
- `WorkerLease.acquire(on_wait)` blocks until this process holds the session-level advisory lock of its
  shard (`lock_key(shard)`: `LOCK_KEY` in the low 32 bits, the shard above) on its own PostgreSQL
  connection (calling `on_wait(holder_pid_or_None)` about every `poll_seconds` meanwhile: a standby;
  PostgreSQL unreachable is waited for the same way), then takes the next value of the sequence
  `EPOCH_SEQUENCE` as its epoch. PostgreSQL releases the lock when the session ends (the process died, its
  connection dropped), so a standby of that shard takes over by itself.
- `version_floor(epoch)`: every cell version a worker of epoch e writes is at least this and below the
  floor of e + 1, so ClickHouse's ReplacingMergeTree keeps a later epoch's cell over anything an earlier
  one writes, however late (a zombie that lost its lease while paused cannot overwrite its successor).
  The floors lie above every time-based version written before leases existed (nanoseconds since 1970,
  below 2^61 until 2043).
- `check()` raises `LeaseLost` unless the lock is still held on a live session; the worker checks before
  each batch, and the floors make the window between a check and a write harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

LOCK_KEY = 0x4C47_5354  # "LGST": the streaming worker's advisory lock
EPOCH_SEQUENCE = "analytics_worker_epoch"
FLOOR_BASE = 1 << 61
EPOCH_SHIFT = 38  # 2.7e11 versions per epoch, 2^22 epochs before 2^64 (one epoch per worker start)


def lock_key(shard: int) -> int:
    """The advisory lock of a shard (pg_locks shows it as classid = shard, objid = LOCK_KEY)."""
    return (shard << 32) | LOCK_KEY


class LeaseLost(RuntimeError):
    """This worker no longer holds the lease: another may be active; it must stop writing at once."""


def version_floor(epoch: int) -> int:
    """The lowest cell version of `epoch` (see the module contract)."""
    if not 0 < epoch < 1 << (64 - EPOCH_SHIFT - 3):
        raise ValueError(f"epoch {epoch} out of range")
    return FLOOR_BASE + (epoch << EPOCH_SHIFT)


class WorkerLease:
    """The advisory lock and epoch of one worker process (see the module contract)."""

    def __init__(self, dsn: str, poll_seconds: float = 2.0, shard: int = 0) -> None:
        self.dsn, self.shard, self.key = dsn, shard, lock_key(shard)
        self.poll_seconds = poll_seconds
        self.epoch: int | None = None
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def acquire(self, on_wait: Callable[[int | None], None] = lambda _holder: None) -> int:
        """Block until the lease is ours; our epoch."""
        while True:
            try:
                conn = self._connection()
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
                if row is not None and row[0]:
                    conn.execute(f"CREATE SEQUENCE IF NOT EXISTS {EPOCH_SEQUENCE}")
                    epoch_row = conn.execute(f"SELECT nextval('{EPOCH_SEQUENCE}')").fetchone()
                    assert epoch_row is not None
                    self.epoch = int(str(epoch_row[0]))
                    return self.epoch
                on_wait(self.holder())
            except psycopg.OperationalError:  # PostgreSQL restarting or unreachable: wait for it, as a standby
                self.release()
                on_wait(None)
            time.sleep(self.poll_seconds)

    def holder(self) -> int | None:
        """The PostgreSQL backend pid holding the lease, if any (for the standby's status)."""
        row = self._connection().execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s AND objid = %s",
            (self.shard, LOCK_KEY)).fetchone()
        return None if row is None else int(str(row[0]))

    def check(self) -> None:
        """LeaseLost unless this session still holds the lock."""
        if self._conn is None or self.epoch is None:
            raise LeaseLost("the lease was never acquired")
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s "
                "AND objid = %s AND pid = pg_backend_pid()", (self.shard, LOCK_KEY)).fetchone()
        except psycopg.Error as error:
            raise LeaseLost(f"the lease's PostgreSQL session is gone ({error}): another worker may be "
                            "active") from error
        if row is None or not row[0]:
            raise LeaseLost("the advisory lock is no longer held: another worker may be active")

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        return self._conn
