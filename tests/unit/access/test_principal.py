"""The current principal: employees resolved live (role, branch, status), claim-based subjects, API keys,
family and MFA requirements, audited refusals, and the employee cache."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from api.access import credentials
from api.access.policy import load_policy
from api.access.principal import (
    EMPLOYEE_QUERY,
    ClickHouseEmployeeDirectory,
    CurrentPrincipal,
    EmployeeRecord,
    Principal,
    require_family,
    require_recent_mfa,
)
from api.access.rows import RowScopeDep
from api.access.tokens import KeysUnavailable, StaticKeys, TokenVerifier
from api.deps import ClickHousePool
from infra.access_settings import AccessSettings
from infra.clock import FixedClock
from tests.unit.access.access_testing import (
    AUDIENCE,
    EMPLOYEES,
    ISSUER,
    AccessHarness,
    FakeClickHouse,
    FakeDirectory,
    SigningKey,
    claims,
)


@dataclass
class RecordingAudit:
    events: list[Any] = field(default_factory=list)
    fail: bool = False

    async def append(self, event: Any) -> None:
        if self.fail:
            raise RuntimeError("audit store down")
        self.events.append(event)


@dataclass
class World:
    clock: FixedClock = field(default_factory=FixedClock)
    key: SigningKey = field(default_factory=SigningKey)
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    audit: RecordingAudit = field(default_factory=RecordingAudit)

    def __post_init__(self) -> None:
        for eid, (branch, code, status) in EMPLOYEES.items():
            self.directory.rows[eid] = EmployeeRecord(eid, branch, code, status)
        app = FastAPI()
        settings = AccessSettings(issuer=ISSUER, audience=AUDIENCE)
        app.state.policy, app.state.clock, app.state.audit = load_policy(), self.clock, self.audit
        app.state.token_verifier = TokenVerifier(settings, StaticKeys(self.key.jwks()), self.clock)
        app.state.employees = self.directory

        @app.get("/me")
        def me(principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
            assert request.state.principal is principal
            return {"subject": principal.subject, "kind": principal.kind, "role": principal.role,
                    "branches": None if principal.branches is None else sorted(principal.branches),
                    "scopes": sorted(principal.scopes), "employee_id": principal.employee_id,
                    "mfa": principal.mfa_at is not None}

        @app.get("/ledger")
        def ledger(principal: Annotated[Principal, Depends(require_family("ledger"))]) -> str:
            return principal.subject

        @app.get("/kpis")
        def kpis(principal: Annotated[Principal, Depends(require_family("kpis"))]) -> str:
            return principal.subject

        @app.get("/bank-statement")
        def sensitive(principal: Annotated[Principal, Depends(require_recent_mfa(timedelta(minutes=15)))]) -> str:
            return principal.subject

        @app.get("/scope/{table}")
        def scope(table: str, rows: RowScopeDep) -> list[Any]:
            return list(rows.where(table))

        self.client = TestClient(app, raise_server_exceptions=False)

    def get(self, path: str, sub: str | None = None, headers: dict[str, str] | None = None, **extra: Any) -> Any:
        sent = dict(headers or {})
        if sub is not None:
            sent["Authorization"] = "Bearer " + self.key.sign(claims(self.clock, sub, **extra))
        return self.client.get(path, headers=sent)


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    with w.client:
        yield w


@pytest.mark.parametrize(("eid", "role", "branches"), [
    (1, "head_office", None), (7, "head_office", None), (2, "branch_manager", ["TXG"]), (3, "dispatcher", ["TXG"]),
    (4, "sales", ["TXG"]),
])
def test_employees_get_the_role_and_branch_of_their_current_row(world: World, eid: int, role: str,
                                                                branches: list[str] | None) -> None:
    body = world.get("/me", f"emp:{eid}").json()
    assert body == {"subject": f"emp:{eid}", "kind": "person", "role": role, "branches": branches, "scopes": [],
                    "employee_id": eid, "mfa": False}


def test_an_employees_token_cannot_claim_a_role(world: World) -> None:
    body = world.get("/me", "emp:3", role="head_office", branches=["*"]).json()
    assert body["role"] == "dispatcher" and body["branches"] == ["TXG"]


@pytest.mark.parametrize(("sub", "status", "reason"), [
    ("emp:5", 403, "'driver' has no analytics access"), ("emp:8", 403, "'warehouse' has no analytics access"),
    ("emp:6", 401, "terminated"), ("emp:9", 401, "on_leave"), ("emp:99", 401, "unknown"),
    ("emp:abc", 401, "not recognised"), ("admin", 401, "not recognised"), ("emp:1;drop", 401, "not recognised"),
])
def test_employees_without_access_are_refused_and_audited(world: World, sub: str, status: int, reason: str) -> None:
    response = world.get("/me", sub)
    assert response.status_code == status and reason in response.json()["detail"]
    expected = "invalid_token" if status == 401 else "insufficient_scope"
    assert f'error="{expected}"' in response.headers["www-authenticate"]
    assert [(e.kind, e.status, e.route) for e in world.audit.events] == [("denied", status, "GET /me")]


def test_a_transfer_or_leaving_takes_effect_on_the_next_request(world: World) -> None:
    assert world.get("/me", "emp:2").json()["branches"] == ["TXG"]
    world.directory.rows[2] = EmployeeRecord(2, "KHH", "manager", "active")
    assert world.get("/me", "emp:2").json()["branches"] == ["KHH"]
    world.directory.rows[2] = EmployeeRecord(2, "TPE", "manager", "active")
    assert world.get("/me", "emp:2").json()["role"] == "head_office"
    world.directory.rows[2] = EmployeeRecord(2, "TPE", "manager", "terminated")
    assert world.get("/me", "emp:2").status_code == 401


def test_claim_based_subjects(world: World) -> None:
    analyst = world.get("/me", "user:analyst", role="analyst", branches=["*"]).json()
    assert analyst["role"] == "analyst" and analyst["branches"] is None and analyst["kind"] == "person"
    service = world.get("/me", "client:bi-refresh", role="integration", scope="read:kpis read:sales").json()
    assert service["kind"] == "service" and service["branches"] is None and service["scopes"] == ["read:kpis",
                                                                                                 "read:sales"]
    narrowed = world.get("/me", "client:partner", role="integration", branches=["KHH", "TXG"]).json()
    assert narrowed["branches"] == ["KHH", "TXG"]
    manager = world.get("/me", "user:demo-txg", role="branch_manager", branches=["TXG"]).json()
    assert manager["branches"] == ["TXG"]


@pytest.mark.parametrize(("extra", "status", "reason"), [
    ({}, 401, "names no role"), ({"role": "superuser"}, 403, "not in the access policy"),
    ({"role": "branch_manager"}, 401, "no branches"), ({"role": "branch_manager", "branches": ["*"]}, 401,
                                                          "no branches"),
    ({"role": "analyst", "branches": ["taipei"]}, 401, "malformed"), ({"role": "analyst", "branches": "TPE"}, 401,
                                                                       "malformed"),
    ({"role": "analyst", "scope": ["read:kpis"]}, 401, "malformed"), ({"role": "analyst", "auth_time": "today"},
                                                                      401, "not a number"),
])
def test_bad_claims_are_refused(world: World, extra: dict[str, Any], status: int, reason: str) -> None:
    response = world.get("/me", "user:someone", **extra)
    assert response.status_code == status and reason in response.json()["detail"], response.json()


def test_families_and_scopes(world: World) -> None:
    assert world.get("/ledger", "emp:1").status_code == 200
    refused = world.get("/ledger", "emp:2")
    assert refused.status_code == 403 and refused.json()["detail"] == "the role branch_manager may not read ledger"
    assert world.audit.events[-1].principal == "emp:2" and world.audit.events[-1].status == 403
    assert world.get("/kpis", "client:bi", role="integration", scope="read:kpis").status_code == 200
    assert world.get("/kpis", "client:bi", role="integration", scope="read:sales").status_code == 403
    assert world.get("/kpis", "emp:3").status_code == 200  # people need no scope


def test_recent_mfa_for_sensitive_reports(world: World) -> None:
    now = int(world.clock.now().timestamp())
    assert world.get("/bank-statement", "emp:1", amr=["pwd", "otp"]).status_code == 200
    assert world.get("/me", "emp:1", amr=["pwd", "otp"]).json()["mfa"] is True
    assert world.get("/bank-statement", "emp:1", mfa_at=now - 600).status_code == 200
    stale = world.get("/bank-statement", "emp:1", mfa_at=now - 1200)
    assert stale.status_code == 401
    challenge = stale.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge and 'max_age="900"' in challenge
    assert world.get("/bank-statement", "emp:1").status_code == 401  # never did MFA
    assert world.get("/bank-statement", "user:analyst", role="analyst", mfa_at=now).status_code == 403


def test_api_keys(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []

    async def principal_from_api_key(raw: str, client_ip: str) -> Principal | None:
        seen.append((raw, client_ip))
        if raw != "lgk_good":
            return None
        return Principal("key:lgk_good", "api_key", "integration", None, frozenset({"read:kpis"}), None, None)

    monkeypatch.setattr(credentials, "principal_from_api_key", principal_from_api_key)
    assert world.get("/kpis", headers={"X-API-Key": "lgk_good"}).status_code == 200
    assert world.get("/ledger", headers={"X-API-Key": "lgk_good"}).status_code == 403
    bad = world.get("/kpis", headers={"X-API-Key": "lgk_bad"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert world.get("/kpis", headers={"X-API-Key": "k" * 600}).status_code == 401
    assert seen == [("lgk_good", "testclient"), ("lgk_good", "testclient"), ("lgk_bad", "testclient")]
    both = world.get("/kpis", "emp:1", headers={"X-API-Key": "lgk_good"})
    assert both.status_code == 400


def test_no_credentials_is_a_plain_challenge(world: World) -> None:
    response = world.get("/me")
    assert response.status_code == 401 and response.headers["www-authenticate"] == 'Bearer realm="luckygas-api"'


def test_a_failing_audit_log_does_not_lift_the_refusal(world: World) -> None:
    world.audit.fail = True
    assert world.get("/ledger", "emp:2").status_code == 403


def test_row_scope_where(world: World) -> None:
    assert world.get("/scope/agg_fulfilment", "emp:1").json() == ["1", {}]
    assert world.get("/scope/agg_fulfilment", "emp:3").json() == ["`branch` IN {branches:Array(String)}",
                                                                  {"branches": ["TXG"]}]
    assert world.get("/scope/collections_by_day", "emp:3").status_code == 403
    assert world.get("/scope/collections_by_day", "emp:1").json() == ["1", {}]


def test_unreachable_keys_or_directory_is_503(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(kid: str) -> None:
        raise KeysUnavailable("no key set at /secret/path")

    def broken(employee_id: int) -> None:
        raise ConnectionError("ClickHouse at 10.0.0.5:8123 refused")

    monkeypatch.setattr(world.directory, "lookup", broken)
    response = world.get("/me", "emp:1")
    assert response.status_code == 503 and "10.0.0.5" not in response.text
    verifier = world.client.app.state.token_verifier  # type: ignore[attr-defined]
    monkeypatch.setattr(verifier.keys, "get", down)
    response = world.get("/me", "emp:1")
    assert response.status_code == 503 and "/secret" not in response.text


def test_branch_filter() -> None:
    everyone = Principal("emp:1", "person", "head_office", None, frozenset(), None, None, 1)
    two = Principal("emp:2", "person", "branch_manager", frozenset({"TXG", "CHW"}), frozenset(), None, None, 2)
    assert everyone.branch_filter("branch") == ("1", {})
    assert two.branch_filter("branch") == ("`branch` IN {branches:Array(String)}", {"branches": ["CHW", "TXG"]})
    with pytest.raises(ValueError, match="not a column name"):
        two.branch_filter("branch) OR (1")


class FakePool:
    def __init__(self, client: FakeClickHouse) -> None:
        self.client = client

    def acquire(self) -> FakeClickHouse:
        return self.client

    def release(self, client: FakeClickHouse) -> None:
        assert client is self.client


def test_the_directory_reads_clickhouse_and_caches_two_seconds() -> None:
    rows = {3: [(3, "TXG", "dispatcher", "active")]}
    fake = FakeClickHouse(answer=lambda sql: list(rows.get(3, [])))
    now = [100.0]
    directory = ClickHouseEmployeeDirectory(FakePool(fake), 2.0, lambda: now[0])  # type: ignore[arg-type]
    assert directory.lookup(3) == EmployeeRecord(3, "TXG", "dispatcher", "active")
    assert fake.queries == [(EMPLOYEE_QUERY, {"employee_id": 3})]
    rows[3] = [(3, "KHH", "dispatcher", "active")]
    now[0] += 1.9
    assert directory.lookup(3).branch_code == "TXG"  # type: ignore[union-attr]
    now[0] += 0.2
    assert directory.lookup(3).branch_code == "KHH"  # type: ignore[union-attr]
    rows.clear()
    now[0] += 2
    assert directory.lookup(3) is None and len(fake.queries) == 3
    assert "v_w110_employee_master" in EMPLOYEE_QUERY and "v_w110_employee_role" in EMPLOYEE_QUERY


def test_the_pool_lends_each_client_to_one_caller() -> None:
    made: list[FakeClickHouse] = []

    def factory() -> Any:
        made.append(FakeClickHouse())
        return made[-1]

    pool = ClickHousePool(factory, size=2, wait_seconds=0.05)
    a: Any = pool.acquire()
    b: Any = pool.acquire()
    assert a is not b
    with pytest.raises(Exception, match="busy"):
        pool.acquire()
    pool.release(a)
    assert pool.acquire() is a
    pool.release(a)
    pool.close()
    assert made[0].closed and not made[1].closed  # idle clients close at once, lent ones when they come back
    pool.release(b)
    assert made[1].closed and len(made) == 2
    with pytest.raises(Exception, match="closed"):
        pool.acquire()


def test_one_audit_record_per_refusal_with_the_audit_middleware(tmp_path: Path) -> None:
    h = AccessHarness(tmp_path, clickhouse=FakeClickHouse())  # the app has the audit middleware (create_app)
    log = h.audit
    with h.client() as client:
        assert client.get("/kpis/today").status_code == 401  # audited by the middleware
        assert client.get("/kpis/today", headers=h.bearer("emp:5")).status_code == 403  # a driver
        assert client.get("/metrics").status_code == 401  # a path the middleware leaves alone: recorded here
    denied = [(e.kind, e.status, e.principal, e.route, e.parameters.get("subject")) for e in log.events]
    assert denied == [("denied", 401, None, "GET /kpis/today", None),
                      ("denied", 403, None, "GET /kpis/today", "emp:5"),
                      ("denied", 401, None, "GET /metrics", None)]
    assert log.events[1].detail == "the employee role 'driver' has no analytics access"
