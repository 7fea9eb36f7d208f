"""GET /reports: the catalog the caller may run; GET /reports/{id}: one report, in the format asked for.

Access: the report's family (roles.yaml) decides who may run it (403 otherwise, audited); a sensitive report
needs a recent MFA (401 saying so). Rows are limited to the caller's branches and personal columns masked for
its role, by `RowScope` through the report's `QueryContext`. Every run is audited (report, format, parameters,
branch filter, rows when known, bytes and hash when held).

Format: `format=` (json, csv, xlsx, parquet, pdf) or the Accept header; one the report does not offer is 406.
Parameters: unknown or bad ones are 422 naming the parameter; a branch outside the caller's or
`include_inactive` for a role that may not see closed customers is 403. JSON answers are pages (`limit`,
`offset`: api/reports/paging.py); the other formats export the whole result. Results up to `MATERIALISE_ROWS` rows
are built whole and cached (per report, parameters, format, the caller's scope and the data version) with an
ETag and Last-Modified (`If-None-Match` → 304); larger ones stream with constant memory. XLSX and PDF are
bounded (`BOUNDED`): above that a 413 says to request a report run. A query over `QUERY_SECONDS` is a 504.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from api.access.audit_middleware import audit_parameters, audit_rows
from api.access.policy import AccessPolicy
from api.access.principal import CurrentPrincipal, Principal, refuse, require_recent_mfa
from api.access.rows import RowScope
from api.deps import (
    CLICKHOUSE_UNREACHABLE,
    ClickHousePool,
    ClickHousePoolDep,
    ClickHouseUnavailable,
    ClockDep,
    PolicyDep,
)
from api.reports.cache import CachedResult, ResultCache, cache_key
from api.reports.catalog import catalog
from api.reports.definition import Report
from api.reports.describe import describe, drill_links, parameter_schema, sensitive
from api.reports.formats import BOUNDED, EXTENSIONS, MEDIA_TYPES, RenderContext, format_for_media_type, renderer
from api.reports.freshness import DataState, FreshnessSnapshot
from api.reports.paging import Page, openapi_parameters, parse_page
from api.reports.parameters import ParameterError, ParameterForbidden, parse
from api.reports.rights import families_needed, may_run, missing_families
from api.reports.runner import Prepared, all_rows, count_rows, prepare, stream_rows
from infra.clock import Clock, business_day

router = APIRouter(prefix="/reports")  # the listing; reports_router() adds one route per report

MATERIALISE_ROWS = 20_000
# An uncached report waits its turn for a ClickHouse client this long (the spec's 30 s for a report) in an
# asyncio queue, holding no thread meanwhile; longer is a 503 with Retry-After. Waiting in the pool itself
# would hold a worker thread per waiter, and 40 waiters would starve the 8 holders of the threads they need.
QUEUE_SECONDS = 30.0
RETRY_AFTER_SECONDS = 5


def result_cache(request: Request) -> ResultCache:
    cache: ResultCache | None = getattr(request.app.state, "report_cache", None)
    if cache is None:
        cache = request.app.state.report_cache = ResultCache()
    return cache


def query_gate(request: Request, pool: ClickHousePool) -> asyncio.Semaphore:
    """One uncached report query per pooled client at a time but one (left for the caller's principal and the
    freshness reads, so a cached answer or a 304 never waits behind a report); the others queue, first come
    first served, instead of each holding a thread while they wait."""
    gate: asyncio.Semaphore | None = getattr(request.app.state, "report_query_gate", None)
    if gate is None:
        gate = request.app.state.report_query_gate = asyncio.Semaphore(max(1, pool.size - 1))
    return gate


async def _queued(gate: asyncio.Semaphore) -> bool:
    """Whether a turn came within `QUEUE_SECONDS`."""
    try:
        async with asyncio.timeout(QUEUE_SECONDS):
            await gate.acquire()
    except TimeoutError:
        return False
    return True


def freshness_snapshot(request: Request) -> FreshnessSnapshot:
    snapshot: FreshnessSnapshot | None = getattr(request.app.state, "freshness_snapshot", None)
    if snapshot is None:
        snapshot = request.app.state.freshness_snapshot = FreshnessSnapshot()
    return snapshot


@router.get("", tags=["reports"], summary="The reports the caller may run, with their parameters and columns")
async def list_reports(principal: CurrentPrincipal, policy: PolicyDep) -> dict[str, Any]:
    entries = [describe(report, policy, _runs(policy, report))
               for report in catalog().values() if may_run(policy, principal, report)]
    return {"reports": entries, "count": len(entries)}


def _runs(policy: AccessPolicy, report: Report) -> Callable[[str], bool]:
    needed = families_needed(report, policy)
    return lambda role: needed <= set(policy.role(role).families)


def _not_found(report_id: str) -> JSONResponse:
    return JSONResponse({"detail": f"unknown report {report_id!r}", "reports": "/reports"}, status_code=404)


def _invalid(error: ParameterError) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": ["query", error.name], "msg": error.message, "type": "value_error"}]},
                        status_code=422)


def _format(report: Report, asked: str | None, accept: str) -> str | JSONResponse:
    offered = ", ".join(report.formats)
    if asked is not None:
        if asked in report.formats:
            return asked
        return JSONResponse({"detail": f"{report.id} is offered as {offered}, not {asked!r}"}, status_code=406)
    chosen = format_for_media_type(accept, report.formats)
    if chosen is None:
        return JSONResponse({"detail": f"{report.id} is offered as {offered}; the Accept header names none of them"},
                            status_code=406)
    return chosen


RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "unchanged since the ETag given"}, 403: {"description": "not for this role or branch"},
    404: {"description": "unknown report"}, 406: {"description": "format not offered"},
    413: {"description": "too large for this format: request a report run"},
    422: {"description": "a parameter is wrong (named in detail[].loc)"},
    504: {"description": "took longer than 30 s: request a report run"}}


def _openapi_parameters(report: Report) -> list[dict[str, Any]]:
    params = [{"name": p["name"], "in": "query", "required": p["required"], "schema": p["schema"],
               "description": f"{p['label_zh']} / {p['label_en']}"} for p in map(parameter_schema, report.params)]
    params.append({"name": "format", "in": "query", "required": False,
                   "schema": {"type": "string", "enum": list(report.formats)},
                   "description": "the output format (or use the Accept header)"})
    return params + openapi_parameters()


def reports_router() -> APIRouter:
    """The catalog route, one documented route per report (its parameters in the OpenAPI document), and
    `/reports/{report_id}` answering 404 for ids the catalog does not have."""
    built = APIRouter(tags=["reports"])
    built.routes.extend(router.routes)
    for report in catalog().values():
        built.add_api_route(f"/reports/{report.id}", _endpoint(report.id), methods=["GET"], summary=report.title_en,
                            description=f"{report.title_zh}: {report.answers}", responses=RESPONSES,
                            openapi_extra={"parameters": _openapi_parameters(report)},
                            name=f"report_{report.id}", response_class=Response)
    built.add_api_route("/reports/{report_id}", _unknown, methods=["GET"], include_in_schema=False,
                        summary="An id the catalog does not have: 404")
    return built


async def _unknown(report_id: str, principal: CurrentPrincipal) -> Response:
    return _not_found(report_id)


def _endpoint(report_id: str) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, principal: CurrentPrincipal, policy: PolicyDep, clock: ClockDep,
                       pool: ClickHousePoolDep) -> Response:
        return await run_report(request, catalog()[report_id], principal, policy, clock, pool)

    endpoint.__name__ = f"report_{report_id}"
    return endpoint


async def run_report(request: Request, report: Report, principal: Principal, policy: AccessPolicy, clock: Clock,
                     pool: ClickHousePool) -> Response:
    """Run `report` for the caller (see the module docstring)."""
    if not may_run(policy, principal, report):
        needed = ", ".join(sorted(families_needed(report, policy)))
        await refuse(request, 403, f"the role {principal.role} may not run {report.id} (it reads {needed})",
                     principal)
    if sensitive(report, policy):
        await require_recent_mfa()(request, principal, policy, clock)
    fmt = _format(report, request.query_params.get("format"), request.headers.get("accept", ""))
    if isinstance(fmt, JSONResponse):
        return fmt
    now = clock.now()
    try:
        values = parse(report, dict(request.query_params), business_day(now), principal, policy)
        page = parse_page(request.query_params, fmt)
    except ParameterError as error:
        return _invalid(error)
    except ParameterForbidden as error:
        await refuse(request, 403, str(error), principal)
    prepared = prepare(report, values, RowScope(principal, policy, request), business_day(now))
    missing = missing_families(policy, principal, report, prepared.tables)
    if missing:  # these parameters made it read what the caller may not
        await refuse(request, 403, f"{report.id} with these parameters reads {', '.join(missing)}", principal)
    audit_parameters(request, report=report.id, format=fmt, tables=list(prepared.tables))
    return await _respond(request, pool, prepared, fmt, page, now, principal.branches)


async def _respond(request: Request, pool: ClickHousePool, prepared: Prepared, fmt: str, page: Page | None,
                   now: datetime, branches: frozenset[str] | None) -> Response:
    snapshot = freshness_snapshot(request)
    try:
        # No ClickHouse client is held for a 304 or a cached answer: only the (shared, 1 s) freshness read.
        state = await run_in_threadpool(snapshot.state, pool.acquire, pool.release, prepared.tables)
    except ClickHouseUnavailable:
        return JSONResponse({"detail": CLICKHOUSE_UNREACHABLE}, status_code=503)
    scope = RowScope(request.state.principal, request.app.state.policy)
    key = cache_key(prepared.report.id, {**prepared.values, "_page": page}, fmt, scope, state.version)
    headers = _validators(key, state)
    if state.cacheable and request.headers.get("if-none-match") == headers["ETag"]:
        audit_rows(request, 0)
        return Response(status_code=304, headers=headers)
    cache = result_cache(request)
    cached = cache.get(key) if state.cacheable else None
    if cached is not None:
        audit_rows(request, cached.rows)
        return _answer(prepared, fmt, cached.body, headers, now)
    gate = query_gate(request, pool)
    if not await _queued(gate):
        return JSONResponse({"detail": f"every ClickHouse client stayed busy for {QUEUE_SECONDS:.0f} s; retry"},
                            status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    try:
        client = await run_in_threadpool(pool.acquire)
    except ClickHouseUnavailable:
        gate.release()
        return JSONResponse({"detail": CLICKHOUSE_UNREACHABLE}, status_code=503)
    lent = True
    try:
        ctx = RenderContext(prepared.report, prepared.values, now, state.as_of,
                            None if branches is None else tuple(sorted(branches)),
                            drill_links(prepared.report, prepared.values))
        if fmt in BOUNDED:
            size = await run_in_threadpool(count_rows, client, prepared)
            if size > BOUNDED[fmt]:
                return JSONResponse({"detail": f"{size:,} rows are more than {fmt} holds here ({BOUNDED[fmt]:,}); "
                                               "ask for csv or parquet, or request it as a report run"},
                                    status_code=413)
        if page is not None:
            rows = await run_in_threadpool(all_rows, client, prepared, page.limit + 1, page.offset)
            more = len(rows) > page.limit
            rows = rows[:page.limit]
            ctx = replace(ctx, page=page.described(prepared.report.id, request.query_params, len(rows), more))
        else:
            rows = await run_in_threadpool(all_rows, client, prepared, MATERIALISE_ROWS + 1)
        if len(rows) <= MATERIALISE_ROWS:
            body = await run_in_threadpool(lambda: b"".join(renderer(fmt)(ctx, iter(rows))))
            audit_rows(request, len(rows))
            if state.cacheable:
                cache.put(key, CachedResult(body, MEDIA_TYPES[fmt], len(rows), state.as_of, state.last_modified))
            return _answer(prepared, fmt, body, headers, now)
        lent = False  # the stream takes the client and its turn, and gives both back when it ends
        return StreamingResponse(_gated(gate, _stream(pool, client, prepared, fmt, ctx)), media_type=MEDIA_TYPES[fmt],
                                 headers={**_disposition(prepared, fmt, now), **headers})
    except DatabaseError as error:
        if "TIMEOUT_EXCEEDED" in str(error) or "Timeout exceeded" in str(error):
            return JSONResponse({"detail": "the report took longer than 30 s; request it as a report run"},
                                status_code=504)
        raise
    finally:
        if lent:
            pool.release(client)
            gate.release()


def _stream(pool: ClickHousePool, client: Client, prepared: Prepared, fmt: str,
            ctx: RenderContext) -> Iterator[bytes]:
    try:
        yield from renderer(fmt)(ctx, stream_rows(client, prepared))
    finally:
        pool.release(client)


async def _gated(gate: asyncio.Semaphore, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in iterate_in_threadpool(chunks):
            yield chunk
    finally:
        gate.release()


def _validators(key: str, state: DataState) -> dict[str, str]:
    headers = {"ETag": f'"{key}"', "Cache-Control": "private, no-cache"}
    if state.last_modified is not None:
        headers["Last-Modified"] = format_datetime(state.last_modified, usegmt=True)
    if state.as_of is not None:
        headers["X-Data-As-Of"] = state.as_of.isoformat()
    return headers


def _disposition(prepared: Prepared, fmt: str, now: datetime) -> dict[str, str]:
    if fmt == "json":
        return {}
    name = f"{prepared.report.id}_{now.date().isoformat()}.{EXTENSIONS[fmt]}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _answer(prepared: Prepared, fmt: str, body: bytes, headers: dict[str, str], now: datetime) -> Response:
    return Response(body, media_type=MEDIA_TYPES[fmt], headers={**_disposition(prepared, fmt, now), **headers})
