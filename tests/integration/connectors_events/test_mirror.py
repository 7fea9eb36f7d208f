"""The Kafka -> RabbitMQ bridge: event bytes in, confirmed message out; bad bytes publish nothing."""

from __future__ import annotations

import pytest

from connectors.events.breaker import BreakerState
from connectors.events.errors import EventDecodeError, EventUnroutable, PoisonReason
from connectors.events.mirror import bind_mirror, mirror, mirror_batch
from connectors.events.models import EventType, decode_event, encode_event
from connectors.events.publisher import EventPublisher
from connectors.events.settings import EventsSettings
from connectors.events.testing import alert_triggered, report_completed, report_requested
from connectors.events.topology import Topology
from tests.integration.connectors_events.helpers import Inspector

pytestmark = pytest.mark.integration


async def test_mirror_publishes_the_kafka_record_value(events_settings: EventsSettings, inspector: Inspector) -> None:
    event = alert_triggered(correlation_id="kafka:luckygas.alerts:0:1234")
    async with EventPublisher(events_settings) as publisher:
        mirrored = await bind_mirror(publisher)(encode_event(event))
    assert mirrored == event
    [message] = await inspector.take(Topology(events_settings).work_queue(EventType.ALERT_TRIGGERED), 1)
    assert decode_event(message.body) == event and message.message_id == str(event.event_id)


async def test_bad_bytes_are_refused_and_nothing_is_published(
    events_settings: EventsSettings, inspector: Inspector
) -> None:
    topology = Topology(events_settings)
    async with EventPublisher(events_settings) as publisher:
        await mirror(encode_event(report_requested()), publisher)  # declares the queues
        with pytest.raises(EventDecodeError) as raised:
            await mirror(b'{"event_type": "report.requested", "report_id": 42}', publisher)
        assert raised.value.reason is PoisonReason.SCHEMA_INVALID
        good = [encode_event(report_completed()), encode_event(report_completed())]
        with pytest.raises(EventDecodeError, match="record 1 of the batch"):
            await mirror_batch([good[0], b"\xff", good[1]], publisher)
        assert await inspector.depth(topology.work_queue(EventType.REPORT_COMPLETED)) == 0
        assert [e.event_type for e in await mirror_batch(good, publisher)] == ["report.completed"] * 2
    assert await inspector.depth(topology.work_queue(EventType.REPORT_REQUESTED)) == 1
    assert await inspector.depth(topology.work_queue(EventType.REPORT_COMPLETED)) == 2


async def test_an_unbound_routing_key_is_reported_not_counted_as_an_outage(
    events_settings: EventsSettings, inspector: Inspector
) -> None:
    topology = Topology(events_settings)
    async with EventPublisher(events_settings) as publisher:
        await publisher.publish(report_requested())
        queue = await inspector.channel.declare_queue(topology.work_queue(EventType.REPORT_REQUESTED), passive=True)
        await queue.unbind(events_settings.exchange, "report.requested")  # an operator's mistake
        with pytest.raises(EventUnroutable):
            await publisher.publish(report_requested())
        assert publisher.breaker.state is BreakerState.CLOSED and publisher.breaker.consecutive_failures == 0
    assert await inspector.depth(topology.work_queue(EventType.REPORT_REQUESTED)) == 1
