"""A test harness for the identity provider: in-memory credential store, fakeredis, a cheap argon2 profile, a
fixed clock, the API's real token verifier and principal dependency over a fake employee directory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import argon2
import fakeredis
import httpx
from fastapi import Depends, FastAPI
from limits.aio.storage import RedisStorage

from api.access.audit import MemoryAuditLog
from api.access.credentials import Account, ClientRecord, SecretHasher
from api.access.credentials_memory import MemoryCredentialStore
from api.access.identity import Identity
from api.access.issuer import KeyRing, TokenIssuer
from api.access.limits import Lockout, RateLimiter, principal_rate_limit
from api.access.policy import load_policy
from api.access.principal import EmployeeRecord, Principal, current_principal
from api.access.tokens import StaticKeys, TokenVerifier
from api.routes import keys, mfa, oauth
from infra.access_settings import AccessSettings, IdentitySettings
from infra.clock import FixedClock

CHEAP = SecretHasher(argon2.profiles.CHEAPEST)
PASSWORD = "correct horse battery"
CLIENT_SECRET = "service-secret-0123456789"
# employee_id -> (employee_no, branch, source role code)
EMPLOYEES = {1: ("E00001", "TPE", "manager"), 2: ("E00002", "TPE", "dispatcher"), 20: ("E00020", "NTP", "manager"),
             25: ("E00025", "NTP", "sales")}


@dataclass
class FakeDirectory:
    rows: dict[int, EmployeeRecord] = field(default_factory=dict)

    def lookup(self, employee_id: int) -> EmployeeRecord | None:
        return self.rows.get(employee_id)


def memory_storage(server: fakeredis.FakeServer, prefix: str = "rl") -> RedisStorage:
    client = fakeredis.FakeAsyncRedis(server=server)
    return RedisStorage("async+redis://127.0.0.1:6379", implementation="redispy",
                        connection_pool=client.connection_pool, key_prefix=prefix, wrap_exceptions=True)


@dataclass
class Harness:
    key_dir: Path
    settings: IdentitySettings
    clock: FixedClock = field(default_factory=FixedClock)
    store: MemoryCredentialStore = field(default_factory=MemoryCredentialStore)
    server: fakeredis.FakeServer = field(default_factory=fakeredis.FakeServer)
    audit: MemoryAuditLog = field(default_factory=MemoryAuditLog)
    directory: FakeDirectory = field(default_factory=FakeDirectory)

    def __post_init__(self) -> None:
        ring = KeyRing.load_or_create(self.key_dir, self.settings.published_keys)
        redis = fakeredis.FakeAsyncRedis(server=self.server)
        self.identity = Identity(self.settings, self.store, TokenIssuer(self.settings, ring, self.clock),
                                 RateLimiter(self.settings, memory_storage(self.server)), Lockout(self.settings, redis),
                                 CHEAP, self.clock)
        self.access = AccessSettings(issuer=self.settings.issuer, audience=self.settings.audience)
        self.verifier = TokenVerifier(self.access, StaticKeys(ring.jwks()), self.clock)
        for employee_id, (number, branch, code) in EMPLOYEES.items():
            self.store.add_account(Account(f"emp:{employee_id}", number, CHEAP.hash_now(PASSWORD),
                                           employee_id=employee_id))
            self.directory.rows[employee_id] = EmployeeRecord(employee_id, branch, code, "active")
        self.store.add_account(Account("user:analyst", "analyst", CHEAP.hash_now(PASSWORD), role="analyst"))
        self.store.add_client(ClientRecord("report-scheduler", CHEAP.hash_now(CLIENT_SECRET), "integration",
                                           frozenset({"read:kpis", "read:freshness"})))
        self.app = self.build_app()

    def build_app(self) -> FastAPI:
        app = FastAPI()
        app.state.identity, app.state.audit, app.state.clock = self.identity, self.audit, self.clock
        app.state.policy, app.state.token_verifier, app.state.employees = load_policy(), self.verifier, self.directory
        for router in (oauth.router, mfa.router, keys.router):
            app.include_router(router)

        @app.get("/whoami", dependencies=[Depends(principal_rate_limit(current_principal))])
        async def whoami(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
            return {"subject": principal.subject, "role": principal.role, "kind": principal.kind,
                    "branches": None if principal.branches is None else sorted(principal.branches),
                    "scopes": sorted(principal.scopes),
                    "mfa_at": principal.mfa_at.isoformat() if principal.mfa_at else None}

        return app

    def client(self, ip: str = "10.1.2.3") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://api.test")

    def kinds(self) -> list[str]:
        return [event.kind for event in self.audit.events]


@contextlib.asynccontextmanager
async def opened(harness: Harness) -> AsyncIterator[Harness]:
    """The harness with its identity provider open (API-key verifier bound), closed afterwards."""
    await harness.identity.open()
    try:
        yield harness
    finally:
        await harness.identity.close()


def settings(**overrides: Any) -> IdentitySettings:
    values: dict[str, Any] = {"api_key_cache_seconds": 0.0, "rate_limit_token_ip": "1000/minute",
                              "rate_limit_token_login": "1000/minute", "rate_limit_principal": "1000/minute"}
    return IdentitySettings(**{**values, **overrides})


async def sign_in(http: httpx.AsyncClient, username: str = "E00001", password: str = PASSWORD) -> httpx.Response:
    return await http.post("/oauth/token", data={"grant_type": "password", "username": username,
                                                 "password": password})
