"""The access benchmark's baseline: GET /kpis/today without access control, served like the product.

    python -m infra.bench.access_app      # settings from the LG_* environment; listens on api.port + 1

The route calls the product's own route function (`api.routes.kpis.today`, so the very same SQL, pooled
ClickHouse clients, response model and serialisation) with a fixed `RowScope`: every branch (a head-office
scope), or with `?branch=XXX` a branch manager's scope of that branch (the product's branch-filtered SQL).
No token, no principal lookup, no audit middleware, no rate limit. The same security-headers middleware as
`create_app` (not access control), and uvicorn with the same TLS files and options as `python -m api`, so the
difference to the real API is access control alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Request

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.app import _security_headers
from api.deps import ClickHouseDep, ClickHousePool, ClockDep, PolicyDep, SettingsDep
from api.routes import kpis
from infra.clickhouse.runner import get_client
from infra.clock import SystemClock
from infra.settings import StackSettings, get_settings

PORT_OFFSET = 1  # the baseline listens next to the API: api.port + 1


def fixed_principal(branch: str | None) -> Principal:
    """The caller the baseline pretends to have: head office (all branches) or one branch's manager."""
    if branch is None:
        return Principal("bench:all", "person", "head_office", None, frozenset(), None, None)
    return Principal(f"bench:{branch}", "person", "branch_manager", frozenset({branch}), frozenset(), None, None)


def fixed_scope(policy: PolicyDep, branch: str | None = None) -> RowScope:
    """Like `api.access.rows.get_row_scope` (a sync dependency too), without a principal to verify."""
    return RowScope(fixed_principal(branch), policy)


FixedScopeDep = Annotated[RowScope, Depends(fixed_scope)]


def create_bare_app(settings: StackSettings) -> FastAPI:
    """GET /kpis/today[?branch=XXX] with the product's route function and no access control."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ClickHousePool(lambda: get_client(settings))  # as create_app's lifespan
        app.state.clickhouse = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="bench: KPIs without access control", lifespan=lifespan)
    app.state.settings = settings
    app.state.clock = SystemClock()
    app.state.policy = load_policy(settings.access.policy_file)

    @app.get("/kpis/today", response_model=kpis.TodayKpis)
    def today(request: Request, clickhouse: ClickHouseDep, clock: ClockDep, scope: FixedScopeDep,
              settings: SettingsDep) -> kpis.TodayKpis:
        return kpis.today(request, clickhouse, clock, scope, settings)

    _security_headers(app)
    return app


def bare_port(settings: StackSettings) -> int:
    return settings.api.port + PORT_OFFSET


def main() -> None:
    settings = get_settings()
    tls: dict[str, Any] = {}
    if settings.api.tls:  # exactly as api/__main__.py
        files = settings.api_tls_files()
        tls = {"ssl_certfile": str(files.certificate), "ssl_keyfile": str(files.private_key)}
    uvicorn.run(create_bare_app(settings), host=settings.api.host, port=bare_port(settings), log_level="info",
                ws_ping_interval=30, **tls)


if __name__ == "__main__":
    main()
