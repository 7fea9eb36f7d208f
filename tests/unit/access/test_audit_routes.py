"""GET /audit and /audit/verify for the auditor: filters, keyset pages over our trail and the ClickHouse query
log merged by time, clear 4xx for bad input, 503 for a source that cannot be read, 403 for other roles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from api.access.audit import AuditEvent, AuditQuery, MemoryAuditLog
from api.access.audit_middleware import AuditMiddleware
from api.access.audit_querylog import QueryLogEntry, QueryLogUnavailable
from api.access.principal import Principal
from api.routes import audit as audit_routes
from infra.clock import FixedClock

T0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


def principal(role: str) -> Principal:
    return Principal(subject=f"user:{role}", kind="person", role=role, branches=None,
                     scopes=frozenset(), auth_time=T0, mfa_at=T0)


class FakeQueryLog:
    """Behaves like ClickHouseQueryLog.entries over a fixed list."""

    def __init__(self, entries: list[QueryLogEntry], available: bool = True) -> None:
        self.all, self.available = entries, available

    async def entries(self, query: AuditQuery, before: tuple[datetime, str] | None = None) -> list[QueryLogEntry]:
        if not self.available:
            raise QueryLogUnavailable("the ClickHouse server keeps no query log")
        found = [e for e in self.all if (before is None or (e.event.at, e.key) < before)
                 and (not query.kinds or e.event.kind in query.kinds)
                 and (query.principal is None or e.event.principal == query.principal)]
        return sorted(found, key=lambda e: (e.event.at, e.key), reverse=True)[:query.limit]


def trail_events() -> list[AuditEvent]:
    kinds = ["data_access", "data_access", "denied", "export", "sign_in", "data_access", "data_access"]
    return [AuditEvent(at=T0 + timedelta(seconds=i), kind=kind, principal=f"emp:{1000 + i % 2}",
                       route="GET /reports/sales" if i % 2 else "GET /kpis/today", rows=i, status=200)
            for i, kind in enumerate(kinds)]


def ch_entries() -> list[QueryLogEntry]:
    # Two at the same moment as trail records (ties across sources), one between them.
    moments = [T0 + timedelta(seconds=1), T0 + timedelta(seconds=3), T0 + timedelta(seconds=3, milliseconds=500)]
    return [QueryLogEntry(f"q{i}", AuditEvent(at=at, kind="data_access", principal="clickhouse:bi_tpe", rows=5))
            for i, at in enumerate(moments)]


@pytest.fixture
def audit() -> MemoryAuditLog:
    return MemoryAuditLog()


@pytest.fixture
def query_log() -> FakeQueryLog:
    return FakeQueryLog(ch_entries())


@pytest.fixture
def role() -> list[str]:
    return ["auditor"]


@pytest.fixture
def client(audit: MemoryAuditLog, query_log: FakeQueryLog, role: list[str]) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.audit = audit
    app.state.clock = FixedClock(T0 + timedelta(days=1))
    app.add_middleware(AuditMiddleware)
    app.include_router(audit_routes.router)

    def caller() -> Principal:
        if role[0] != "auditor":
            raise HTTPException(403, "your role does not read the audit family")
        return principal(role[0])

    app.dependency_overrides[audit_routes.auditor] = caller
    app.dependency_overrides[audit_routes.get_query_log] = lambda: query_log
    with TestClient(app) as c:
        yield c


async def fill(audit: MemoryAuditLog) -> None:
    for event in trail_events():
        await audit.append(event)


async def test_the_trail_newest_first_with_hashes(client: TestClient, audit: MemoryAuditLog) -> None:
    await fill(audit)
    body = client.get("/audit").json()
    assert [i["seq"] for i in body["items"]] == [7, 6, 5, 4, 3, 2, 1]
    assert body["sources"] == {"audit": "ok"} and body["next_cursor"] is None
    assert body["items"][0]["hash"] == audit.records[6].hash and body["items"][0]["source"] == "audit"
    reads = [e for e in audit.events if e.route == "GET /audit"]
    assert len(reads) == 1 and reads[0].rows == 7 and reads[0].principal is None  # the auditor's read, audited


async def test_filters(client: TestClient, audit: MemoryAuditLog) -> None:
    await fill(audit)

    def seqs(**params: Any) -> list[int]:
        response = client.get("/audit", params=params)
        assert response.status_code == 200, response.text
        return [i["seq"] for i in response.json()["items"]]

    assert seqs(principal="emp:1001") == [6, 4, 2]
    assert seqs(kind=["denied", "export"]) == [4, 3]
    assert seqs(route="GET /reports/*") == [6, 4, 2]
    assert seqs(route="GET /kpis/today", since=(T0 + timedelta(seconds=2)).isoformat(),
                until=(T0 + timedelta(seconds=6)).isoformat()) == [5, 3]


async def test_pages_cover_everything_once(client: TestClient, audit: MemoryAuditLog) -> None:
    await fill(audit)
    seen: list[int] = []
    cursor = None
    for _ in range(5):
        body = client.get("/audit", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [i["seq"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]


async def test_merged_listing_marks_sources_and_pages_through_ties(client: TestClient, audit: MemoryAuditLog) -> None:
    await fill(audit)
    ids: list[str] = []
    moments: list[datetime] = []
    cursor = None
    for _ in range(10):
        body = client.get("/audit", params={"source": "all", "limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        assert body["sources"] == {"audit": "ok", "clickhouse": "ok"}
        ids += [i["id"] for i in body["items"]]
        moments += [datetime.fromisoformat(i["at"]) for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(ids) == len(set(ids)) == 10
    assert {i for i in ids if i.startswith("clickhouse:")} == {"clickhouse:q0", "clickhouse:q1", "clickhouse:q2"}
    assert moments == sorted(moments, reverse=True)


async def test_clickhouse_alone_and_filtered_by_its_users(client: TestClient) -> None:
    body = client.get("/audit", params={"source": "clickhouse", "principal": "clickhouse:bi_tpe"}).json()
    assert [i["id"] for i in body["items"]] == ["clickhouse:q2", "clickhouse:q1", "clickhouse:q0"]
    assert all(i["seq"] is None and i["hash"] is None for i in body["items"])


async def test_a_source_that_cannot_be_read(client: TestClient, query_log: FakeQueryLog, audit: MemoryAuditLog) -> None:
    await fill(audit)
    query_log.available = False
    response = client.get("/audit", params={"source": "clickhouse"})
    assert response.status_code == 503 and "no query log" in response.json()["detail"]
    body = client.get("/audit", params={"source": "all"}).json()
    assert body["sources"]["clickhouse"].startswith("unavailable: ")
    assert len(body["items"]) == 8  # the 7 records and the refused read just before (status 503)
    audit.available = False
    assert client.get("/audit").status_code == 503


@pytest.mark.parametrize("params, status, words", [
    ({"cursor": "not-a-cursor"}, 400, "invalid cursor"),
    ({"since": "2026-01-15T00:00:00"}, 422, "timezone"),
    ({"since": "2026-01-16T00:00:00Z", "until": "2026-01-15T00:00:00Z"}, 422, "before until"),
    ({"kind": "peeked"}, 422, "unknown kind"),
    ({"limit": 0}, 422, ""),
    ({"source": "elsewhere"}, 422, ""),
])
def test_bad_input_is_a_clear_4xx(client: TestClient, params: dict[str, Any], status: int, words: str) -> None:
    response = client.get("/audit", params=params)
    assert response.status_code == status, response.text
    assert words in response.text


def test_other_roles_are_refused(client: TestClient, role: list[str], audit: MemoryAuditLog) -> None:
    role[0] = "sales"
    assert client.get("/audit").status_code == 403
    assert client.get("/audit/verify").status_code == 403
    assert [e.kind for e in audit.events] == ["denied", "denied"]


async def test_verify_names_the_broken_record(client: TestClient, audit: MemoryAuditLog) -> None:
    await fill(audit)
    assert client.get("/audit/verify").json()["ok"] is True
    audit.records[3] = replace(audit.records[3], event=replace(audit.records[3].event, rows=0))
    body = client.get("/audit/verify").json()
    assert (body["ok"], body["broken_seq"]) == (False, 4)
    assert "altered" in body["reason"]
