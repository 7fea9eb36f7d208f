"""GET /audit: the audit trail for auditors, with ClickHouse's query log (direct BI access) beside it.

Contract: only a role that reads the "audit" family (the auditor) gets an answer; others 403, no token 401.
Filters: `principal` (exact subject, "clickhouse:<user>" for BI users), `since` (inclusive) and `until`
(exclusive, both with a timezone), `route` (exact "GET /kpis/today", or a prefix ending in "*"; for the
query log a table name), `kind` (repeatable). `source`: "audit" (our trail, default), "clickhouse" (the
query log) or "all" (both merged, newest first, each item marked by its source). Pages of `limit` items;
`next_cursor` (opaque) fetches the next page. Bad filters are 422, a bad cursor 400; a source that cannot
be read is 503 (alone) or reported in `sources` (merged). GET /audit/verify checks the hash chain.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from api.access.audit import AuditSettingsDep, AuditStore, get_audit_log
from api.access.audit_chain import KINDS, AuditEvent, AuditQuery, AuditUnavailable, utc_text
from api.access.audit_middleware import audit_rows
from api.access.audit_querylog import KINDS as QUERY_LOG_KINDS
from api.access.audit_querylog import ClickHouseQueryLog, QueryLogEntry, QueryLogUnavailable
from api.access.principal import Principal, require_family
from api.deps import SettingsDep

router = APIRouter(prefix="/audit", tags=["audit"])
auditor = require_family("audit")
Auditor = Annotated[Principal, Depends(auditor)]
Source = Literal["audit", "clickhouse"]
MAX_KEY = 2**63 - 1


class AuditItem(BaseModel):
    source: Source
    id: str
    seq: int | None
    at: datetime
    kind: str
    principal: str | None
    route: str | None
    parameters: dict[str, Any]
    branch_filter: str | None
    rows: int | None
    bytes: int | None
    content_sha256: str | None
    duration_ms: float | None
    status: int | None
    detail: str | None
    hash: str | None


class AuditListing(BaseModel):
    items: list[AuditItem]
    next_cursor: str | None
    sources: dict[str, str]


class ChainCheck(BaseModel):
    ok: bool
    checked: int
    head_seq: int | None
    head_hash: str | None
    broken_seq: int | None
    reason: str | None


def get_store(request: Request) -> AuditStore:
    audit = get_audit_log(request)
    if not isinstance(audit, AuditStore):
        raise HTTPException(503, "the configured audit log cannot be queried")
    return audit


def get_query_log(settings: SettingsDep, audit_settings: AuditSettingsDep) -> ClickHouseQueryLog:
    return ClickHouseQueryLog(settings, audit_settings.clickhouse_excluded_users)


StoreDep = Annotated[AuditStore, Depends(get_store)]
QueryLogDep = Annotated[ClickHouseQueryLog, Depends(get_query_log)]
Cursor = tuple[datetime, Source, int | str]


def _item(source: Source, key: int | str, event: AuditEvent, digest: str | None) -> AuditItem:
    return AuditItem(source=source, id=f"{source}:{key}", seq=key if isinstance(key, int) else None, at=event.at,
                     kind=event.kind, principal=event.principal, route=event.route,
                     parameters=dict(event.parameters), branch_filter=event.branch_filter, rows=event.rows,
                     bytes=event.bytes, content_sha256=event.content_sha256, duration_ms=event.duration_ms,
                     status=event.status, detail=event.detail, hash=digest)


def _encode(cursor: Cursor) -> str:
    at, source, key = cursor
    return base64.urlsafe_b64encode(orjson.dumps([utc_text(at), source, key])).decode().rstrip("=")


def _decode(text: str) -> Cursor:
    try:
        at, source, key = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or source not in ("audit", "clickhouse") or not isinstance(key, int | str) \
                or (source == "audit") != isinstance(key, int):
            raise ValueError(text)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise HTTPException(400, "invalid cursor: pass next_cursor from the previous page unchanged") from None
    return moment, source, key


def _audit_before(cursor: Cursor | None) -> tuple[datetime, int] | None:
    """Our trail's bound for "after the cursor" in the order (at, source, key) descending."""
    if cursor is None:
        return None
    at, source, key = cursor
    return (at, int(key)) if source == "audit" else (at, MAX_KEY)  # "audit" < "clickhouse": same time comes later


def _clickhouse_before(cursor: Cursor | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    at, source, key = cursor
    return (at, str(key)) if source == "clickhouse" else (at, "")  # same time as an audit item: came earlier


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(422, f"{name} needs a timezone, e.g. 2026-01-15T00:00:00+08:00")
    return value


def _filters(principal: str | None, since: datetime | None, until: datetime | None, route: str | None,
             kind: list[str] | None, limit: int) -> AuditQuery:
    since, until = _aware("since", since), _aware("until", until)
    if since is not None and until is not None and since >= until:
        raise HTTPException(422, "since must be before until")
    known = KINDS | QUERY_LOG_KINDS
    unknown = sorted(set(kind or ()) - known)
    if unknown:
        raise HTTPException(422, f"unknown kind {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return AuditQuery(principal=principal, since=since, until=until, route=route or None,
                      kinds=frozenset(kind or ()), limit=limit + 1)


async def _from_trail(store: AuditStore, query: AuditQuery, cursor: Cursor | None) -> list[tuple[Cursor, AuditItem]]:
    bounded = AuditQuery(query.principal, query.since, query.until, query.route, query.kinds,
                         _audit_before(cursor), query.limit)
    try:
        records = await store.query(bounded)
    except AuditUnavailable as error:
        raise HTTPException(503, str(error)) from None
    return [((r.event.at, "audit", r.seq), _item("audit", r.seq, r.event, r.hash)) for r in records]


async def _from_query_log(reader: ClickHouseQueryLog, query: AuditQuery,
                          cursor: Cursor | None) -> list[tuple[Cursor, AuditItem]]:
    entries: list[QueryLogEntry] = await reader.entries(query, _clickhouse_before(cursor))
    return [((e.event.at, "clickhouse", e.key), _item("clickhouse", e.key, e.event, None)) for e in entries]


def _sort_key(found: tuple[Cursor, AuditItem]) -> tuple[datetime, str, int, str]:
    at, source, key = found[0]
    return at, source, key if isinstance(key, int) else 0, key if isinstance(key, str) else ""


@router.get("", response_model=AuditListing)
async def list_audit(
    request: Request, caller: Auditor, store: StoreDep, query_log: QueryLogDep,
    principal: Annotated[str | None, Query(max_length=200, description="a subject, e.g. emp:1001")] = None,
    since: Annotated[datetime | None, Query(description="from (inclusive), with a timezone")] = None,
    until: Annotated[datetime | None, Query(description="to (exclusive), with a timezone")] = None,
    route: Annotated[str | None, Query(max_length=300, description="'GET /kpis/today', or a prefix with '*'")] = None,
    kind: Annotated[list[str] | None, Query(description="repeatable: data_access, export, denied, …")] = None,
    source: Literal["audit", "clickhouse", "all"] = "audit",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> AuditListing:
    query = _filters(principal, since, until, route, kind, limit)
    after = _decode(cursor) if cursor else None
    found: list[tuple[Cursor, AuditItem]] = []
    sources: dict[str, str] = {}
    if source in ("audit", "all"):
        found += await _from_trail(store, query, after)
        sources["audit"] = "ok"
    if source in ("clickhouse", "all"):
        try:
            found += await _from_query_log(query_log, query, after)
            sources["clickhouse"] = "ok"
        except QueryLogUnavailable as error:
            if source == "clickhouse":
                raise HTTPException(503, str(error)) from None
            sources["clickhouse"] = f"unavailable: {error}"
    found.sort(key=_sort_key, reverse=True)
    page = found[:limit]
    audit_rows(request, len(page))
    return AuditListing(items=[item for _, item in page], sources=sources,
                        next_cursor=_encode(page[-1][0]) if len(found) > limit else None)


@router.get("/verify", response_model=ChainCheck)
async def verify(request: Request, caller: Auditor, store: StoreDep) -> ChainCheck:
    """Recompute the whole hash chain now; names the first broken record."""
    try:
        result = await store.verify()
    except AuditUnavailable as error:
        raise HTTPException(503, str(error)) from None
    audit_rows(request, result.checked)
    return ChainCheck(ok=result.ok, checked=result.checked, head_seq=result.head_seq, head_hash=result.head_hash,
                      broken_seq=result.broken_seq, reason=result.reason)
