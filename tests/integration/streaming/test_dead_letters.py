"""A malformed record goes to the dead-letter topic with topic, offset and reason; processing continues."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from infra.clickhouse.runner import get_client
from infra.postgres.tables import topic_for
from infra.settings import StackSettings
from tests.integration.kafka_helpers import dead_letter, produce
from tests.integration.streaming.helpers import simulator_running, wait_until_verified

pytestmark = pytest.mark.integration

GARBAGE = b'{"op": "u", "after": {"order_id": "not a number"}}'


def test_malformed_change_is_dead_lettered_and_the_stream_goes_on(stack: StackSettings) -> None:
    topic = topic_for("w200.order_master", stack.kafka.topic_prefix)
    offset = asyncio.run(produce(stack, topic, GARBAGE))
    client = get_client(stack)
    try:
        deadline = time.monotonic() + 60
        rows: Sequence[Sequence[Any]] = []
        while not rows and time.monotonic() < deadline:
            rows = client.query("SELECT reason, value FROM dead_letters FINAL WHERE topic = {t:String} "
                                "AND offset = {o:Int64}", parameters={"t": topic, "o": offset}).result_rows
            time.sleep(0.5)
    finally:
        client.close()
    assert rows, "the malformed record never reached the dead_letters table"
    reason, value = rows[0]
    assert "after.order_id: Input should be a valid integer" in reason and value == GARBAGE.decode()
    value, headers = asyncio.run(dead_letter(stack, f"{topic}:0:{offset}".encode()))
    assert value == GARBAGE
    assert headers["source-topic"] == topic.encode() and headers["source-offset"] == str(offset).encode()
    assert headers["reason"].decode() == reason
    with simulator_running(stack, rate=100, seconds=8, seed=11) as simulator:
        output, _ = simulator.communicate(timeout=60)
    assert simulator.returncode == 0, output.decode()[-2000:]
    assert wait_until_verified(stack, timeout=90) == []
