"""Typed errors of the RabbitMQ event connector; every error it raises on purpose is an `EventsError`.

- `EventDecodeError`: bytes that are not one of our events (a poison message). Nothing is published for them;
  a consumer moves them to the dead-letter queue at once with `reason` in the headers.
- `CircuitOpenError`: the publisher fails fast because the broker failed repeatedly; retry after `retry_at`.
- `PublishFailed`: the broker did not confirm the message (unreachable, nack, confirm timeout). The message may
  or may not have been stored: a retry can duplicate it, which at-least-once consumers tolerate (`message_id`).
- `EventUnroutable`: the broker returned the message because no queue is bound for its routing key.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class PoisonReason(StrEnum):
    """Why bytes are not an event; the value goes into the dead-letter headers."""

    UNDECODABLE = "undecodable"  # not UTF-8 JSON, or not a JSON object
    SCHEMA_INVALID = "schema-invalid"  # JSON, but not a valid event of any known type
    WRONG_TYPE = "wrong-type"  # a valid event, but of another type than the queue carries


class EventsError(Exception):
    """Base class of every error this connector raises on purpose."""


class EventDecodeError(EventsError):
    """Bytes that cannot be decoded into an event; `detail` says what is wrong (pydantic's errors, in short)."""

    def __init__(self, reason: PoisonReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class CircuitOpenError(EventsError):
    """The circuit breaker refuses the call; `retry_at` is when it lets a probe through (None: a probe runs)."""

    def __init__(self, name: str, retry_at: datetime | None) -> None:
        when = f"retry after {retry_at.isoformat()}" if retry_at else "a probe call is in flight"
        super().__init__(f"circuit {name!r} is open: {when}")
        self.name = name
        self.retry_at = retry_at


class PublishFailed(EventsError):
    """The broker did not confirm an event; `__cause__` holds the underlying AMQP/network error."""

    def __init__(self, event_type: str, event_id: str, why: str) -> None:
        super().__init__(f"{event_type} {event_id} not confirmed: {why}")
        self.event_type = event_type
        self.event_id = event_id
        self.why = why


class EventUnroutable(PublishFailed):
    """The broker returned the event: no queue is bound to the exchange for its routing key."""
