"""Exchanges, queues and bindings of the event connector, and the names that tie them together.

Layout (names from `EventsSettings`; defaults shown):
- `report.events`: durable topic exchange; routing key = event type.
- one durable work queue per event type, `report.requested` etc., bound with its event type as key; its own
  dead-letter exchange is the DLX (what the broker rejects itself, e.g. over the redelivery limit, lands in
  the DLQ with `x-death`).
- per work queue and retry delay, a TTL queue `<work queue>.retry.<ms>ms`: a consumer puts a failed message
  there (default exchange, key = the queue's name); when the TTL expires the broker dead-letters it back to
  the work queue alone (default exchange, key = the work queue's name) so other bindings never see it twice.
- `report.events.dlx` (durable topic) -> `report.events.dlq` (bound with "#"): messages that are poison or
  out of attempts, with the reason in `x-lg-*` headers.

Contract: `declare_topology` is idempotent. Declaring an existing queue with other arguments (e.g. a changed
`queue_type`) fails with the broker's PRECONDITION_FAILED (`aiormq.exceptions.ChannelPreconditionFailed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange
from pamqp.common import FieldTable

from connectors.events.models import EventType
from connectors.events.settings import EventsSettings

QueueArgs = FieldTable  # pamqp's type of AMQP table arguments


@dataclass(frozen=True)
class Topology:
    """The names and queue arguments derived from the settings (pure; no broker needed)."""

    settings: EventsSettings

    def work_queue(self, event_type: EventType) -> str:
        return f"{self.settings.queue_prefix}{event_type.value}"

    def retry_queue(self, event_type: EventType, delay_ms: int) -> str:
        # The delay is in the name: a queue's TTL cannot change, so a new tier is a new queue.
        return f"{self.work_queue(event_type)}.retry.{delay_ms}ms"

    def retry_delay_ms(self, failed_attempt: int) -> int:
        """The wait after failed attempt n (1-based): tier n-1, the last tier repeating."""
        delays = self.settings.retry_delays_ms
        return delays[min(max(failed_attempt, 1) - 1, len(delays) - 1)]

    def _quorum_args(self) -> QueueArgs:
        if self.settings.queue_type == "classic":
            return {"x-queue-type": "classic"}
        # at-least-once dead-lettering keeps a message until the DLX target confirms it; it needs reject-publish.
        return {"x-queue-type": "quorum", "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}

    def work_queue_args(self) -> QueueArgs:
        args: QueueArgs = {**self._quorum_args(), "x-dead-letter-exchange": self.settings.dead_letter_exchange}
        if self.settings.queue_type == "quorum":
            args["x-delivery-limit"] = self.settings.delivery_limit
        return args

    def retry_queue_args(self, event_type: EventType, delay_ms: int) -> QueueArgs:
        return {
            **self._quorum_args(),
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.work_queue(event_type),
        }

    def dead_letter_queue_args(self) -> QueueArgs:
        return {"x-queue-type": self.settings.queue_type}


@dataclass(frozen=True)
class Exchanges:
    """The declared exchanges, bound to the channel that declared them."""

    events: AbstractExchange
    dead_letter: AbstractExchange


async def declare_topology(channel: AbstractChannel, topology: Topology) -> Exchanges:
    """Declare every exchange, queue and binding (idempotent); return the two exchanges."""
    settings = topology.settings
    exchange = await channel.declare_exchange(settings.exchange, ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(settings.dead_letter_exchange, ExchangeType.TOPIC, durable=True)
    dlq = await channel.declare_queue(
        settings.dead_letter_queue, durable=True, arguments=topology.dead_letter_queue_args()
    )
    await dlq.bind(dlx, "#")
    for event_type in EventType:
        work = await channel.declare_queue(
            topology.work_queue(event_type), durable=True, arguments=topology.work_queue_args()
        )
        await work.bind(exchange, event_type.value)
        for delay_ms in settings.retry_delays_ms:
            await channel.declare_queue(
                topology.retry_queue(event_type, delay_ms),
                durable=True,
                arguments=topology.retry_queue_args(event_type, delay_ms),
            )
    return Exchanges(exchange, dlx)
