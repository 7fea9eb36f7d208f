"""The Faust app and topic declarations: built lazily from settings, one topic per captured table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka.structs import ConsumerRecord

from infra.postgres.tables import CAPTURED_TABLES
from infra.settings import KafkaSettings, StackSettings
from schemas.registry import TABLES
from streams.app import create_app
from streams.batches import BatchingConsumer, FetchBuffer, deliver_in_batches
from streams.topics import declare_topics


def test_every_captured_table_has_a_model_and_a_topic(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka=KafkaSettings(topic_prefix="lgtest"))
    app = create_app(settings)
    topics = declare_topics(app, settings)
    assert set(CAPTURED_TABLES) == set(TABLES)
    assert {t.get_topic_name() for t in topics.tables.values()} == {f"lgtest.{t}" for t in CAPTURED_TABLES}
    assert topics.heartbeat.get_topic_name() == "__debezium-heartbeat.lgtest"
    assert topics.dead_letter.get_topic_name() == "lgtest.dead-letter"
    assert str(app.conf.broker[0]) == "kafka://127.0.0.1:19092"


def test_schema_sql_and_models_agree() -> None:
    """Every column in schema.sql appears in its row model, in order, and nothing else does."""
    import re

    sql = (Path(__file__).resolve().parents[2] / "infra" / "postgres" / "schema.sql").read_text()
    for name, spec in TABLES.items():
        body = re.search(rf"CREATE TABLE IF NOT EXISTS {re.escape(name)} \((.*?)\n\);", sql, re.S)
        assert body is not None, name
        columns = [m.group(1) for m in re.finditer(r"^\s{4}([a-z_]+)\s+(?!KEY)", body.group(1), re.M)
                   if m.group(1) not in ("unique", "check")]
        assert columns == list(spec.model.model_fields), name


def test_batches_replace_only_the_consumer_and_must_come_before_it(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka=KafkaSettings(topic_prefix="lgtest"))
    app = create_app(settings)
    topic = app.topic("lgtest.w200.order_master", key_type=bytes, value_type=bytes, acks=False)
    wake = deliver_in_batches(app, topic, limit=3, fetch_max_wait_ms=40)
    consumer_class: Any = app.transport.Consumer  # what the app will build its consumer from (not built here:
    assert issubclass(consumer_class, BatchingConsumer)  # building it starts the consumer thread's loop)
    assert consumer_class.wake is wake and consumer_class.buffer.limit == 3
    assert consumer_class.thread_class.fetch_max_wait_ms == 40  # not Faust's fixed 1,500 ms
    assert topic in app.topics  # subscribed by Faust's conductor like any agent's topic
    assert app.conf.broker_max_poll_records == settings.worker.batch_max  # one fetch is at most one batch

    late = create_app(settings)
    late.consumer = cast(Any, object())  # any consumer already made: too late to choose its class
    with pytest.raises(RuntimeError, match="before the app's consumer exists"):
        deliver_in_batches(late, late.topic("lgtest.w200.order_master"), limit=3)


def test_the_buffer_hands_over_everything_fetched_and_has_no_room_at_its_limit() -> None:
    buffer = FetchBuffer(limit=3)
    first = [ConsumerRecord("t", 0, offset, 0, 0, None, b"", None, 0, 0, ()) for offset in range(2)]
    buffer.add(first)
    assert buffer.has_room()  # 2 < 3: the consumer's thread may fetch again
    buffer.add(first[:1])
    assert not buffer.has_room()  # 3 wait: fetching pauses until the agent takes them
    assert [r.offset for r in buffer.take()] == [0, 1, 0]
    assert buffer.has_room() and buffer.take() == [] and len(buffer) == 0
