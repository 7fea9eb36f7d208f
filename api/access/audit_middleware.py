"""One audit record per API request, written before a byte of the response leaves (fail closed).

Contract: `AuditMiddleware` (ASGI) audits every HTTP request except the `unaudited_paths` prefixes. It holds
the route's response (status, headers, body) and appends one record — kind "data_access", or "denied" for
401/403/429 — with the principal, the route template, path and query parameters (secrets redacted), the branch
filter, the rows the route reported, the response's size and sha256, the duration and the status. Only
once `append` returned is the response sent. When the audit store cannot take the record the client gets
503 with a reason and none of the data. A response larger than `max_held_bytes` is recorded (without size
and hash) when that much is held, then streamed. A request that fails inside the route is still recorded
(status 500). Routes report what they served with `audit_rows` (and optionally `audit_detail`,
`audit_parameters`); the principal dependency leaves the `Principal` on `request.state.principal`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access.audit import UNAVAILABLE_DETAIL, AuditLog
from api.access.audit_chain import AuditEvent, AuditUnavailable
from infra.access_settings import AuditSettings
from infra.clock import Clock, SystemClock

log = logging.getLogger("luckygas.audit")

REDACTED = "***"
SECRET_PARAMETERS = frozenset({"token", "access_token", "refresh_token", "id_token", "password", "secret",
                               "api_key", "apikey", "key", "ticket", "code", "otp", "client_secret"})
_ROWS, _DETAIL, _PARAMETERS = "audit_rows", "audit_detail", "audit_parameters"
DENIALS = frozenset({401, 403, 429})  # not signed in, not allowed, over the rate limit


def audit_rows(request: Request, rows: int, *, branch_filter: str | None = None) -> None:
    """Tell the audit record how many rows this request served (and, if the route built one, the branch
    filter it applied, e.g. "branch_code IN (TPE, TXG)"). Call it in the route before returning."""
    request.state.audit_rows = rows
    if branch_filter is not None:
        request.state.audit_branch_filter = branch_filter


def audit_detail(request: Request, detail: str) -> None:
    """A short note for this request's audit record (e.g. the report's name or why it was refused)."""
    request.state.audit_detail = detail


def audit_parameters(request: Request, **values: Any) -> None:
    """Parameters worth recording beyond the path and query (e.g. a resolved report definition)."""
    current: dict[str, Any] = getattr(request.state, _PARAMETERS, {})
    request.state.audit_parameters = {**current, **values}


def request_parameters(scope: Scope) -> dict[str, Any]:
    """Path and query parameters of a request; a repeated query key gives a list; secrets are redacted."""
    values: dict[str, Any] = dict(scope.get("path_params") or {})
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        shown = REDACTED if key.lower() in SECRET_PARAMETERS else value
        if key in values:
            previous = values[key]
            values[key] = [*previous, shown] if isinstance(previous, list) else [previous, shown]
        else:
            values[key] = shown
    return values


def _branch_text(principal: Any) -> str | None:
    if principal is None or not hasattr(principal, "branches"):
        return None
    branches = principal.branches
    return "all branches" if branches is None else "branches: " + ",".join(sorted(branches))


class _Refused(Exception):
    """Raised into a streaming route once its response was refused (503 sent instead)."""


class _AuditedRequest:
    """One request under audit: holds the response, appends the record, then lets the response out."""

    def __init__(self, scope: Scope, send: Send, audit: AuditLog, clock: Clock, settings: AuditSettings) -> None:
        self.scope, self.send, self.audit, self.settings = scope, send, audit, settings
        self.state: dict[str, Any] = scope.setdefault("state", {})
        self.at = clock.now()
        self.started = time.perf_counter()
        self.held: list[Message] = []
        self.digest = hashlib.sha256()
        self.size = 0
        self.status: int | None = None
        self.recorded = self.refused = self.passing = False

    def event(self, complete: bool, failure: str | None = None) -> AuditEvent:
        route = self.scope.get("route")
        template = getattr(route, "path", None) or self.scope.get("path", "")
        principal = self.state.get("principal")
        status = self.status if failure is None else 500
        detail = self.state.get(_DETAIL) or failure
        if not complete and failure is None:
            detail = f"response streamed beyond {self.settings.max_held_bytes} bytes: size and hash not recorded"
        return AuditEvent(
            at=self.at, kind="denied" if status in DENIALS else "data_access",
            principal=getattr(principal, "subject", None), route=f"{self.scope.get('method', '')} {template}",
            parameters={**request_parameters(self.scope), **self.state.get(_PARAMETERS, {})},
            branch_filter=self.state.get("audit_branch_filter") or _branch_text(principal),
            rows=self.state.get(_ROWS), bytes=self.size if complete else None,
            content_sha256=self.digest.hexdigest() if complete else None,
            duration_ms=(time.perf_counter() - self.started) * 1000, status=status, detail=detail)

    async def record(self, complete: bool) -> bool:
        """Append the record; on failure send the 503 instead of the held response — unless that response is a
        refusal (401/403/429), which serves no data and goes out as it is. True when it may be sent."""
        self.recorded = True
        try:
            await self.audit.append(self.event(complete))
        except AuditUnavailable:
            if self.status in DENIALS:
                log.error("audit store unavailable: a %s refusal of %s went out unrecorded", self.status,
                          self.scope.get("path"))
                return True
            self.refused = True
            await send_unavailable(self.send)
            return False
        return True

    async def release(self) -> None:
        held, self.held = self.held, []
        for message in held:
            await self.send(message)

    async def capture(self, message: Message) -> None:
        """The route's `send`: holds messages until the record is written."""
        if self.refused:
            raise _Refused
        if self.passing:
            await self.send(message)
            return
        self.held.append(message)
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            return
        if message["type"] == "http.response.body":
            body: bytes = message.get("body", b"")
            self.size += len(body)
            self.digest.update(body)
            if not message.get("more_body", False):
                if await self.record(complete=True):
                    await self.release()
                return
            if self.size <= self.settings.max_held_bytes:
                return
        # A large streamed body, or a message type we do not hold (trailers, file send): record, then stream.
        if not await self.record(complete=False):
            raise _Refused
        self.passing = True
        await self.release()

    async def failed(self, error: BaseException) -> None:
        """The route raised before its response was complete: record it as a 500 (best effort)."""
        if self.recorded:
            return
        self.recorded = True
        try:
            await self.audit.append(self.event(complete=False, failure=f"the route failed: {type(error).__name__}"))
        except AuditUnavailable:
            log.error("audit store unavailable while recording a failed request")


async def send_unavailable(send: Send) -> None:
    """503 with a reason and nothing else (no data, no internal addresses)."""
    body = orjson.dumps({"detail": UNAVAILABLE_DETAIL})
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"5"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


class _NoAuditLog:
    """An app without an audit log: every record is refused, so data is refused (503) and refusals still go out."""

    async def append(self, event: AuditEvent) -> None:
        raise AuditUnavailable(f"no audit log on app.state.audit: {event.kind} {event.route} not recorded")


_NO_AUDIT_LOG = _NoAuditLog()


class AuditMiddleware:
    """Audits every HTTP request outside `settings.unaudited_paths` (see the module docstring). The audit log
    and clock come from the app's state (`app.state.audit`, `app.state.clock`); without an audit log, data is
    refused with 503 and refusals go out as they are."""

    def __init__(self, app: ASGIApp, settings: AuditSettings | None = None) -> None:
        self.app = app
        self.settings = settings or AuditSettings()

    def audited(self, path: str) -> bool:
        return not any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.settings.unaudited_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.audited(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        state = getattr(scope.get("app"), "state", None)
        audit: AuditLog = getattr(state, "audit", None) or _NO_AUDIT_LOG
        clock: Clock = getattr(state, "clock", None) or SystemClock()
        request = _AuditedRequest(scope, send, audit, clock, self.settings)
        try:
            await self.app(scope, receive, request.capture)
        except Exception as error:
            if request.refused:
                return  # the 503 went out instead; the route was stopped
            await request.failed(error)
            raise
        if not request.recorded and request.held and await request.record(complete=True):
            await request.release()
