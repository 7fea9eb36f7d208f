"""Whole API instances with the identity provider on PostgreSQL and Redis, served by uvicorn in threads."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import psycopg
import uvicorn
from fastapi import Depends, FastAPI

from api.access.audit import MemoryAuditLog
from api.access.identity import Identity
from api.access.limits import principal_rate_limit
from api.access.policy import load_policy
from api.access.principal import EmployeeRecord, Principal, current_principal
from api.access.tokens import StaticKeys, TokenVerifier
from api.routes import keys, mfa, oauth
from infra.access_settings import AccessSettings, IdentitySettings
from infra.clock import SystemClock
from infra.process import free_port
from tests.unit.access.identity_testing import CHEAP


@dataclass
class PgDirectory:
    """Employees as the principal dependency sees them, read from the database the simulator wrote."""

    dsn: str
    cache: dict[int, EmployeeRecord | None] = field(default_factory=dict)

    def lookup(self, employee_id: int) -> EmployeeRecord | None:
        if employee_id not in self.cache:
            with psycopg.connect(self.dsn) as conn:
                row = conn.execute("SELECT e.employee_id, e.branch_code, r.code, e.status FROM w110.employee_master e "
                                   "JOIN w110.employee_role r USING (role_id) WHERE e.employee_id = %s",
                                   (employee_id,)).fetchone()
            self.cache[employee_id] = EmployeeRecord(row[0], row[1], row[2], row[3]) if row else None
        return self.cache[employee_id]


def build_app(settings: IdentitySettings, dsn: str, schema: str, key_dir: Path) -> FastAPI:
    """One API instance: its own Identity (pool, Redis clients), verifier and audit log."""
    identity = Identity.build(settings, dsn, key_dir, schema=schema, hasher=CHEAP)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await identity.open()
        try:
            yield
        finally:
            await identity.close()

    app = FastAPI(lifespan=lifespan)
    clock = SystemClock()
    app.state.identity, app.state.audit, app.state.clock, app.state.policy = identity, MemoryAuditLog(), clock, \
        load_policy()
    app.state.token_verifier = TokenVerifier(AccessSettings(issuer=settings.issuer, audience=settings.audience),
                                             StaticKeys(identity.issuer.keys.jwks()), clock)
    app.state.employees = PgDirectory(dsn)
    for router in (oauth.router, mfa.router, keys.router):
        app.include_router(router)

    @app.get("/whoami", dependencies=[Depends(principal_rate_limit(current_principal))])
    async def whoami(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
        return {"subject": principal.subject, "role": principal.role}

    return app


def ports(count: int) -> list[int]:
    """Ports for the servers: `LG_TEST_IDENTITY_PORTS` (comma-separated) or free ones."""
    configured = [int(p) for p in os.environ.get("LG_TEST_IDENTITY_PORTS", "").split(",") if p.strip()]
    return configured[:count] if len(configured) >= count else [free_port() for _ in range(count)]


class Served:
    """`app` under uvicorn on 127.0.0.1:`port` in a thread (its own event loop), with its lifespan."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                     lifespan="on", access_log=False))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Served:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            raise RuntimeError(f"{self.url} did not stop")
