"""Publishing events to `report.events` with publisher confirms, behind a circuit breaker.

Contract of `EventPublisher.publish(event)`: it returns only once the broker has confirmed the message
(persistent, routed to at least one queue, so stored on disk); otherwise it raises:
- `CircuitOpenError` at once, without touching the network, while the breaker is open;
- `PublishFailed` when the broker is unreachable, nacks, or does not confirm within `confirm_timeout_s`
  (counts as a breaker failure; the connection is dropped and the next call reconnects);
- `EventUnroutable` when the broker returns the message (no queue bound: a topology problem, not an outage).
A `PublishFailed` message may still have been stored: retrying can duplicate it, so consumers dedupe on
`message_id` (= `event_id`). The first call connects and declares the whole topology, so events published
before any consumer runs wait in their durable queues. One publisher is safe for concurrent use by tasks of
one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from types import TracebackType

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractExchange
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError
from aio_pika.exceptions import PublishError as ReturnedError

from connectors.events.breaker import CircuitBreaker
from connectors.events.errors import EventUnroutable, PublishFailed
from connectors.events.models import Event, encode_event
from connectors.events.settings import EventsSettings
from connectors.events.topology import Topology, declare_topology
from infra.clock import Clock, SystemClock

log = logging.getLogger(__name__)

# What a broker outage looks like from here: connection errors, channel errors, nacks and timeouts.
BROKER_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_EXCEPTIONS, DeliveryError, TimeoutError)


def event_message(event: Event) -> aio_pika.Message:
    """The AMQP message for an event: persistent JSON, `message_id` = event id, `type` = event type."""
    return aio_pika.Message(
        encode_event(event),
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(event.event_id),
        type=event.event_type.value,
        timestamp=event.occurred_at,
        app_id=event.source,
        correlation_id=event.correlation_id,
        headers={"x-lg-schema-version": event.schema_version},
    )


async def open_connection(settings: EventsSettings) -> AbstractConnection:
    """A plain (non-robust) connection; reconnecting is the caller's decision (the breaker's, here)."""
    url = settings.connection_url().update_query(heartbeat=settings.heartbeat_s)
    return await aio_pika.connect(url, timeout=settings.connect_timeout_s)


class EventPublisher:
    """Publishes events with confirms; see the module docstring. Use as `async with EventPublisher(s) as p:`."""

    def __init__(
        self, settings: EventsSettings, *, clock: Clock | None = None, breaker: CircuitBreaker | None = None
    ) -> None:
        self._settings = settings
        self._topology = Topology(settings)
        self.breaker = breaker or CircuitBreaker(
            settings.breaker_failure_threshold,
            timedelta(seconds=settings.breaker_cooldown_s),
            clock or SystemClock(),
            name=f"publisher:{settings.exchange}",
        )
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._connect_lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> EventPublisher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def publish(self, event: Event) -> None:
        """Publish one event and wait for the broker's confirm; errors as in the module docstring."""
        self.breaker.acquire()
        try:
            exchange = await self._ready_exchange()
            await exchange.publish(
                event_message(event),
                routing_key=event.event_type.value,
                mandatory=True,
                timeout=self._settings.confirm_timeout_s,
            )
        except ReturnedError as exc:
            self.breaker.record_success()  # the broker answered; the routing is wrong
            raise EventUnroutable(event.event_type, str(event.event_id), "no queue bound") from exc
        except BROKER_ERRORS as exc:
            self.breaker.record_failure()
            await self._drop_connection()
            raise PublishFailed(event.event_type, str(event.event_id), _describe(exc)) from exc
        except BaseException:
            self.breaker.release()  # cancelled: no verdict on the broker
            raise
        self.breaker.record_success()

    async def publish_many(self, events: Iterable[Event], concurrency: int = 100) -> None:
        """Publish events concurrently (confirms pipelined); returns when all are confirmed, else raises the
        first error after every publish has settled (so a caller knows the batch is not fully stored)."""
        limit = asyncio.Semaphore(concurrency)

        async def one(event: Event) -> None:
            async with limit:
                await self.publish(event)

        results = await asyncio.gather(*(one(event) for event in events), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def close(self) -> None:
        """Close the connection (idempotent) and wait for connections dropped earlier; a later publish
        reconnects."""
        async with self._connect_lock:
            connection, self._connection, self._exchange = self._connection, None, None
            if connection is not None:
                await _close_quietly(connection)
        if self._closing:
            await asyncio.gather(*self._closing)

    async def _ready_exchange(self) -> AbstractExchange:
        async with self._connect_lock:
            connection, exchange = self._connection, self._exchange
            if connection is not None and exchange is not None and not connection.is_closed:
                return exchange
            await self._drop_connection()
            async with asyncio.timeout(self._settings.connect_timeout_s * 2):
                connection = await open_connection(self._settings)
                try:
                    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                    exchange = (await declare_topology(channel, self._topology)).events
                except BaseException:
                    await _close_quietly(connection)
                    raise
            self._connection, self._exchange = connection, exchange
            log.info("publisher connected to %s", self._settings.amqp_url)
            return exchange

    async def _drop_connection(self) -> None:
        """Forget the connection and close it in the background: closing a dead or blocked connection can
        take seconds, and the caller is failing fast."""
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            task = asyncio.create_task(_close_quietly(connection))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)


async def _close_quietly(connection: AbstractConnection) -> None:
    """Close a connection that may already be dead; never raises, never hangs for long."""
    with contextlib.suppress(*BROKER_ERRORS):
        async with asyncio.timeout(2.0):
            await connection.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no confirm (or connection) within the timeout"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
