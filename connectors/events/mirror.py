"""The Kafka -> RabbitMQ bridge: our own events live in Kafka; legacy consumers read copies from `report.events`.

Contract: `await mirror(event_bytes, publisher)` decodes one Kafka record value (the JSON of `encode_event`)
and returns the event once the broker has confirmed it. Bytes that are not an event raise `EventDecodeError`
and nothing is published (the Kafka side decides where such records go). Broker trouble raises
`PublishFailed` / `CircuitOpenError` (see `publisher`): the caller must not commit the Kafka offset then, and
mirrors the record again later; the duplicate that may cause carries the same `message_id`.
`mirror_batch` does the same for a batch (confirms pipelined): all confirmed, or an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from connectors.events.errors import EventDecodeError
from connectors.events.models import Event, decode_event
from connectors.events.publisher import EventPublisher


async def mirror(event_bytes: bytes, publisher: EventPublisher) -> Event:
    """Decode one event and publish it with confirm; returns the event published."""
    event = decode_event(event_bytes)
    await publisher.publish(event)
    return event


async def mirror_batch(batch: Sequence[bytes], publisher: EventPublisher, concurrency: int = 100) -> list[Event]:
    """Decode a whole batch first (one bad record publishes nothing), then publish all of it with confirms."""
    events = []
    for index, value in enumerate(batch):
        try:
            events.append(decode_event(value))
        except EventDecodeError as exc:
            raise EventDecodeError(exc.reason, f"record {index} of the batch: {exc.detail}") from None
    await publisher.publish_many(events, concurrency=concurrency)
    return events


def bind_mirror(publisher: EventPublisher) -> Callable[[bytes], Awaitable[Event]]:
    """`mirror` bound to a publisher: the one-argument `mirror(event_bytes)` the Kafka agent calls."""
    return partial(_mirror_to, publisher)


async def _mirror_to(publisher: EventPublisher, event_bytes: bytes) -> Event:
    return await mirror(event_bytes, publisher)
