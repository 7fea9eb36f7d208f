"""Test doubles for the access layer: a signing key with its JWKS, token claims on a fixed clock, a fake
employee directory, a fake ClickHouse client that records its queries, and the real app wired to them."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.access.audit import MemoryAuditLog
from api.access.principal import EmployeeRecord, get_employee_directory
from api.access.tokens import StaticKeys
from api.app import Stores, create_app
from api.deps import ClickHousePool, clickhouse_pool, get_clickhouse
from infra.clock import FixedClock
from infra.settings import (
    AccessSettings,
    ApiSettings,
    ClickHouseSettings,
    ConnectSettings,
    KafkaSettings,
    StackSettings,
)

ISSUER = "urn:luckygas:auth:test"
AUDIENCE = "luckygas-api"
CLOSED = 1  # nothing listens on port 1


@dataclass
class SigningKey:
    """An ES256 key pair with a kid; `jwks()` publishes its public half."""

    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="ES256", headers={"kid": self.kid, "typ": "at+jwt",
                                                                            **(headers or {})})


def claims(clock: FixedClock, sub: str, lifetime: timedelta = timedelta(minutes=15), **extra: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now,
            "exp": now + int(lifetime.total_seconds()), "jti": uuid.uuid4().hex, "scope": "", "amr": ["pwd"],
            "auth_time": now, **extra}


def unsigned(claims_: dict[str, Any]) -> str:
    """A token with `alg: none` and no signature."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'at+jwt', 'kid': 'x'})}.{part(claims_)}."


@dataclass
class FakeDirectory:
    rows: dict[int, EmployeeRecord] = field(default_factory=dict)
    lookups: list[int] = field(default_factory=list)

    def lookup(self, employee_id: int) -> EmployeeRecord | None:
        self.lookups.append(employee_id)
        return self.rows.get(employee_id)


@dataclass
class FakeResult:
    result_rows: list[tuple[Any, ...]]


def zeros(sql: str) -> list[tuple[Any, ...]]:
    """One row of zeros, as wide as the query's select list; no rows for a report's query (its columns are
    typed: zeros would not fit) or for the freshness table."""
    if "freshness_now" in sql or ("(SELECT * FROM `" in sql and not sql.startswith("SELECT count()")):
        return []
    select = sql[sql.index("SELECT") + 6:sql.index(" FROM ")]
    depth, width = 0, 1
    for char in select:
        depth += {"(": 1, ")": -1}.get(char, 0)
        width += char == "," and depth == 0
    return [(0,) * width]


@dataclass
class FakeClickHouse:
    """Records (sql, parameters) of each query; answers with `answer(sql)` (default: one row of zeros)."""

    answer: Callable[[str], list[tuple[Any, ...]]] = zeros
    queries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    closed: bool = False

    def close(self) -> None:
        self.closed = True

    def query(self, sql: str, parameters: dict[str, Any] | None = None,
              settings: dict[str, Any] | None = None) -> FakeResult:
        self.queries.append((sql, dict(parameters or {})))
        return FakeResult(self.answer(sql))

    @contextmanager
    def query_rows_stream(self, sql: str, parameters: dict[str, Any] | None = None,
                          settings: dict[str, Any] | None = None) -> Iterator[Iterator[tuple[Any, ...]]]:
        self.queries.append((sql, dict(parameters or {})))
        yield iter(self.answer(sql))


# Employees of the tests: id -> (branch, source role code, status)
EMPLOYEES: dict[int, tuple[str, str, str]] = {
    1: ("TPE", "manager", "active"), 2: ("TXG", "manager", "active"), 3: ("TXG", "dispatcher", "active"),
    4: ("TXG", "sales", "active"), 5: ("TXG", "driver", "active"), 6: ("TXG", "manager", "terminated"),
    7: ("TPE", "accountant", "active"), 8: ("KHH", "warehouse", "active"), 9: ("TXG", "manager", "on_leave"),
}


def stack_settings(tmp_path: Path) -> StackSettings:
    return StackSettings(state_dir=tmp_path, kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{CLOSED}"),
                         connect=ConnectSettings(rest_url=f"http://127.0.0.1:{CLOSED}"),
                         clickhouse=ClickHouseSettings(http_port=CLOSED), api=ApiSettings(worker_stale_seconds=5),
                         access=AccessSettings(issuer=ISSUER, audience=AUDIENCE))


@dataclass
class AccessHarness:
    """The real app with a test key, a fixed clock, fake employees and (optionally) a fake ClickHouse."""

    tmp_path: Path
    clock: FixedClock = field(default_factory=FixedClock)
    key: SigningKey = field(default_factory=SigningKey)
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    clickhouse: FakeClickHouse | None = None

    def __post_init__(self) -> None:
        for eid, (branch, code, status) in EMPLOYEES.items():
            self.directory.rows[eid] = EmployeeRecord(eid, branch, code, status)
        self.settings = stack_settings(self.tmp_path)
        self.audit = MemoryAuditLog()
        self.app: FastAPI = create_app(self.settings, self.clock, keys=StaticKeys(self.key.jwks()),
                                       stores=Stores(self.audit))
        self.app.dependency_overrides[get_employee_directory] = lambda: self.directory
        if self.clickhouse is not None:
            fake = self.clickhouse
            self.app.dependency_overrides[get_clickhouse] = lambda: fake
            pool = ClickHousePool(lambda: fake)  # type: ignore[arg-type,return-value]
            self.app.dependency_overrides[clickhouse_pool] = lambda: pool

    def token(self, sub: str, **extra: Any) -> str:
        return self.key.sign(claims(self.clock, sub, **extra))

    def bearer(self, sub: str, **extra: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, **extra)}"}

    @contextmanager
    def client(self) -> Iterator[TestClient]:
        with TestClient(self.app, raise_server_exceptions=False) as client:
            yield client
