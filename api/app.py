"""The HTTP API: health, freshness, metrics, today's KPIs and SMS receipts (OpenAPI at /docs and /openapi.json).

Contract: `create_app(settings, clock)` builds the app without touching the network (the role model is read
from its file; keys, ClickHouse and Redis are reached only when a request needs them). Its lifespan makes the
one ClickHouse pool and the employee directory, and at shutdown closes them and the SMS receipt store.

Every route needs a principal (`api.access.principal`), `GET /health/live` included, except the OpenAPI
document and its viewers, and `POST /sms/receipts` (the gateway signs each receipt; checked by the route). Request
validation errors are 422 with field messages, missing or bad credentials 401, a caller without the right
403, an unreachable dependency 503 with a message naming no address, and anything unexpected is logged and
answered as a 500 with a generic message (never a traceback or exception text).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from clickhouse_connect.driver.exceptions import OperationalError
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from api.access.audit import AuditLog, open_postgres_audit
from api.access.audit_middleware import AuditMiddleware
from api.access.identity import Identity
from api.access.limits import principal_rate_limit
from api.access.policy import AccessPolicy, load_policy
from api.access.principal import ClickHouseEmployeeDirectory, current_principal, require_family
from api.access.tokens import KeySource, TokenVerifier, key_source
from api.deps import CLICKHOUSE_UNREACHABLE, ClickHousePool
from api.reports.catalog import catalog
from api.reports.catalog import check as check_catalog
from api.routes import audit as audit_routes
from api.routes import freshness, health, kpis, metrics, mfa, oauth, reports, sms_receipts
from api.routes import keys as keys_routes
from infra.clickhouse.runner import get_client
from infra.clock import Clock, SystemClock
from infra.settings import StackSettings

log = logging.getLogger("luckygas.api")

DESCRIPTION = """Live operations figures streamed from the business modules into ClickHouse.

**Access.** Send `Authorization: Bearer <access token>` (a JWT from our token endpoint or the company IdP) or,
for external systems, `X-API-Key`. What a caller sees follows its role (roles.yaml): report families, its
branches, masked personal data. 401: no or bad credentials; 403: not for this role.

**Versioning.** Paths are unversioned and change additively only: new routes, new optional query parameters,
new response fields (clients ignore fields they do not know). A change that would break a client gets new
paths under a `/v2` prefix, served beside the old ones until every client has moved. `info.version` follows
semantic versioning: minor for additions, major for a new prefix.
"""


@dataclass
class Stores:
    """The audit log and the identity provider an app uses instead of opening the stack's own (tests: a
    `MemoryAuditLog` and no identity provider, whose routes then answer 503)."""

    audit: AuditLog
    identity: Identity | None = None


def create_app(settings: StackSettings, clock: Clock | None = None, *, keys: KeySource | None = None,
               policy: AccessPolicy | None = None, stores: Stores | None = None) -> FastAPI:
    """The API for `settings`; `keys` (default: the configured JWKS file or URL), `policy` (default: the
    configured roles.yaml) and `stores` (default: the audit trail and identity provider in PostgreSQL and
    Redis, opened by the lifespan) can be passed in by tests or by a token issuer in the same process."""
    app_clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ClickHousePool(lambda: get_client(settings))
        app.state.clickhouse = pool
        app.state.employees = ClickHouseEmployeeDirectory(pool, settings.access.principal_cache_seconds)
        if stores is None:
            await _open_stores(app, settings, app_clock)
        try:
            yield
        finally:
            pool.close()
            await sms_receipts.close_defaults()
            if stores is None:
                await _close_stores(app)

    app = FastAPI(title="Lucky Gas analytics API", version="0.2.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.clock = app_clock
    app.state.policy = policy or load_policy(settings.access.policy_file)
    problems = check_catalog(catalog().values(), app.state.policy)
    if problems:
        raise ValueError("report catalog: " + "; ".join(problems))
    app.state.token_verifier = TokenVerifier(settings.access, keys or key_source(settings), app_clock)
    app.state.readiness = health.ReadinessProbe(settings)
    app.state.audit_settings = settings.audit
    if stores is not None:
        app.state.audit, app.state.identity = stores.audit, stores.identity
    app.add_middleware(AuditMiddleware, settings=settings.audit)
    for public in (oauth.router, mfa.router):  # they check their own credentials and audit themselves
        app.include_router(public)
    limited = [Depends(principal_rate_limit(current_principal))]
    for router in (health.router, freshness.router, metrics.router, kpis.router, reports.reports_router(),
                   keys_routes.router, audit_routes.router):
        app.include_router(router, dependencies=limited)
    _mount_sms(app)
    _handle_errors(app)
    _security_headers(app)
    return app


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # answers carry personal data and money: no shared or browser cache keeps them
}


def _security_headers(app: FastAPI) -> None:
    """The usual security headers on every answer; HSTS when the request came over TLS."""

    @app.middleware("http")
    async def add_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


async def _open_stores(app: FastAPI, settings: StackSettings, clock: Clock) -> None:
    """The audit trail (an unreachable store is not fatal: audited requests get 503 until it is back) and the
    identity provider (keys on disk, credentials in PostgreSQL, limits in Redis)."""
    audit = settings.audit
    app.state.audit = await open_postgres_audit(settings.postgres.dsn(), clock=clock,
                                                retention_years=audit.retention_years, writer_role=audit.writer_role,
                                                timeout_seconds=audit.timeout_seconds)
    identity = Identity.build(settings.identity, settings.postgres.dsn(), settings.identity.keys_in(settings.state_dir),
                              jwks_file=settings.access.key_file(settings.state_dir), clock=clock)
    await identity.open()
    app.state.identity = identity


async def _close_stores(app: FastAPI) -> None:
    identity: Identity | None = getattr(app.state, "identity", None)
    if identity is not None:
        await identity.close()
    audit = getattr(app.state, "audit", None)
    if audit is not None and hasattr(audit, "close"):
        await audit.close()


def _mount_sms(app: FastAPI) -> None:
    """POST /sms/receipts stays public (signed by the gateway); the other SMS routes need `dispatch`."""
    public, protected = APIRouter(), APIRouter()
    for route in sms_receipts.router.routes:
        is_receipt = isinstance(route, APIRoute) and route.path == "/sms/receipts" and route.methods == {"POST"}
        (public if is_receipt else protected).routes.append(route)
    app.include_router(public)
    app.include_router(protected, dependencies=[Depends(require_family("dispatch")),
                                                Depends(principal_rate_limit(current_principal))])
    for dependency in (sms_receipts.get_receipt_store, sms_receipts.get_signature_verifier):
        app.dependency_overrides.setdefault(dependency, _sms_configured(dependency))


def _sms_configured(dependency: Callable[[], Any]) -> Callable[[], Any]:
    """`dependency`, but SMS settings missing from the environment are a 503, not a 500."""

    def configured() -> Any:
        try:
            return dependency()
        except ValidationError:
            log.error("SMS receipts are not configured (LG_SMS_* settings missing or invalid)")
            raise HTTPException(503, "SMS receipts are not configured on this server") from None

    configured.__name__ = dependency.__name__
    return configured


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(OperationalError)
    async def clickhouse_down(request: Request, error: OperationalError) -> JSONResponse:
        log.warning("ClickHouse failed on %s %s: %s", request.method, request.url.path, error)
        return JSONResponse({"detail": CLICKHOUSE_UNREACHABLE}, status_code=503)

    @app.exception_handler(psycopg.OperationalError)
    async def database_down(request: Request, error: psycopg.OperationalError) -> JSONResponse:
        log.warning("PostgreSQL failed on %s %s: %s", request.method, request.url.path, error)
        return JSONResponse({"detail": "the credential store is unreachable; try again shortly"}, status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the API log"}, status_code=500)
