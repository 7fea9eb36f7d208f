"""The audit trail in PostgreSQL (schema `audit`, see audit_schema.sql).

Contract: `PostgresAuditLog(dsn).append` returns once the record is committed. Appends of one process that
arrive while a commit is in flight are written together in the next transaction (group commit: one lock,
one fsync). Every transaction takes one advisory lock before reading the chain's head, so any number of API
processes keep one chain. When PostgreSQL cannot be reached or does not answer within the timeout, `append`
raises AuditUnavailable (a message without addresses; the cause goes to the log) and the next append
reconnects; the first append that succeeds afterwards also records an "audit_outage" event saying how long
the store was away and how many requests were refused. `purge_expired` runs as the schema owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from api.access.audit_chain import (
    GENESIS,
    Anchor,
    AuditEvent,
    AuditQuery,
    AuditRecord,
    AuditUnavailable,
    ChainVerifier,
    PurgeResult,
    VerifyResult,
    link,
    normalise,
    purge_event,
    retention_cutoff,
    utc_text,
)
from infra.clock import Clock, SystemClock

log = logging.getLogger("luckygas.audit")

CHAIN_LOCK = 0x4C47_4155_4449_5400  # "LGAUDIT": serialises every append and purge across processes
SCHEMA_LOCK = 0x4C47_4155_4449_5401
COLUMNS = ("seq", "at", "kind", "principal", "route", "parameters", "branch_filter", "row_count", "byte_count",
           "content_sha256", "duration_ms", "status", "detail", "prev_hash", "hash")
SELECT_RECORDS = "SELECT " + ", ".join(COLUMNS) + " FROM audit.events"
INSERT_RECORD = ("INSERT INTO audit.events (" + ", ".join(COLUMNS) + ") VALUES ("
                 + ", ".join(["%s"] * len(COLUMNS)) + ")")
AConn = psycopg.AsyncConnection[TupleRow]


def _row(record: AuditRecord) -> tuple[Any, ...]:
    e = record.event
    return (record.seq, e.at, e.kind, e.principal, e.route, Jsonb(e.parameters), e.branch_filter, e.rows,
            e.bytes, e.content_sha256, e.duration_ms, e.status, e.detail, record.prev_hash, record.hash)


def _record(row: Sequence[Any]) -> AuditRecord:
    (seq, at, kind, principal, route, parameters, branch_filter, rows, size, content_sha256, duration_ms,
     status, detail, prev_hash, digest) = row
    event = AuditEvent(at=at.astimezone(UTC), kind=kind, principal=principal, route=route, parameters=parameters,
                       branch_filter=branch_filter, rows=rows, bytes=size, content_sha256=content_sha256,
                       duration_ms=duration_ms, status=status, detail=detail)
    return AuditRecord(seq, event, prev_hash, digest)


async def _connect(dsn: str, timeout: float) -> AConn:
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=max(1, int(timeout)),
                                                 application_name="luckygas-audit")
    await conn.execute(f"SET statement_timeout = {int(timeout * 1000)}")
    return conn


async def _head(conn: AConn) -> tuple[int, str]:
    """The chain's last (seq, hash), or where a purge left it; call holding CHAIN_LOCK."""
    cur = await conn.execute("SELECT seq, hash FROM audit.events ORDER BY seq DESC LIMIT 1")
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute("SELECT first_seq - 1, prev_hash FROM audit.anchors ORDER BY first_seq DESC LIMIT 1")
        row = await cur.fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


async def _append_locked(conn: AConn, events: Sequence[AuditEvent]) -> list[AuditRecord]:
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
    records = link(*await _head(conn), events)
    async with conn.cursor() as cur:
        await cur.executemany(INSERT_RECORD, [_row(r) for r in records])
    return records


def _ignore_outcome(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not warn; the failure was reported already


class PostgresAuditLog:
    """The audit log in PostgreSQL schema `audit` (create it first with `ensure_audit_schema`)."""

    def __init__(self, dsn: str, *, clock: Clock | None = None, timeout_seconds: float = 5.0) -> None:
        self._dsn = dsn
        self._clock = clock or SystemClock()
        self._timeout = timeout_seconds
        self._conn: AConn | None = None
        self._pending: list[tuple[AuditEvent, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._outage_since: datetime | None = None
        self._refused = 0

    async def open(self) -> None:
        """Connect now if possible; an unreachable store is not an error here (appends then refuse)."""
        try:
            await self._connection()
        except (psycopg.Error, OSError, TimeoutError) as error:
            log.warning("audit store not reachable at start: %s", error)

    async def close(self) -> None:
        """Wait for appends in flight, then disconnect."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._drop()

    async def _connection(self) -> AConn:
        if self._conn is None or self._conn.closed:
            self._conn = await asyncio.wait_for(_connect(self._dsn, self._timeout), self._timeout)
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                await asyncio.wait_for(conn.close(), 1.0)

    async def append(self, event: AuditEvent) -> None:
        stored = normalise(event)  # a bad event is a ValueError for the caller, not an outage
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((stored, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            reused = self._conn is not None
            error = await self._attempt([event for event, _ in batch])
            if reused and isinstance(error, psycopg.OperationalError):
                # A connection kept across a database restart fails at its first use: one retry on a new one,
                # so a restart does not refuse the request that happens to come first.
                error = await self._attempt([event for event, _ in batch])
            if error is not None:
                self._note_refused(len(batch), error)
            for _, future in batch:
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(AuditUnavailable("the audit store is unavailable"))

    async def _attempt(self, events: list[AuditEvent]) -> BaseException | None:
        """Write one batch within the timeout; the error when it did not commit (None: committed).
        A write that overruns is abandoned, not awaited: psycopg's cancellation of a query on a hung server
        can take seconds, and the request must not wait for it. Its transaction still holds the chain lock
        until the server ends it, so a later write cannot fork the chain."""
        task = asyncio.ensure_future(self._write(events))
        done, _ = await asyncio.wait({task}, timeout=self._timeout)
        if not done:
            task.cancel()
            task.add_done_callback(_ignore_outcome)
            self._conn = None  # the abandoned task closes it
            return TimeoutError(f"no answer within {self._timeout} s")
        error = task.exception()
        if error is not None:
            if not isinstance(error, psycopg.Error | OSError | TimeoutError):
                log.error("unexpected failure writing audit records", exc_info=error)
            await self._drop()
        return error

    def _note_refused(self, count: int, error: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = self._clock.now()
            log.error("audit store unavailable, refusing requests: %s", str(error) or type(error).__name__)
        self._refused += count

    def _outage_event(self) -> AuditEvent | None:
        if self._outage_since is None:
            return None
        now = self._clock.now()
        return AuditEvent(at=now, kind="audit_outage", parameters={
            "since": utc_text(self._outage_since), "until": utc_text(now), "refused": self._refused},
            detail=f"the audit store was unavailable; {self._refused} records refused, their requests not served")

    async def _write(self, events: list[AuditEvent]) -> None:
        outage = self._outage_event()
        conn = await self._connection()
        # Pipelined: BEGIN, lock and head go in one round trip, the inserts and COMMIT in a second.
        async with conn.pipeline(), conn.transaction():
            await _append_locked(conn, [outage, *events] if outage else events)
        if outage is not None:
            log.warning("audit store back; %s", outage.detail)
            self._outage_since, self._refused = None, 0

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        """Records matching an `AuditQuery`, newest first (at, then seq)."""
        where, params = _where(query)
        statement = sql.SQL(SELECT_RECORDS + " WHERE {} ORDER BY at DESC, seq DESC LIMIT %s").format(where)
        try:
            conn = await asyncio.wait_for(_connect(self._dsn, self._timeout), self._timeout)
            async with conn:
                cur = await conn.execute(statement, [*params, query.limit])
                return [_record(row) for row in await cur.fetchall()]
        except (psycopg.Error, OSError, TimeoutError) as error:
            log.error("audit query failed: %s", error)
            raise AuditUnavailable("the audit store is unavailable") from None

    async def verify(self) -> VerifyResult:
        """Check the whole chain in one snapshot (records streamed in seq order)."""
        try:
            return await verify_store(self._dsn, self._timeout)
        except (psycopg.Error, OSError, TimeoutError) as error:
            log.error("audit verification could not read the store: %s", error)
            raise AuditUnavailable("the audit store is unavailable") from None


def _where(query: AuditQuery) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []

    def add(text: LiteralString, *values: Any) -> None:
        clauses.append(sql.SQL(text))
        params.extend(values)

    if query.principal is not None:
        add("principal = %s", query.principal)
    if query.since is not None:
        add("at >= %s", query.since)
    if query.until is not None:
        add("at < %s", query.until)
    if query.kinds:
        add("kind = ANY(%s)", sorted(query.kinds))
    if query.route is not None:
        if query.route.endswith("*"):
            prefix = query.route[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            add("route LIKE %s", prefix + "%")
        else:
            add("route = %s", query.route)
    if query.before is not None:
        add("(at, seq) < (%s, %s)", *query.before)
    return sql.SQL(" AND ").join(clauses), params


async def verify_store(dsn: str, timeout: float = 30.0) -> VerifyResult:
    """Verify the chain stored at `dsn` (anchors and records read in one REPEATABLE READ snapshot)."""
    conn = await psycopg.AsyncConnection.connect(dsn, connect_timeout=max(1, int(timeout)))
    async with conn:
        await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
        async with conn.transaction():
            cur = await conn.execute("SELECT first_seq, prev_hash, purged_from_seq, cutoff FROM audit.anchors")
            anchors = {int(r[0]): Anchor(int(r[0]), r[1], int(r[2]), r[3].astimezone(UTC))
                       for r in await cur.fetchall()}
            verifier = ChainVerifier(anchors)
            async with conn.cursor(name="audit_verify") as records:
                await records.execute(SELECT_RECORDS + " ORDER BY seq")
                async for row in records:
                    if not verifier.feed(_record(row)):
                        break
    return verifier.result()


async def ensure_audit_schema(owner_dsn: str, *, retention_years: int = 7, writer_role: str | None = None) -> None:
    """Create schema `audit` (idempotent, safe from several processes at once), set the retention, and grant
    `writer_role` (an existing role) only USAGE, SELECT and INSERT on the records, SELECT on the anchors."""
    ddl = files("api.access").joinpath("audit_schema.sql").read_text(encoding="utf-8")
    conn = await psycopg.AsyncConnection.connect(owner_dsn)
    async with conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        await conn.execute(ddl.encode())  # trusted DDL shipped with the code
        await conn.execute(
            "INSERT INTO audit.retention (singleton, keep) VALUES (true, make_interval(years => %s)) "
            "ON CONFLICT (singleton) DO UPDATE SET keep = EXCLUDED.keep", (retention_years,))
        if writer_role is not None:
            role = sql.Identifier(writer_role)
            await conn.execute(sql.SQL("GRANT USAGE ON SCHEMA audit TO {}").format(role))
            await conn.execute(sql.SQL("GRANT SELECT, INSERT ON audit.events TO {}").format(role))
            await conn.execute(sql.SQL("GRANT SELECT ON audit.anchors, audit.retention TO {}").format(role))


async def purge_expired(owner_dsn: str, retention_years: int, now: datetime) -> PurgeResult:
    """Remove the oldest records while they are older than `retention_years` before `now`, leave an anchor
    and append a "purge" record that confirms it, all in one transaction under the chain lock. Runs as the
    schema owner (the API's role cannot delete)."""
    cutoff = retention_cutoff(now, retention_years)
    conn = await psycopg.AsyncConnection.connect(owner_dsn)
    async with conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
        cur = await conn.execute(
            "SELECT min(seq), (SELECT min(seq) FROM audit.events WHERE at >= %s), max(seq) FROM audit.events",
            (cutoff,))
        first, first_kept, last = (await cur.fetchone()) or (None, None, None)
        if first is None or first_kept == first:
            return PurgeResult(0, cutoff, None)
        keep_from = int(first_kept if first_kept is not None else last + 1)
        cur = await conn.execute("SELECT hash FROM audit.events WHERE seq = %s", (keep_from - 1,))
        last_removed = (await cur.fetchone() or ("",))[0]
        await conn.execute("SELECT set_config('audit.purge_before', %s, true)", (utc_text(cutoff),))
        removed = (await conn.execute("DELETE FROM audit.events WHERE seq < %s", (keep_from,))).rowcount
        anchor = Anchor(keep_from, last_removed, int(first), cutoff)
        await conn.execute("INSERT INTO audit.anchors (first_seq, prev_hash, purged_from_seq, cutoff) "
                           "VALUES (%s, %s, %s, %s)", (anchor.first_seq, anchor.prev_hash, first, cutoff))
        await _append_locked(conn, [purge_event(now, anchor, removed)])
    return PurgeResult(removed, cutoff, anchor)


async def open_postgres_audit(owner_dsn: str, *, writer_dsn: str | None = None, writer_role: str | None = None,
                              retention_years: int = 7, clock: Clock | None = None,
                              timeout_seconds: float = 5.0) -> PostgresAuditLog:
    """For the app's lifespan: create the schema if the store is reachable (an unreachable store is not fatal:
    requests are refused until it is back), then connect as `writer_dsn` (default: the owner)."""
    try:
        await asyncio.wait_for(ensure_audit_schema(owner_dsn, retention_years=retention_years,
                                                   writer_role=writer_role), timeout_seconds)
    except (psycopg.Error, OSError, TimeoutError) as error:
        log.error("audit schema not ensured (store unreachable?): %s", error)
    audit = PostgresAuditLog(writer_dsn or owner_dsn, clock=clock, timeout_seconds=timeout_seconds)
    await audit.open()
    return audit
