"""Timing script: events/s published with confirms and consumed with acks (not a test; prints figures).

Run: `python -m connectors.events.measure_throughput [--events 10000] [--queue-type quorum|classic]`.
Starts a private RabbitMQ node in a temporary directory (free loopback ports), then measures on it:
1. `publish` one event at a time, each awaiting its confirm (latency-bound);
2. `publish_many` with 100 confirms in flight;
3. an `EventConsumer` (prefetch 200) decoding, handling (no-op) and acking everything published.
Events are ~470-byte `AlertTriggered` JSON, persistent, into a durable queue. The node is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path
from typing import Literal

from connectors.events.consumer import EventConsumer
from connectors.events.local_rabbitmq import LocalRabbitMQ, free_loopback_ports
from connectors.events.models import Event, EventType, encode_event
from connectors.events.publisher import EventPublisher
from connectors.events.settings import EventsSettings
from connectors.events.testing import alert_triggered


async def measure(settings: EventsSettings, events: int) -> dict[str, float]:
    """Rates (events/s) of the three phases in the module docstring."""
    sequential = [alert_triggered() for _ in range(max(events // 5, 1))]
    pipelined = [alert_triggered() for _ in range(events)]
    rates: dict[str, float] = {}
    async with EventPublisher(settings) as publisher:
        await publisher.publish(alert_triggered())  # connect + declare outside the timing
        start = time.perf_counter()
        for event in sequential:
            await publisher.publish(event)
        rates["publish, 1 in flight"] = len(sequential) / (time.perf_counter() - start)
        start = time.perf_counter()
        await publisher.publish_many(pipelined, concurrency=100)
        rates["publish, 100 in flight"] = len(pipelined) / (time.perf_counter() - start)
    total = len(sequential) + len(pipelined) + 1

    async def handle(event: Event) -> None:
        return None

    consumer = EventConsumer(settings.model_copy(update={"prefetch": 200}), EventType.ALERT_TRIGGERED, handle)
    start = time.perf_counter()
    await consumer.start()
    while consumer.stats.acked < total:
        await asyncio.sleep(0.01)
    rates["consume + ack"] = total / (time.perf_counter() - start)
    await consumer.stop()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--queue-type", choices=["quorum", "classic"], default="quorum")
    args = parser.parse_args()
    queue_type: Literal["quorum", "classic"] = args.queue_type
    with tempfile.TemporaryDirectory(prefix="rabbitmq-bench-") as tmp:
        amqp, dist, epmd = free_loopback_ports(3)
        node = LocalRabbitMQ(Path(tmp), amqp, dist, epmd, nodename=f"rabbit-bench-{secrets.token_hex(4)}@localhost")
        node.start()
        try:
            settings = EventsSettings(
                _env_file=None, amqp_url=node.amqp_url, password=node.password, queue_type=queue_type
            )
            rates = asyncio.run(measure(settings, args.events))
        finally:
            node.stop()
    size = len(encode_event(alert_triggered()))
    for phase, rate in rates.items():
        print(f"{queue_type:7} {phase:24} {rate:9,.0f} events/s  ({size}-byte events, persistent)")


if __name__ == "__main__":
    main()
