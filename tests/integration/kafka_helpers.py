"""Kafka helpers the integration tests share: produce one record, find a record on the dead-letter topic."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from infra.settings import StackSettings
from streams.replay import start_consumer
from streams.topics import dead_letter_topic_name


async def produce(settings: StackSettings, topic: str, value: bytes) -> int:
    """Send `value` to `topic` and return its offset once the broker has it."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        return int((await producer.send_and_wait(topic, value)).offset)
    finally:
        await producer.stop()


async def dead_letter(settings: StackSettings, key: bytes, timeout: float = 60.0) -> tuple[bytes, dict[str, bytes]]:
    """(value, headers) of the dead-letter record with `key`; TimeoutError if none arrives in time."""
    consumer = AIOKafkaConsumer(dead_letter_topic_name(settings.kafka.topic_prefix), group_id=None,
                                bootstrap_servers=settings.kafka.bootstrap_servers, auto_offset_reset="earliest")
    await start_consumer(consumer)
    try:
        async with asyncio.timeout(timeout):
            async for record in consumer:
                if record.key == key:
                    return record.value or b"", dict(record.headers)
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")
