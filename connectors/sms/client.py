"""Async client of the SMS gateway (protocol: gateway_openapi.yaml, POST /v1/messages).

Contract of `SmsClient.send(to, text, idempotency_key=None)`:
- Checks first, sends nothing on failure: recipient form (`InvalidRecipient`), content policy
  (`EmptyMessage`, `ContentRefused`), segment limit (`MessageTooLong`).
- One idempotency key per logical message (given, or a fresh UUID), reused by every retry: the gateway
  dedupes on it, so a retry after a lost answer never sends twice. Pass a key derived from the alert
  (`idempotency_key_for`) to stay safe across process restarts too.
- Every attempt first takes a slot of the shared `RateLimiter` (the global 100/min across all workers);
  `RateLimitTimeout` when none frees within `rate_wait_timeout_seconds`, `RateLimiterUnavailable` when
  Redis is down (fail closed). Neither sent anything.
- Retries 429 (waiting at least Retry-After), 5xx and connection errors/timeouts with exponential backoff
  + jitter, up to `max_retries` times; then `GatewayUnavailable`. A Retry-After above
  `max_retry_after_seconds` fails at once with `GatewayUnavailable`.
- Not retried: 401 `GatewayAuthError`, 400/422 `GatewayRejected`, 409 `IdempotencyConflict`, anything else
  unexpected `GatewayProtocolError`.
- On 202 returns `SendResult` and, when a `ReceiptStore` was given, records the message as accepted
  (a store failure is logged, not raised: the SMS is out and its receipt will still be stored).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from connectors.sms.encoding import measure
from connectors.sms.errors import (
    GatewayAuthError,
    GatewayError,
    GatewayProtocolError,
    GatewayRejected,
    GatewayUnavailable,
    IdempotencyConflict,
    MessageTooLong,
)
from connectors.sms.policy import check_content, check_recipient
from connectors.sms.ratelimit import RateLimiter, RedisSlidingWindowLimiter, held_slot
from connectors.sms.receipts import ReceiptStore
from connectors.sms.retry import RetryPolicy, parse_retry_after
from connectors.sms.settings import SmsSettings
from connectors.sms.templates import RenderedAlert
from infra.clock import Clock, SystemClock

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
# Extra lease over the request timeout: a slot of a crashed worker frees after this + the window.
_LEASE_MARGIN_S = 5.0


class SendAccepted(BaseModel):
    """The gateway's 202 body."""

    message_id: str
    segments: int
    encoding: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """A message the gateway accepted."""

    message_id: str
    segments: int
    encoding: str
    idempotency_key: str
    attempts: int
    replayed: bool  # the gateway answered from its idempotency record (an earlier attempt got through)


def idempotency_key_for(*parts: str) -> str:
    """A stable key for one logical message, e.g. idempotency_key_for("kpi_breach", kpi, window_start)."""
    if not parts:
        raise ValueError("give at least one part")
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"lg-{digest[:40]}"


class _Retry(Exception):
    """Internal: this attempt failed in a retryable way."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after


class SmsClient:
    """Sends SMS through the gateway (see module contract). Safe for many concurrent tasks."""

    def __init__(
        self,
        settings: SmsSettings,
        http: httpx.AsyncClient,
        limiter: RateLimiter,
        *,
        store: ReceiptStore | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._http = http
        self._limiter = limiter
        self._store = store
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._policy = RetryPolicy.from_settings(settings)

    async def send_alert(self, to: str, alert: RenderedAlert, idempotency_key: str | None = None) -> SendResult:
        """Send a rendered (already validated) alert."""
        return await self.send(to, alert.text, idempotency_key=idempotency_key)

    async def send(self, to: str, text: str, idempotency_key: str | None = None) -> SendResult:
        """Validate, then send with retries (see module contract)."""
        self._validate(to, text)
        key = idempotency_key or uuid.uuid4().hex
        if not IDEMPOTENCY_KEY_RE.match(key):
            raise ValueError(f"idempotency key must match {IDEMPOTENCY_KEY_RE.pattern}: {key!r}")
        body: dict[str, Any] = {"to": to, "text": text, "sender_id": self._settings.sender_id}
        if self._settings.callback_url:
            body["callback_url"] = self._settings.callback_url
        headers = {"Idempotency-Key": key}
        attempt = 0
        while True:
            try:
                accepted, replayed = await self._attempt(body, headers)
            except _Retry as retry:
                self._give_up_if_needed(retry, attempt, key)
                delay = self._policy.retry_delay(attempt, retry.retry_after, self._rng)
                log.warning("sms attempt %d for key %s failed (%s); retrying in %.2fs", attempt + 1, key, retry, delay)
                await self._sleep(delay)
                attempt += 1
                continue
            result = SendResult(accepted.message_id, accepted.segments, accepted.encoding, key, attempt + 1, replayed)
            await self._record(to, result)
            return result

    def _validate(self, to: str, text: str) -> None:
        check_recipient(to)
        check_content(text, self._settings.short_link_domain)
        length = measure(text)
        if length.segments > self._settings.max_segments:
            raise MessageTooLong(
                "SMS text", length.encoding.value, length.units, length.segments, self._settings.max_segments
            )

    async def _attempt(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[SendAccepted, bool]:
        """One request under one rate-limit slot; _Retry for retryable failures, GatewayError for final ones."""
        try:
            async with held_slot(self._limiter):
                response = await self._http.post("/v1/messages", json=body, headers=headers)
        except httpx.TransportError as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
        return self._interpret(response)

    def _interpret(self, response: httpx.Response) -> tuple[SendAccepted, bool]:
        status = response.status_code
        if status == 202:
            try:
                accepted = SendAccepted.model_validate_json(response.content)
            except ValidationError as exc:
                raise GatewayProtocolError(f"malformed 202 body: {exc}", status=status) from exc
            return accepted, response.headers.get("Idempotent-Replayed", "").lower() == "true"
        code, message = _error_of(response)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock.now())
            raise _Retry(f"429 {code}: {message}", status, retry_after)
        if status >= 500:
            raise _Retry(f"{status} {code}: {message}", status)
        exc_type: type[GatewayError] = {
            401: GatewayAuthError,
            403: GatewayAuthError,
            400: GatewayRejected,
            422: GatewayRejected,
            409: IdempotencyConflict,
        }.get(status, GatewayProtocolError)
        raise exc_type(f"gateway answered {status} {code}: {message}", status=status, code=code)

    def _give_up_if_needed(self, retry: _Retry, attempt: int, key: str) -> None:
        if attempt >= self._policy.max_retries:
            raise GatewayUnavailable(
                f"gave up after {attempt + 1} attempts for idempotency key {key}: {retry}",
                attempts=attempt + 1,
                status=retry.status,
            ) from retry
        if retry.retry_after is not None and retry.retry_after > self._policy.max_retry_after_s:
            raise GatewayUnavailable(
                f"gateway asks to wait {retry.retry_after:.0f}s (over {self._policy.max_retry_after_s:.0f}s) "
                f"for idempotency key {key}",
                attempts=attempt + 1,
                status=retry.status,
            ) from retry

    async def _record(self, to: str, result: SendResult) -> None:
        if self._store is None:
            return
        try:
            await self._store.record_accepted(result.message_id, to, result.segments, self._clock.now())
        except Exception:  # the SMS is out; losing the "accepted" mark only delays the status
            log.exception("could not record accepted SMS %s", result.message_id)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from the protocol's error body; the raw text when it is not one."""
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "unknown", response.text[:200]


@asynccontextmanager
async def open_sms_client(
    settings: SmsSettings, store: ReceiptStore | None = None, clock: Clock | None = None
) -> AsyncIterator[SmsClient]:
    """An `SmsClient` with its own HTTP connection pool and Redis-backed limiter; both closed on exit."""
    redis: Redis[Any] = Redis.from_url(settings.redis_url)
    limiter = RedisSlidingWindowLimiter(
        redis,
        settings.limiter_key,
        limit=settings.rate_limit_per_window,
        window_s=settings.rate_window_seconds,
        lease_s=settings.request_timeout_seconds + _LEASE_MARGIN_S,
        wait_timeout_s=settings.rate_wait_timeout_seconds,
    )
    http = httpx.AsyncClient(
        base_url=settings.gateway_base_url,
        headers={"X-Api-Key": settings.api_key.get_secret_value()},
        timeout=httpx.Timeout(settings.request_timeout_seconds),
    )
    try:
        yield SmsClient(settings, http, limiter, store=store, clock=clock)
    finally:
        await http.aclose()
        await redis.aclose()  # type: ignore[attr-defined]  # types-redis 4.6 stubs predate aclose (redis>=5)
