"""Broker outage on a node of its own: the breaker opens and fails fast, a probe closes it after the restart, and
durable queues keep their persistent messages across the restart; a running consumer resumes by itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.events.breaker import BreakerState, CircuitBreaker
from connectors.events.consumer import EventConsumer
from connectors.events.errors import CircuitOpenError, PublishFailed
from connectors.events.local_rabbitmq import LocalRabbitMQ
from connectors.events.models import Event, EventType, decode_event
from connectors.events.publisher import EventPublisher
from connectors.events.testing import alert_triggered, report_requested
from connectors.events.topology import Topology
from infra.clock import FixedClock
from tests.integration.connectors_events.helpers import inspector_for, new_node, node_fixture, settings_for, wait_for

pytestmark = pytest.mark.integration

COOLDOWN = timedelta(seconds=30)


@pytest.fixture(scope="module")
def outage_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRabbitMQ]:
    yield from node_fixture(new_node(tmp_path_factory.mktemp("rabbitmq-outage")))


def state_of(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


async def test_outage_opens_the_circuit_and_a_probe_closes_it_after_restart(outage_node: LocalRabbitMQ) -> None:
    settings = settings_for(outage_node, queue_prefix="outage.", confirm_timeout_s=2.0, connect_timeout_s=2.0)
    clock = FixedClock()
    breaker = CircuitBreaker(3, COOLDOWN, clock)
    before = [alert_triggered(clock) for _ in range(50)]
    received: list[Event] = []

    async def collect(event: Event) -> None:
        received.append(event)

    consumer = EventConsumer(settings, EventType.REPORT_REQUESTED, collect)
    async with EventPublisher(settings, breaker=breaker) as publisher:
        await publisher.publish_many(before)  # confirmed: on disk in the durable alert queue
        await consumer.start()
        await asyncio.to_thread(outage_node.stop)

        for _ in range(3):
            with pytest.raises(PublishFailed):
                await publisher.publish(alert_triggered(clock))
        assert state_of(breaker) is BreakerState.OPEN

        started = time.perf_counter()
        with pytest.raises(CircuitOpenError) as raised:
            await publisher.publish(alert_triggered(clock))
        assert time.perf_counter() - started < 0.01  # fails fast: no connection attempt
        assert raised.value.retry_at == clock.now() + COOLDOWN

        clock.advance(COOLDOWN)
        with pytest.raises(PublishFailed):  # the half-open probe meets a broker that is still down
            await publisher.publish(alert_triggered(clock))
        assert state_of(breaker) is BreakerState.OPEN

        await asyncio.to_thread(outage_node.start)
        with pytest.raises(CircuitOpenError):  # still cooling down, even though the broker is back
            await publisher.publish(alert_triggered(clock))
        clock.advance(COOLDOWN)
        after = alert_triggered(clock)
        await publisher.publish(after)  # the probe succeeds
        assert state_of(breaker) is BreakerState.CLOSED and breaker.consecutive_failures == 0

        request = report_requested(clock)
        await publisher.publish(request)
        await wait_for(lambda: received == [request], timeout=30.0, what="the consumer resuming")
    await consumer.stop()

    async with inspector_for(outage_node) as inspector:
        messages = await inspector.take(Topology(settings).work_queue(EventType.ALERT_TRIGGERED), 51)
        assert await inspector.depth(Topology(settings).work_queue(EventType.ALERT_TRIGGERED)) == 0
    assert [decode_event(m.body) for m in messages] == [*before, after]


async def test_confirm_timeouts_open_the_circuit_while_the_broker_blocks_publishers(
    outage_node: LocalRabbitMQ,
) -> None:
    settings = settings_for(outage_node, queue_prefix="alarm.", confirm_timeout_s=0.5)
    clock = FixedClock()
    breaker = CircuitBreaker(2, COOLDOWN, clock)
    async with EventPublisher(settings, breaker=breaker) as publisher:
        await publisher.publish(report_requested(clock))
        # A memory alarm: the broker stops reading from publishing connections, so no confirm ever comes.
        outage_node.ctl("set_vm_memory_high_watermark", "0.000001")
        try:
            for _ in range(2):
                with pytest.raises(PublishFailed, match="no confirm") as raised:
                    await publisher.publish(report_requested(clock))
                assert isinstance(raised.value.__cause__, TimeoutError)
            assert state_of(breaker) is BreakerState.OPEN
            with pytest.raises(CircuitOpenError):
                await publisher.publish(report_requested(clock))
        finally:
            outage_node.ctl("set_vm_memory_high_watermark", "0.4")
        clock.advance(COOLDOWN)
        await publisher.publish(report_requested(clock))  # the probe is confirmed again
        assert state_of(breaker) is BreakerState.CLOSED
