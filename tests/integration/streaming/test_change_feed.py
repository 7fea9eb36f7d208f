"""The change feed: after a live workload, the newest version of every order the feed announced is exactly the
one ClickHouse holds, the feed's positions only move forward, and aggregate cells come with each batch."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from aiokafka import AIOKafkaConsumer

from infra.clickhouse.runner import get_client
from infra.settings import StackSettings
from schemas.changefeed import FeedMessage, decode_message
from streams.replay import start_consumer
from streams.topics import change_feed_topic_name
from tests.integration.streaming.helpers import simulator_running, wait_until_verified

pytestmark = pytest.mark.integration

ORDERS = "cur_w200_order_master"


async def _read_all(stack: StackSettings) -> list[FeedMessage]:
    consumer = AIOKafkaConsumer(change_feed_topic_name(stack.kafka.topic_prefix), group_id=None,
                                bootstrap_servers=stack.kafka.bootstrap_servers, auto_offset_reset="earliest")
    await start_consumer(consumer)
    try:
        batches = await consumer.getmany(timeout_ms=5_000, max_records=1_000_000)
        messages = [decode_message(r.value or b"") for records in batches.values() for r in records]
        while batch := await consumer.getmany(timeout_ms=2_000):
            messages += [decode_message(r.value or b"") for records in batch.values() for r in records]
        return messages
    finally:
        await consumer.stop()


def test_the_feed_announces_exactly_what_clickhouse_holds(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    with simulator_running(stack, rate=80, seconds=15, seed=31) as simulator:
        simulator.wait(timeout=120)
    assert wait_until_verified(stack, timeout=120) == []
    messages = asyncio.run(_read_all(stack))
    assert messages, "nothing on the change feed"
    newest: dict[int, int] = {}
    for message in messages:
        for row in message.tables.get(ORDERS, []):
            newest[row["order_id"]] = max(newest.get(row["order_id"], 0), row["_version"])
    assert len(newest) > 50
    client = get_client(stack)
    try:
        result = client.query(f"SELECT order_id, _version FROM {ORDERS} FINAL WHERE order_id IN {{ids:Array(Int64)}}",
                              parameters={"ids": list(newest)})
        held = {int(order_id): int(version) for order_id, version in result.result_rows}
    finally:
        client.close()
    assert held == newest
    # Within one run of the worker, the positions never go back and seq counts up.
    by_run: dict[str, list[FeedMessage]] = {}
    for message in messages:
        by_run.setdefault(message.run, []).append(message)
    for run in by_run.values():
        assert [m.seq for m in run] == sorted(m.seq for m in run)
        for before, after in itertools.pairwise(run):
            assert all(after.positions.get(tp, 0) >= offset for tp, offset in before.positions.items())
    assert any("agg_sales" in m.tables for m in messages)
