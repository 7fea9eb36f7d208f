"""Publish with confirms, consume with acks, retry through TTL tiers, dead-letter: against a real RabbitMQ."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, cast
from uuid import UUID

import orjson
import pytest

from connectors.events.consumer import EventConsumer
from connectors.events.local_rabbitmq import LocalRabbitMQ
from connectors.events.models import Event, EventType, decode_event, encode_event
from connectors.events.publisher import EventPublisher
from connectors.events.settings import EventsSettings
from connectors.events.testing import alert_triggered, report_completed, report_failed, report_requested
from connectors.events.topology import Topology
from tests.integration.connectors_events.helpers import Inspector, settings_for, wait_for

pytestmark = pytest.mark.integration


async def test_published_events_are_consumed_and_acked(events_settings: EventsSettings, inspector: Inspector) -> None:
    events = [report_requested(correlation_id=f"run-{i}") for i in range(20)]
    seen: list[Event] = []

    async def handle(event: Event) -> None:
        seen.append(event)

    async with EventPublisher(events_settings) as publisher:
        await publisher.publish_many(events)
        async with EventConsumer(events_settings, EventType.REPORT_REQUESTED, handle) as consumer:
            await wait_for(lambda: consumer.stats.acked == 20, what="20 acks")
    assert sorted(e.event_id for e in seen) == sorted(e.event_id for e in events)
    assert seen == sorted(seen, key=lambda e: int(e.correlation_id.split("-")[1]))  # type: ignore[union-attr]
    assert await inspector.depth(consumer.queue_name) == 0  # acked, so gone
    assert await inspector.depth(events_settings.dead_letter_queue) == 0


async def test_messages_are_persistent_json_identified_by_event_id(
    events_settings: EventsSettings, inspector: Inspector
) -> None:
    event = report_completed(correlation_id="run-7")
    async with EventPublisher(events_settings) as publisher:
        await publisher.publish(event)
    [message] = await inspector.take(Topology(events_settings).work_queue(EventType.REPORT_COMPLETED), 1)
    assert message.delivery_mode == 2 and message.content_type == "application/json"
    assert UUID(message.message_id or "") == event.event_id
    assert (message.type, message.correlation_id, message.routing_key) == (
        "report.completed",
        "run-7",
        "report.completed",
    )
    assert decode_event(message.body) == event


async def test_each_event_type_reaches_only_its_own_queue(
    events_settings: EventsSettings, inspector: Inspector
) -> None:
    topology = Topology(events_settings)
    async with EventPublisher(events_settings) as publisher:
        await publisher.publish_many([report_failed(), report_failed(), alert_triggered()])
    depths = {t: await inspector.depth(topology.work_queue(t)) for t in EventType}
    assert depths == {
        EventType.REPORT_REQUESTED: 0,
        EventType.REPORT_COMPLETED: 0,
        EventType.REPORT_FAILED: 2,
        EventType.ALERT_TRIGGERED: 1,
    }


async def test_a_failing_handler_is_retried_through_the_ttl_tiers_and_succeeds(
    events_settings: EventsSettings, inspector: Inspector
) -> None:
    attempts: list[float] = []

    async def flaky(event: Event) -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 4:
            raise ConnectionError(f"SMS gateway busy (try {len(attempts)})")

    async with (
        EventPublisher(events_settings) as publisher,
        EventConsumer(events_settings, EventType.ALERT_TRIGGERED, flaky) as consumer,
    ):
        await publisher.publish(alert_triggered())
        await wait_for(lambda: consumer.stats.acked == 1, what="success on the 4th try")
    assert (consumer.stats.retried, consumer.stats.dead_lettered) == (3, 0)
    gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(attempts)]
    for gap, tier in zip(gaps_ms, events_settings.retry_delays_ms, strict=True):
        assert tier * 0.95 <= gap < tier + 1500, f"waited {gap:.0f} ms for the {tier} ms tier"
    assert await inspector.depth(events_settings.dead_letter_queue) == 0


async def test_exhausted_retries_go_to_the_dead_letter_queue_with_the_reason(
    rabbitmq: LocalRabbitMQ, inspector: Inspector
) -> None:
    settings = settings_for(rabbitmq, retry_delays_ms=(100, 200), max_attempts=3)
    calls = 0

    async def always_down(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("ClickHouse unavailable: Code 210")

    event = report_failed()
    async with (
        EventPublisher(settings) as publisher,
        EventConsumer(settings, EventType.REPORT_FAILED, always_down) as consumer,
    ):
        await publisher.publish(event)
        await wait_for(lambda: consumer.stats.dead_lettered == 1, what="dead-lettering")
    [dead] = await inspector.take(settings.dead_letter_queue, 1)
    headers = dead.headers
    assert calls == 3 and consumer.stats.retried == 2
    assert headers["x-lg-dead-reason"] == "max-attempts"
    assert headers["x-lg-error"] == "RuntimeError: ClickHouse unavailable: Code 210"
    prefix = settings.queue_prefix
    assert headers["x-lg-attempt"] == 3 and headers["x-lg-source-queue"] == f"{prefix}report.failed"
    deaths = cast(list[dict[str, Any]], headers["x-death"])
    expired = {(d["queue"], d["reason"], d["count"]) for d in deaths}
    assert expired == {
        (f"{prefix}report.failed.retry.100ms", "expired", 1),
        (f"{prefix}report.failed.retry.200ms", "expired", 1),
    }
    assert decode_event(dead.body) == event and UUID(dead.message_id or "") == event.event_id
    assert await inspector.depth(consumer.queue_name) == 0


async def test_poison_goes_to_the_dead_letter_queue_at_once_and_consumption_continues(
    events_settings: EventsSettings, inspector: Inspector
) -> None:
    good = report_requested()
    seen: list[Event] = []

    async def handle(event: Event) -> None:
        seen.append(event)

    invalid = orjson.loads(encode_event(report_requested()))
    invalid["report_type"] = "DROP TABLE"
    poison = [b"\x00\x01 not json", orjson.dumps(invalid), encode_event(report_failed())]
    async with EventConsumer(events_settings, EventType.REPORT_REQUESTED, handle) as consumer:
        for body in poison:
            await inspector.publish_raw(events_settings.exchange, "report.requested", body)
        async with EventPublisher(events_settings) as publisher:
            await publisher.publish(good)
        await wait_for(lambda: consumer.stats.acked == 1 and consumer.stats.dead_lettered == 3, what="all four")
    assert seen == [good] and consumer.stats.retried == 0
    dead = await inspector.take(events_settings.dead_letter_queue, 3)
    reasons = [m.headers["x-lg-dead-reason"] for m in dead]
    assert reasons == ["undecodable", "schema-invalid", "wrong-type"]
    assert "report_type" in str(dead[1].headers["x-lg-error"])
    assert [m.body for m in dead] == poison


async def test_a_consumer_that_dies_mid_message_loses_nothing(
    events_settings: EventsSettings, inspector: Inspector
) -> None:
    release = asyncio.Event()  # never set: the first consumer's handler hangs
    first_calls: list[Event] = []
    second_calls: list[Event] = []

    cancelled: list[bool] = []

    async def stuck(event: Event) -> None:
        first_calls.append(event)
        try:
            await release.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def works(event: Event) -> None:
        second_calls.append(event)

    event = report_requested()
    async with EventPublisher(events_settings) as publisher:
        await publisher.publish(event)
    first = EventConsumer(events_settings, EventType.REPORT_REQUESTED, stuck)
    await first.start()
    await wait_for(lambda: len(first_calls) == 1, what="first delivery")
    await first.stop(drain_timeout=0.1)  # the connection closes with the message unacked
    async with EventConsumer(events_settings, EventType.REPORT_REQUESTED, works) as second:
        await wait_for(lambda: second.stats.acked == 1, what="redelivery")
    assert cancelled == [True]  # closing the channel cancelled the handler that outlived drain_timeout
    assert second_calls == [event] and first.stats.acked == 0
    assert await inspector.depth(second.queue_name) == 0
