"""The Faust app and topic declarations: built lazily from settings, one topic per captured table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from infra.postgres.tables import CAPTURED_TABLES
from infra.settings import KafkaSettings, StackSettings
from schemas.registry import TABLES
from streams.app import create_app
from streams.batches import WholeFetchConsumer, deliver_whole_fetches
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


def test_whole_fetches_replace_only_the_consumer_and_must_come_before_it(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka=KafkaSettings(topic_prefix="lgtest"))
    app = create_app(settings)
    topic = app.topic("lgtest.w200.order_master", key_type=bytes, value_type=bytes, acks=False)
    channel = deliver_whole_fetches(app, topic)
    consumer_class: Any = app.transport.Consumer  # what the app will build its consumer from (not built here:
    assert issubclass(consumer_class, WholeFetchConsumer)  # building it starts the consumer thread's loop)
    assert consumer_class.target is channel
    assert topic in app.topics  # subscribed by Faust's conductor like any agent's topic
    assert app.conf.broker_max_poll_records == settings.worker.batch_max  # a fetch is at most one batch

    late = create_app(settings)
    late.consumer = cast(Any, object())  # any consumer already made: too late to choose its class
    with pytest.raises(RuntimeError, match="before the app's consumer exists"):
        deliver_whole_fetches(late, late.topic("lgtest.w200.order_master"))
