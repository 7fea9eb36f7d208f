"""The audit middleware on a small app with the in-memory log: one record per request with what was served,
data never sent unaudited (503 instead), denials and failures recorded, probes not audited."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from api.access.audit import MemoryAuditLog
from api.access.audit_middleware import AuditMiddleware, audit_detail, audit_rows
from infra.access_settings import AuditSettings
from infra.clock import FixedClock

ROWS = [{"branch": "TPE", "net": "100.00"}, {"branch": "TPE", "net": "250.00"}]


@dataclass(frozen=True)
class StubPrincipal:
    subject: str
    branches: frozenset[str] | None


def current(request: Request) -> StubPrincipal:
    auth = request.headers.get("authorization", "")
    if not auth:
        raise HTTPException(401, "sign in first", headers={"WWW-Authenticate": "Bearer"})
    principal = StubPrincipal(auth.removeprefix("Bearer "), frozenset({"TPE"}))
    request.state.principal = principal
    return principal


Caller = Annotated[StubPrincipal, Depends(current)]


def make_app(audit: MemoryAuditLog | None, max_held: int = 1 << 20) -> FastAPI:
    app = FastAPI()
    if audit is not None:
        app.state.audit = audit
    app.state.clock = FixedClock()
    app.add_middleware(AuditMiddleware, settings=AuditSettings(max_held_bytes=max_held))

    @app.get("/reports/{family}")
    def report(family: str, request: Request, caller: Caller, day: str = "today") -> list[dict[str, str]]:
        audit_rows(request, len(ROWS), branch_filter="branch IN (TPE)")
        return ROWS

    @app.get("/forbidden")
    def forbidden(request: Request, caller: Caller) -> None:
        audit_detail(request, "role sales does not read family ledger")
        raise HTTPException(403, "not for your role")

    @app.get("/boom")
    def boom(caller: Caller) -> None:
        raise RuntimeError("bug")

    @app.get("/stream")
    def stream(request: Request, caller: Caller) -> StreamingResponse:
        audit_rows(request, 3)
        return StreamingResponse(iter([b"a" * 1000, b"b" * 1000, b"c" * 1000]), media_type="text/plain")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
def audit() -> MemoryAuditLog:
    return MemoryAuditLog()


@pytest.fixture
def client(audit: MemoryAuditLog) -> Iterator[TestClient]:
    with TestClient(make_app(audit), raise_server_exceptions=False) as c:
        yield c


AUTH = {"Authorization": "Bearer emp:1001"}


def test_n_requests_make_n_records_that_say_what_was_served(client: TestClient, audit: MemoryAuditLog) -> None:
    bodies = [client.get("/reports/sales", params={"day": f"2026-01-{d:02d}"}, headers=AUTH).content
              for d in range(1, 11)]
    assert len(audit.records) == 10
    event = audit.events[0]
    assert (event.kind, event.principal, event.route, event.status) == (
        "data_access", "emp:1001", "GET /reports/{family}", 200)
    assert event.parameters == {"family": "sales", "day": "2026-01-01"}
    assert (event.rows, event.bytes, event.branch_filter) == (2, len(bodies[0]), "branch IN (TPE)")
    assert event.content_sha256 == hashlib.sha256(bodies[0]).hexdigest()
    assert event.duration_ms is not None and event.duration_ms >= 0
    assert event.at == FixedClock().now()


def test_secrets_in_the_query_are_redacted(client: TestClient, audit: MemoryAuditLog) -> None:
    client.get("/reports/sales", params={"token": "abc", "day": "x"}, headers=AUTH)
    assert audit.events[0].parameters == {"family": "sales", "token": "***", "day": "x"}


def test_denials_and_failures_are_recorded(client: TestClient, audit: MemoryAuditLog) -> None:
    assert client.get("/reports/sales").status_code == 401
    assert client.get("/forbidden", headers=AUTH).status_code == 403
    assert client.get("/boom", headers=AUTH).status_code == 500
    unauthenticated, forbidden, failed = audit.events
    assert (unauthenticated.kind, unauthenticated.principal, unauthenticated.status) == ("denied", None, 401)
    assert (forbidden.kind, forbidden.status, forbidden.detail) == (
        "denied", 403, "role sales does not read family ledger")
    assert (failed.kind, failed.status, failed.detail) == ("data_access", 500, "the route failed: RuntimeError")


def test_probes_are_not_audited(client: TestClient, audit: MemoryAuditLog) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert audit.records == []


def test_store_down_means_503_and_no_data(client: TestClient, audit: MemoryAuditLog) -> None:
    client.get("/reports/sales", headers=AUTH)
    audit.available = False
    for path in ("/reports/sales", "/stream"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "5"
        assert "not served" in response.json()["detail"]
        assert b"TPE" not in response.content and b"aaa" not in response.content and b"127.0.0.1" not in response.content
    audit.available = True
    assert client.get("/reports/sales", headers=AUTH).status_code == 200
    assert [r.seq for r in audit.records] == [1, 2]


@pytest.mark.asyncio
async def test_the_chain_survives_the_outage(client: TestClient, audit: MemoryAuditLog) -> None:
    client.get("/reports/sales", headers=AUTH)
    audit.available = False
    client.get("/reports/sales", headers=AUTH)
    audit.available = True
    client.get("/reports/sales", headers=AUTH)
    assert (await audit.verify()).ok


def test_a_large_streamed_response_is_recorded_before_it_streams(audit: MemoryAuditLog) -> None:
    with TestClient(make_app(audit, max_held=1500)) as client:
        response = client.get("/stream", headers=AUTH)
    assert response.status_code == 200 and len(response.content) == 3000
    (event,) = audit.events
    assert (event.rows, event.bytes, event.content_sha256) == (3, None, None)
    assert "streamed beyond 1500 bytes" in (event.detail or "")


def test_a_small_stream_is_held_and_hashed(client: TestClient, audit: MemoryAuditLog) -> None:
    response = client.get("/stream", headers=AUTH)
    assert audit.events[0].content_sha256 == hashlib.sha256(response.content).hexdigest()


def test_no_audit_log_configured_serves_nothing() -> None:
    with TestClient(make_app(None)) as client:
        response = client.get("/reports/sales", headers=AUTH)
    assert response.status_code == 503 and b"TPE" not in response.content


def test_store_down_refuses_a_large_stream_before_its_first_byte(audit: MemoryAuditLog) -> None:
    audit.available = False
    with TestClient(make_app(audit, max_held=1500)) as client:
        response = client.get("/stream", headers=AUTH)
    assert response.status_code == 503 and b"aaa" not in response.content
    assert audit.records == []
