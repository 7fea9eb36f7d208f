"""The HTTP API: health, freshness, metrics and today's KPIs (OpenAPI at /docs and /openapi.json).

Contract: `create_app(settings, clock)` builds the app without touching the network; every route reads
ClickHouse or probes the stack only when called. Request validation errors are 422 with field messages,
an unreachable dependency is 503 with a message, and anything unexpected is logged and answered as a
500 with a generic message (never a traceback).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.routes import freshness, health, kpis, metrics
from infra.clock import Clock, SystemClock
from infra.settings import StackSettings

log = logging.getLogger("luckygas.api")


def create_app(settings: StackSettings, clock: Clock | None = None) -> FastAPI:
    app = FastAPI(title="Lucky Gas analytics API", version="0.1.0",
                  description="Live operations figures streamed from the business modules into ClickHouse.")
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    for router in (health.router, freshness.router, metrics.router, kpis.router):
        app.include_router(router)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the API log"}, status_code=500)

    return app
