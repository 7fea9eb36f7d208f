"""Helpers of the RabbitMQ integration tests: nodes on free loopback ports, per-test settings with their own
exchange and queues, and an inspector that looks into queues directly."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from connectors.events.local_rabbitmq import LocalRabbitMQ, free_loopback_ports
from connectors.events.settings import EventsSettings

_names = itertools.count(1)


def new_node(base_dir: Path) -> LocalRabbitMQ:
    amqp, dist, epmd = free_loopback_ports(3)
    return LocalRabbitMQ(base_dir, amqp, dist, epmd, nodename=f"rabbit-test-{secrets.token_hex(4)}@localhost")


def node_fixture(node: LocalRabbitMQ) -> Iterator[LocalRabbitMQ]:
    """Start the node; at the end stop it and check that none of its processes is left."""
    node.start()
    try:
        yield node
    finally:
        node.stop()
        assert node.leftovers() == [], "processes of the test broker outlived stop()"


def settings_for(node: LocalRabbitMQ, **overrides: Any) -> EventsSettings:
    """Settings on `node` with an exchange and queues no other test uses, and short retry tiers."""
    n = next(_names)
    values: dict[str, Any] = {
        "amqp_url": node.amqp_url,
        "password": node.password,
        "exchange": f"t{n}.report.events",
        "queue_prefix": f"t{n}.",
        "dead_letter_exchange": f"t{n}.report.events.dlx",
        "dead_letter_queue": f"t{n}.report.events.dlq",
        "retry_delays_ms": (200, 400, 800),
        "max_attempts": 4,
        "prefetch": 20,
        "confirm_timeout_s": 5.0,
        "connect_timeout_s": 3.0,
    }
    return EventsSettings(_env_file=None, **(values | overrides))


class Inspector:
    """Looks into queues directly (a separate connection), the way an operator would."""

    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel

    async def depth(self, queue: str) -> int:
        declared = await self.channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        return int(count or 0)

    async def take(self, queue: str, count: int, timeout: float = 10.0) -> list[AbstractIncomingMessage]:
        """`count` messages from `queue` (acked), waiting up to `timeout` for them to arrive."""
        target = await self.channel.declare_queue(queue, passive=True)
        taken: list[AbstractIncomingMessage] = []
        deadline = time.monotonic() + timeout
        while len(taken) < count:
            message = await target.get(fail=False)
            if message is None:
                assert time.monotonic() < deadline, f"{queue}: {len(taken)} of {count} messages after {timeout}s"
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            taken.append(message)
        return taken

    async def publish_raw(self, exchange: str, routing_key: str, body: bytes) -> None:
        target = await self.channel.get_exchange(exchange)
        await target.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key)


@contextlib.asynccontextmanager
async def inspector_for(node: LocalRabbitMQ) -> AsyncIterator[Inspector]:
    connection: AbstractConnection = await aio_pika.connect(
        f"amqp://{node.user}:{node.password.get_secret_value()}@127.0.0.1:{node.amqp_port}/"
    )
    async with connection:
        yield Inspector(await connection.channel(publisher_confirms=True))


async def wait_for(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `check()` (sync) until true, failing the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        await asyncio.sleep(0.02)
