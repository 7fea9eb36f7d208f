"""The audit trail in a real PostgreSQL: append-only for the API's role, one chain across concurrent writers,
tampering named by the verifier, fail-closed during an outage with nothing lost afterwards, and purging.

Runs against the `stack` fixture's PostgreSQL (each test in a database of its own), or, with
LG_AUDIT_TEST_PG_STATE=<dir> and LG_AUDIT_TEST_PG_PORT=<port>, against a throwaway cluster started there
(then the outage test really stops and restarts the server).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI, Request
from psycopg import sql

from api.access.audit import AuditEvent, AuditQuery, MemoryAuditLog, PostgresAuditLog, ensure_audit_schema
from api.access.audit_middleware import AuditMiddleware, audit_rows
from api.access.audit_pg import purge_expired, verify_store
from api.access.audit_verify import main as verify_main
from infra.postgres.runner import start_postgres, stop_postgres
from infra.settings import PostgresSettings, StackSettings

pytestmark = pytest.mark.integration
WRITER, WRITER_PASSWORD = "luckygas_audit_writer", "audit-writer-test"
_databases = itertools.count(1)


@dataclass
class Server:
    settings: StackSettings
    own: bool

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
        pg = self.settings.postgres
        return psycopg.connect(host=str(self.settings.state_dir / "postgres" / "run"), port=pg.port,
                               user="postgres", dbname=dbname, autocommit=True)


@dataclass
class Database:
    server: Server
    name: str

    def dsn(self, user: str, password: str) -> str:
        pg = self.server.settings.postgres
        return f"host={pg.host} port={pg.port} dbname={self.name} user={user} password={password} connect_timeout=2"

    @property
    def owner(self) -> str:
        pg = self.server.settings.postgres
        return self.dsn(pg.user, pg.password.get_secret_value())

    @property
    def writer(self) -> str:
        return self.dsn(WRITER, WRITER_PASSWORD)


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    state, port = os.environ.get("LG_AUDIT_TEST_PG_STATE"), os.environ.get("LG_AUDIT_TEST_PG_PORT")
    if state and port:
        settings = StackSettings(state_dir=Path(state), postgres=PostgresSettings(port=int(port)))
        start_postgres(settings)
        target = Server(settings, own=True)
    else:
        target = Server(request.getfixturevalue("stack"), own=False)
    with target.superuser() as conn:
        verb = "ALTER" if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (WRITER,)).fetchone() else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD {}").format(
            sql.Identifier(WRITER), sql.Literal(WRITER_PASSWORD)))
    yield target
    if target.own:
        stop_postgres(target.settings)


@pytest.fixture
async def db(server: Server) -> AsyncIterator[Database]:
    name = f"audit_test_{os.getpid()}_{next(_databases)}"
    with server.superuser() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(server.settings.postgres.user)))
    database = Database(server, name)
    await ensure_audit_schema(database.owner, writer_role=WRITER)
    yield database
    start_postgres(server.settings) if server.own else None
    with server.superuser() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def event(i: int, at: datetime | None = None, **changes: Any) -> AuditEvent:
    fields: dict[str, Any] = {"at": at or datetime.now(UTC), "kind": "data_access", "principal": f"emp:{1000 + i % 3}",
                              "route": "GET /reports/{family}" if i % 2 else "GET /kpis/today",
                              "parameters": {"i": i}, "rows": i, "bytes": 10 * i, "status": 200, **changes}
    return AuditEvent(**fields)


def count(database: Database) -> int:
    with psycopg.connect(database.owner) as conn:
        return int(conn.execute("SELECT count(*) FROM audit.events").fetchone()[0])  # type: ignore[index]


async def test_n_appends_n_records_and_the_chain_verifies(db: Database) -> None:
    log = PostgresAuditLog(db.writer)
    for i in range(50):
        await log.append(event(i))
    await log.close()
    assert count(db) == 50
    result = await verify_store(db.owner)
    assert (result.ok, result.checked, result.head_seq) == (True, 50, 50)


async def test_the_apis_role_may_only_insert_and_select(db: Database) -> None:
    log = PostgresAuditLog(db.writer)
    await log.append(event(1))
    await log.close()
    with psycopg.connect(db.writer, autocommit=True) as conn:
        for statement in ("UPDATE audit.events SET row_count = 0", "DELETE FROM audit.events",
                          "TRUNCATE audit.events", "INSERT INTO audit.anchors VALUES (9, 'x', 1, now())"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with psycopg.connect(db.owner, autocommit=True) as conn:  # even the owner: the trigger refuses
        for statement in ("UPDATE audit.events SET row_count = 0", "DELETE FROM audit.events", "TRUNCATE audit.events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        conn.execute("SELECT set_config('audit.purge_before', %s, false)", (datetime.now(UTC).isoformat(),))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM audit.events")  # younger than the retention: refused even in a "purge"
    assert count(db) == 1


async def test_tampering_as_superuser_is_named_by_the_verifier(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    log = PostgresAuditLog(db.writer)
    for i in range(30):
        await log.append(event(i))
    await log.close()
    with db.server.superuser(db.name) as conn:
        conn.execute("SET session_replication_role = replica")  # bypasses the trigger
        conn.execute("UPDATE audit.events SET row_count = 999 WHERE seq = 17")
    result = await verify_store(db.owner)
    assert (result.ok, result.broken_seq) == (False, 17)
    assert await asyncio.to_thread(verify_main, ["--dsn", db.owner]) == 1
    assert "BROKEN at seq=17" in capsys.readouterr().out
    with db.server.superuser(db.name) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE audit.events SET row_count = 16 WHERE seq = 17")
        conn.execute("DELETE FROM audit.events WHERE seq = 29")
    assert (await verify_store(db.owner)).broken_seq == 30
    assert await asyncio.to_thread(verify_main, ["--dsn", db.owner, "--expect", "3:" + "0" * 64]) == 1


async def test_four_concurrent_writers_keep_one_chain(db: Database) -> None:
    logs = [PostgresAuditLog(db.writer) for _ in range(4)]
    await asyncio.gather(*(log.append(event(w * 1000 + i)) for i in range(100) for w, log in enumerate(logs)))
    for log in logs:
        await log.close()
    result = await verify_store(db.owner)
    assert (result.ok, result.checked) == (True, 400)


async def test_odd_parameters_survive_the_round_trip(db: Database) -> None:
    log = PostgresAuditLog(db.writer)
    await log.append(event(1, parameters={"客戶": "王小明", "f": 0.1, "big": 2**70, "neg": -0.0, "e": 1e-9,
                                          "nested": {"b": [1, 2.5, None, True]}, "nul": "a\x00b"},
                           detail="台北市大安區", duration_ms=1.23456789))
    await log.close()
    assert (await verify_store(db.owner)).ok


async def test_queries_match_the_in_memory_log(db: Database) -> None:
    base = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    pg, memory = PostgresAuditLog(db.writer), MemoryAuditLog()
    for i in range(20):
        e = event(i, at=base + timedelta(seconds=i // 2), kind="denied" if i % 5 == 0 else "data_access")
        await pg.append(e)
        await memory.append(e)
    queries = [AuditQuery(limit=7), AuditQuery(principal="emp:1001"), AuditQuery(kinds=frozenset({"denied"})),
               AuditQuery(route="GET /reports/*"), AuditQuery(route="GET /kpis/today"),
               AuditQuery(since=base + timedelta(seconds=3), until=base + timedelta(seconds=7)),
               AuditQuery(before=(base + timedelta(seconds=5), 12), limit=4)]
    for query in queries:
        assert [r.seq for r in await pg.query(query)] == [r.seq for r in await memory.query(query)], query
    assert [r.hash for r in await pg.query(AuditQuery())] == [r.hash for r in await memory.query(AuditQuery())]
    await pg.close()


def data_app(log: PostgresAuditLog) -> FastAPI:
    app = FastAPI()
    app.state.audit = log
    app.add_middleware(AuditMiddleware)

    @app.get("/reports/sales")
    def sales(request: Request) -> list[dict[str, str]]:
        audit_rows(request, 1)
        return [{"branch": "TPE", "net": "100.00"}]

    return app


async def test_store_down_serves_503_and_nothing_is_lost(db: Database) -> None:
    log = PostgresAuditLog(db.writer, timeout_seconds=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=data_app(log)), base_url="http://api") as client:
        for _ in range(10):
            assert (await client.get("/reports/sales")).status_code == 200
        before = await verify_store(db.owner)
        with psycopg.connect(db.owner) as conn:
            kept = conn.execute("SELECT seq, hash FROM audit.events ORDER BY seq").fetchall()
        await outage(db, down=True)
        for _ in range(3):
            response = await client.get("/reports/sales")
            assert response.status_code == 503
            assert b"TPE" not in response.content and b"127.0.0.1" not in response.content
            assert str(db.server.settings.postgres.port).encode() not in response.content
        await outage(db, down=False)
        for _ in range(5):
            assert (await client.get("/reports/sales")).status_code == 200
    await log.close()
    with psycopg.connect(db.owner) as conn:
        rows = conn.execute("SELECT seq, hash, kind, parameters FROM audit.events ORDER BY seq").fetchall()
    assert [(s, h) for s, h, _, _ in rows[:10]] == kept and before.head_seq == 10
    assert [s for s, *_ in rows] == list(range(1, 17))
    assert rows[10][2] == "audit_outage" and rows[10][3]["refused"] == 3
    assert [k for _, _, k, _ in rows[11:]] == ["data_access"] * 5
    assert (await verify_store(db.owner)).ok


async def outage(db: Database, down: bool) -> None:
    """Stop (own server) or lock out (shared stack) the store, or bring it back."""
    if db.server.own:
        (stop_postgres if down else start_postgres)(db.server.settings)
        return
    with db.server.superuser() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} " + ("NOLOGIN" if down else "LOGIN")).format(sql.Identifier(WRITER)))
        if down:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (WRITER,))


async def test_purge_removes_only_expired_records_and_re_anchors(db: Database) -> None:
    now = datetime.now(UTC)
    log = PostgresAuditLog(db.writer)
    for i in range(5):
        await log.append(event(i, at=now - timedelta(days=365 * 8 + i)))
    for i in range(5, 8):
        await log.append(event(i, at=now - timedelta(days=10)))
    await log.close()
    purged = await purge_expired(db.owner, 7, now)
    assert purged.removed == 5 and purged.anchor is not None and purged.anchor.first_seq == 6
    result = await verify_store(db.owner)
    assert (result.ok, result.checked, result.head_seq) == (True, 4, 9)
    assert (await purge_expired(db.owner, 7, now)).removed == 0
    log = PostgresAuditLog(db.writer)
    await log.append(event(9))
    await log.close()
    assert (await verify_store(db.owner)).ok
    with psycopg.connect(db.owner) as conn:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM audit.events ORDER BY seq").fetchall()]
    assert kinds == ["data_access"] * 3 + ["purge", "data_access"]
