"""A local stand-in for the SMS provider, speaking gateway_openapi.yaml over real HTTP (tests and demos).

It is a fake only because the carrier cannot run here; everything the client relies on is real protocol:
- X-Api-Key check (401), Idempotency-Key header check (400), body validation (422 invalid_number, also
  for numbers configured as out of service, invalid_text, text_too_long; 400 for non-JSON or unknown fields);
- idempotency: a repeated key with the same body answers the stored 202 with `Idempotent-Replayed: true`
  and sends nothing; with another body 409;
- its own sliding-window rate limit over ACCEPTED messages per API key (default 100 per 60 s): 429 with
  Retry-After = whole seconds until a slot frees;
- injected failures for the first `fail_first` authenticated requests, see `FailureMode`;
- delivery receipts POSTed to callback_url, signed with X-Sms-Signature, retried on non-2xx.
Everything it saw is kept in `FakeGatewayState` (thread-safe) so tests can assert on arrival times, keys,
messages and receipt posts. `BackgroundServer` runs any ASGI app under uvicorn in a thread on a free port.
Run standalone for `make run` demos: `python -m connectors.sms.fake_gateway --port 18090 ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from connectors.sms.encoding import measure
from connectors.sms.policy import TAIWAN_MOBILE_RE
from connectors.sms.signature import SIGNATURE_HEADER, sign

_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")
_FIELDS = {"to", "text", "sender_id", "callback_url"}
MAX_SEGMENTS = 10


class FailureMode(StrEnum):
    """What the first `fail_first` authenticated requests get."""

    ERROR_BEFORE = "error_before"  # a 5xx; the message is not processed
    ERROR_AFTER = "error_after"  # processed (and kept for idempotency), then a 5xx: the lost-answer case
    SLOW_AFTER = "slow_after"  # processed, then the answer waits `slow_s` (client timeouts)
    RATE_LIMITED = "rate_limited"  # a 429 with Retry-After `injected_retry_after_s`


@dataclass(frozen=True)
class FakeGatewayConfig:
    api_keys: frozenset[str]
    rate_limit: int = 100
    window_s: float = 60.0
    fail_first: int = 0
    failure_mode: FailureMode = FailureMode.ERROR_BEFORE
    failure_status: int = 503
    slow_s: float = 2.0
    injected_retry_after_s: int = 1
    receipt_secret: str | None = None
    receipt_delay_s: float = 0.05
    receipt_attempts: int = 3
    failing_numbers: frozenset[str] = frozenset()  # receipts say "failed" for these
    expiring_numbers: frozenset[str] = frozenset()  # receipts say "expired" for these
    out_of_service_numbers: frozenset[str] = frozenset()  # refused with 422 invalid_number


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    at: float  # time.monotonic() when the handler started
    idempotency_key: str | None
    status: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    message_id: str
    to: str
    text: str
    sender_id: str | None
    idempotency_key: str
    segments: int
    encoding: str
    at: float


@dataclass(frozen=True, slots=True)
class ReceiptPost:
    message_id: str
    status: str
    http_status: int | None  # None: the callback could not be reached


@dataclass
class FakeGatewayState:
    """What the gateway saw; read from other threads through the snapshot methods."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: list[ReceivedRequest] = field(default_factory=list)
    _messages: list[AcceptedMessage] = field(default_factory=list)
    _receipts: list[ReceiptPost] = field(default_factory=list)

    def add_request(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def add_message(self, message: AcceptedMessage) -> None:
        with self._lock:
            self._messages.append(message)

    def add_receipt(self, post: ReceiptPost) -> None:
        with self._lock:
            self._receipts.append(post)

    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def messages(self) -> list[AcceptedMessage]:
        with self._lock:
            return list(self._messages)

    def receipts(self) -> list[ReceiptPost]:
        with self._lock:
            return list(self._receipts)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


class _Gateway:
    """The request handling; lives on the server's event loop (no locks needed for its own dicts)."""

    def __init__(self, config: FakeGatewayConfig, state: FakeGatewayState) -> None:
        self.config = config
        self.state = state
        self.authenticated_calls = 0
        self.idempotency: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.accepted_at: dict[str, deque[float]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: httpx.AsyncClient | None = None

    async def send(self, request: Request) -> Response:
        arrived = time.monotonic()
        response, replayed = await self._handle(request, arrived)
        self.state.add_request(
            ReceivedRequest(arrived, request.headers.get("Idempotency-Key"), response.status_code, replayed)
        )
        return response

    async def _handle(self, request: Request, arrived: float) -> tuple[Response, bool]:
        api_key = request.headers.get("X-Api-Key")
        if api_key not in self.config.api_keys:
            return _error(401, "invalid_api_key", "X-Api-Key missing or unknown"), False
        self.authenticated_calls += 1
        injected = self.authenticated_calls <= self.config.fail_first
        mode = self.config.failure_mode
        if injected and mode is FailureMode.ERROR_BEFORE:
            return _error(self.config.failure_status, "unavailable", "injected failure"), False
        if injected and mode is FailureMode.RATE_LIMITED:
            return _error(
                429, "rate_limited", "injected rate limit", {"Retry-After": str(self.config.injected_retry_after_s)}
            ), False
        key = request.headers.get("Idempotency-Key", "")
        if not 8 <= len(key) <= 128 or not set(key) <= _KEY_CHARS:
            return _error(400, "bad_request", "Idempotency-Key header missing or malformed"), False
        body = await request.body()
        response, replayed = self._process(api_key, key, body, arrived)
        if injected and mode is FailureMode.ERROR_AFTER:
            return _error(self.config.failure_status, "internal_error", "injected failure after accepting"), False
        if injected and mode is FailureMode.SLOW_AFTER:
            await asyncio.sleep(self.config.slow_s)
        return response, replayed

    def _process(self, api_key: str, key: str, body: bytes, arrived: float) -> tuple[Response, bool]:
        """Validate, dedupe, rate-limit and accept; no await inside, so it is atomic on the loop."""
        try:
            payload = json.loads(body)
        except ValueError:
            return _error(400, "bad_request", "body is not JSON"), False
        problem = _validate(payload)
        if problem is not None:
            return problem, False
        if payload["to"] in self.config.out_of_service_numbers:
            return _error(422, "invalid_number", f"number {payload['to']} is not in service"), False
        fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        seen = self.idempotency.get((api_key, key))
        if seen is not None:
            if seen[0] != fingerprint:
                return _error(409, "idempotency_conflict", "Idempotency-Key reused with a different body"), False
            return JSONResponse(seen[1], status_code=202, headers={"Idempotent-Replayed": "true"}), True
        limited = self._rate_limited(api_key, arrived)
        if limited is not None:
            return limited, False
        length = measure(payload["text"])
        message_id = "m" + uuid.uuid4().hex[:24]
        accepted: dict[str, Any] = {
            "message_id": message_id,
            "segments": length.segments,
            "encoding": length.encoding.value,
        }
        self.idempotency[(api_key, key)] = (fingerprint, accepted)
        self.accepted_at.setdefault(api_key, deque()).append(arrived)
        self.state.add_message(
            AcceptedMessage(
                message_id,
                payload["to"],
                payload["text"],
                payload.get("sender_id"),
                key,
                length.segments,
                length.encoding.value,
                arrived,
            )
        )
        if payload.get("callback_url"):
            self._schedule_receipt(message_id, payload["to"], payload["callback_url"])
        return JSONResponse(accepted, status_code=202, headers={"Idempotent-Replayed": "false"}), False

    def _rate_limited(self, api_key: str, now: float) -> Response | None:
        window = self.accepted_at.setdefault(api_key, deque())
        while window and window[0] <= now - self.config.window_s:
            window.popleft()
        if len(window) < self.config.rate_limit:
            return None
        wait = window[len(window) - self.config.rate_limit] + self.config.window_s - now
        retry_after = max(1, math.ceil(wait))
        return _error(
            429,
            "rate_limited",
            f"over {self.config.rate_limit} messages per {self.config.window_s:g}s",
            {"Retry-After": str(retry_after)},
        )

    def _schedule_receipt(self, message_id: str, to: str, callback_url: str) -> None:
        task = asyncio.get_running_loop().create_task(self._post_receipt(message_id, to, callback_url))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post_receipt(self, message_id: str, to: str, callback_url: str) -> None:
        await asyncio.sleep(self.config.receipt_delay_s)
        receipt = _receipt_for(message_id, to, self.config)
        for attempt in range(self.config.receipt_attempts):
            body = json.dumps(receipt).encode()
            headers = {"Content-Type": "application/json"}
            if self.config.receipt_secret:
                headers[SIGNATURE_HEADER] = sign(body, self.config.receipt_secret, datetime.now(UTC))
            assert self.http is not None  # set by the lifespan before any request
            try:
                answer = await self.http.post(callback_url, content=body, headers=headers)
                status: int | None = answer.status_code
            except httpx.TransportError:
                status = None
            self.state.add_receipt(ReceiptPost(message_id, receipt["status"], status))
            if status is not None and 200 <= status < 300:
                return
            await asyncio.sleep(0.2 * 2**attempt)


def _validate(payload: object) -> Response | None:
    if not isinstance(payload, dict):
        return _error(400, "bad_request", "body must be a JSON object")
    unknown = set(payload) - _FIELDS
    if unknown:
        return _error(400, "bad_request", f"unknown fields: {sorted(unknown)}")
    to, text = payload.get("to"), payload.get("text")
    if not isinstance(to, str) or not TAIWAN_MOBILE_RE.match(to):
        return _error(422, "invalid_number", f"'to' must be a Taiwan mobile number +8869xxxxxxxx, got {to!r}")
    if not isinstance(text, str) or not text.strip():
        return _error(422, "invalid_text", "'text' must be a non-empty string")
    if measure(text).segments > MAX_SEGMENTS:
        return _error(422, "text_too_long", f"'text' needs more than {MAX_SEGMENTS} segments")
    for name in ("sender_id", "callback_url"):
        if name in payload and not isinstance(payload[name], str):
            return _error(400, "bad_request", f"'{name}' must be a string")
    return None


def _receipt_for(message_id: str, to: str, config: FakeGatewayConfig) -> dict[str, Any]:
    if to in config.failing_numbers:
        return {"message_id": message_id, "status": "failed", "error_code": "EC_UNREACHABLE", "delivered_at": None}
    if to in config.expiring_numbers:
        return {"message_id": message_id, "status": "expired", "error_code": None, "delivered_at": None}
    return {
        "message_id": message_id,
        "status": "delivered",
        "error_code": None,
        "delivered_at": datetime.now(UTC).isoformat(),
    }


def create_fake_gateway_app(config: FakeGatewayConfig, state: FakeGatewayState | None = None) -> FastAPI:
    """The gateway as an ASGI app; `state` collects what it saw (a new one when None: see app.state.gateway)."""
    gateway = _Gateway(config, state or FakeGatewayState())

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=5.0) as http:
            gateway.http = http
            yield
            for task in list(gateway.tasks):
                task.cancel()
            await asyncio.gather(*gateway.tasks, return_exceptions=True)

    app = FastAPI(title="fake SMS gateway", lifespan=lifespan)
    app.state.gateway = gateway
    app.add_api_route("/v1/messages", gateway.send, methods=["POST"])
    return app


class BackgroundServer:
    """Runs an ASGI app with uvicorn in a daemon thread on 127.0.0.1:<free port>; `url` once started."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait; RuntimeError if the thread is still running after `timeout`."""
        self._server.should_exit = True
        self._thread.join(timeout=timeout)
        self._sock.close()
        if self._thread.is_alive():
            raise RuntimeError(f"server on port {self.port} did not stop within {timeout:.0f}s")

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Serve the fake gateway in the foreground (demos)."""
    parser = argparse.ArgumentParser(description="Local fake SMS gateway (gateway_openapi.yaml)")
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--receipt-secret")
    parser.add_argument("--rate-limit", type=int, default=100)
    parser.add_argument("--window-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    config = replace(
        FakeGatewayConfig(frozenset({args.api_key})),
        receipt_secret=args.receipt_secret,
        rate_limit=args.rate_limit,
        window_s=args.window_seconds,
    )
    uvicorn.run(create_fake_gateway_app(config), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
