"""Read topics from the beginning up to their current end: for verification, tests and benchmarks.

Contract: `read_to_end` snapshots each partition's end offset when called, then returns every record
below it (in partition order), or raises TimeoutError if they do not all arrive within `timeout`.
It never commits offsets (no consumer group), so it disturbs no other reader.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


@dataclass(frozen=True)
class RawRecord:
    """One Kafka record as read: where it came from, its bytes, and when it was received."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    received_at: float  # time.time() when this reader got it


async def start_consumer(consumer: AIOKafkaConsumer) -> None:
    """Start a consumer and let its background tasks begin: aiokafka 0.14 raises CancelledError from
    stop() when a group-less consumer is stopped before its reset task ever ran."""
    await consumer.start()
    await asyncio.sleep(0)


async def read_to_end(bootstrap: str, topics: Iterable[str], timeout: float = 60.0,
                      from_offsets: dict[TopicPartition, int] | None = None) -> list[RawRecord]:
    """Every record of `topics` from the start (or `from_offsets`) up to the end offsets seen now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None)
    partitions = await topic_partitions(bootstrap, list(topics))
    await start_consumer(consumer)
    try:
        if not partitions:
            return []
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            start = (from_offsets or {}).get(tp)
            if start is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start)
        return await _drain(consumer, ends, timeout)
    finally:
        await consumer.stop()


async def _drain(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int], timeout: float) -> list[RawRecord]:
    records: list[RawRecord] = []
    pending = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"records of {sorted(str(tp) for tp in pending)} did not arrive within {timeout}s")
        batch = await consumer.getmany(*pending, timeout_ms=500, max_records=10_000)
        now = time.time()
        for tp, messages in batch.items():
            for m in messages:
                if m.offset < ends[tp]:
                    records.append(RawRecord(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp, now))
            if await consumer.position(tp) >= ends[tp]:
                pending.discard(tp)
    return records


async def topic_partitions(bootstrap: str, topics: list[str]) -> list[TopicPartition]:
    """The partitions of those of `topics` that exist (a missing topic has none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sorted(
        TopicPartition(d["topic"], p["partition"])
        for d in described if d.get("error_code", 0) == 0
        for p in d.get("partitions", [])
    )


async def topic_names(bootstrap: str) -> set[str]:
    """The topics that exist on the cluster now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await start_consumer(consumer)
    try:
        return set(await consumer.topics())
    finally:
        await consumer.stop()

