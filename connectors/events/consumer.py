"""Consuming one event type's work queue: at-least-once, retries through TTL queues, dead-lettering with reasons.

Contract of `EventConsumer(settings, event_type, handler)`: for each message of the work queue,
- undecodable / schema-invalid / wrong-type bytes (poison) go to the dead-letter exchange at once, with
  `x-lg-dead-reason` = the `PoisonReason` and `x-lg-error` = what is wrong; the handler never sees them;
- otherwise `await handler(event)`; when it returns, the message is acked (only then: at-least-once);
- when it raises, failed attempt n (header `x-lg-attempt`, 1 on first delivery) is copied to the retry queue of
  delay `retry_delays_ms[min(n-1, last)]` with `x-lg-attempt` = n+1, from where the broker dead-letters it
  back to the work queue after the TTL; once n reaches `max_attempts` it goes to the dead-letter exchange
  with `x-lg-dead-reason` = "max-attempts" and the last error;
- a copy is published (and confirmed) before the original is acked, so a crash in between duplicates a
  message, never loses one; if the copy cannot be published, the original is requeued.
Consumption continues after every outcome. Handlers must be idempotent (dedupe on `event.event_id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    ConsumerTag,
)

from connectors.events.errors import EventDecodeError
from connectors.events.models import Event, EventType, decode_event
from connectors.events.publisher import BROKER_ERRORS
from connectors.events.settings import EventsSettings
from connectors.events.topology import Exchanges, Topology, declare_topology
from infra.clock import Clock, SystemClock

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]

ATTEMPT = "x-lg-attempt"
DEAD_REASON = "x-lg-dead-reason"
ERROR = "x-lg-error"
DEAD_AT = "x-lg-dead-at"
SOURCE_QUEUE = "x-lg-source-queue"
MAX_ATTEMPTS_REASON = "max-attempts"
_ERROR_CHARS = 1000


@dataclass(frozen=True)
class FailureRoute:
    """Where a failed message goes: a retry queue (`delay_ms`) or, when `delay_ms` is None, the DLX."""

    delay_ms: int | None
    next_attempt: int


def route_failure(topology: Topology, failed_attempt: int) -> FailureRoute:
    """The route after attempt `failed_attempt` (1-based) failed: retry with backoff, or dead-letter."""
    if failed_attempt >= topology.settings.max_attempts:
        return FailureRoute(None, failed_attempt)
    return FailureRoute(topology.retry_delay_ms(failed_attempt), failed_attempt + 1)


def attempt_of(headers: dict[str, Any] | None) -> int:
    """The attempt this delivery is (1 when the header is missing or not a positive integer)."""
    value = (headers or {}).get(ATTEMPT)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]


@dataclass
class ConsumerStats:
    """What happened to the messages this consumer took (for tests, logs and metrics)."""

    acked: int = 0
    retried: int = 0
    dead_lettered: int = 0
    requeued: int = 0


class EventConsumer:
    """Consumes the work queue of one event type; see the module docstring. `async with` starts and stops it."""

    def __init__(
        self, settings: EventsSettings, event_type: EventType, handler: Handler, *, clock: Clock | None = None
    ) -> None:
        self._settings = settings
        self._topology = Topology(settings)
        self._event_type = event_type
        self._handler = handler
        self._clock = clock or SystemClock()
        self.stats = ConsumerStats()
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchanges: Exchanges | None = None
        self._queue: AbstractQueue | None = None
        self._tag: ConsumerTag | None = None
        self._inflight: set[asyncio.Task[Any]] = set()

    @property
    def queue_name(self) -> str:
        return self._topology.work_queue(self._event_type)

    async def __aenter__(self) -> EventConsumer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect (robust: reconnects and resumes by itself), declare the topology, start consuming."""
        url = self._settings.connection_url().update_query(heartbeat=self._settings.heartbeat_s)
        connection = await aio_pika.connect_robust(url, timeout=self._settings.connect_timeout_s)
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await channel.set_qos(prefetch_count=self._settings.prefetch)
            self._channel = channel
            self._exchanges = await declare_topology(channel, self._topology)
            self._queue = await channel.declare_queue(
                self.queue_name, durable=True, arguments=self._topology.work_queue_args()
            )
            self._tag = await self._queue.consume(self._on_message)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop taking messages, let in-flight handlers finish (up to `drain_timeout`), close. Closing cancels
        handlers still running; their messages (unacked) return to the queue for redelivery."""
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(*BROKER_ERRORS):
                await self._queue.cancel(self._tag)
        self._tag = None
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=drain_timeout)
        if self._connection is not None:
            with contextlib.suppress(*BROKER_ERRORS):
                await self._connection.close()
        self._connection = None

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await self._process(message)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        attempt = attempt_of(message.headers)
        try:
            event = decode_event(message.body, expected=self._event_type)
        except EventDecodeError as exc:
            log.warning("poison message on %s: %s", self.queue_name, exc)
            await self._forward(message, None, {DEAD_REASON: exc.reason.value, ERROR: exc.detail[:_ERROR_CHARS]})
            return
        try:
            await self._handler(event)
        except Exception as exc:  # any handler failure is retried; the handler decides nothing else
            await self._route_failure(message, attempt, exc)
            return
        if await _ack(message):
            self.stats.acked += 1

    async def _route_failure(self, message: AbstractIncomingMessage, attempt: int, exc: Exception) -> None:
        route = route_failure(self._topology, attempt)
        headers: dict[str, Any] = {ATTEMPT: route.next_attempt, ERROR: error_text(exc)}
        if route.delay_ms is None:
            log.warning(
                "%s %s: attempt %d failed, dead-lettering: %s",
                self.queue_name,
                message.message_id,
                attempt,
                headers[ERROR],
            )
            headers[DEAD_REASON] = MAX_ATTEMPTS_REASON
        else:
            log.info(
                "%s %s: attempt %d failed, retry in %d ms: %s",
                self.queue_name,
                message.message_id,
                attempt,
                route.delay_ms,
                headers[ERROR],
            )
        await self._forward(message, route.delay_ms, headers)

    async def _forward(self, message: AbstractIncomingMessage, delay_ms: int | None, extra: dict[str, Any]) -> None:
        """Publish a copy to the retry queue of `delay_ms` (None: the DLX), confirmed, then ack the original."""
        if self._exchanges is None or self._channel is None:
            raise RuntimeError("consumer not started")
        headers = {**(message.headers or {}), **extra}
        if delay_ms is None:
            headers |= {DEAD_AT: self._clock.now().isoformat(), SOURCE_QUEUE: self.queue_name}
            exchange, key = self._exchanges.dead_letter, self._event_type.value
        else:
            exchange = self._channel.default_exchange
            key = self._topology.retry_queue(self._event_type, delay_ms)
        try:
            await exchange.publish(
                _copy(message, headers), routing_key=key, mandatory=True, timeout=self._settings.confirm_timeout_s
            )
        except BROKER_ERRORS as exc:
            log.error(
                "%s %s: could not forward to %s (%s); requeued",
                self.queue_name,
                message.message_id,
                key,
                error_text(exc),
            )
            with contextlib.suppress(*BROKER_ERRORS):
                await message.nack(requeue=True)
            self.stats.requeued += 1
            return
        if not await _ack(message):
            return
        if delay_ms is None:
            self.stats.dead_lettered += 1
        else:
            self.stats.retried += 1


async def _ack(message: AbstractIncomingMessage) -> bool:
    """Ack; False if the channel is gone (the broker then redelivers the message: a duplicate, not a loss)."""
    try:
        await message.ack()
    except BROKER_ERRORS as exc:
        log.warning("ack of %s failed (%s); it will be redelivered", message.message_id, error_text(exc))
        return False
    return True


def _copy(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    """The same message (body and properties, persistent) with new headers."""
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        timestamp=message.timestamp,
        app_id=message.app_id,
        correlation_id=message.correlation_id,
    )
