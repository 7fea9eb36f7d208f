"""A Faust topic declaration for every captured table, plus the heartbeat and dead-letter topics.

Topic names follow Debezium: `<prefix>.<schema>.<table>`. Values stay raw bytes (decoded once by the
`ChangeDecoder`); keys are Debezium's JSON primary-key documents.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TopicT

from infra.postgres.tables import CAPTURED_TABLES, topic_for
from infra.settings import StackSettings


def heartbeat_topic_name(prefix: str) -> str:
    """Debezium's heartbeat topic for a connector whose topic.prefix is `prefix`."""
    return f"__debezium-heartbeat.{prefix}"


def dead_letter_topic_name(prefix: str) -> str:
    """Where records that cannot be decoded or applied go, with the reason in headers."""
    return f"{prefix}.dead-letter"


@dataclass(frozen=True)
class StreamTopics:
    """The topics the agents read and write."""

    tables: dict[str, TopicT]
    heartbeat: TopicT
    dead_letter: TopicT

    def for_table(self, table: str) -> TopicT:
        return self.tables[table]


def declare_topics(app: faust.App, settings: StackSettings) -> StreamTopics:
    """Declare (not create) every topic on `app`; Debezium creates the table topics."""
    prefix = settings.kafka.topic_prefix

    def raw(name: str) -> TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    return StreamTopics(
        tables={table: raw(topic_for(table, prefix)) for table in CAPTURED_TABLES},
        heartbeat=raw(heartbeat_topic_name(prefix)),
        dead_letter=raw(dead_letter_topic_name(prefix)),
    )


async def ensure_topics(settings: StackSettings, replication_factor: int = 1) -> list[str]:
    """Create every topic the worker reads or writes that does not exist yet; returns those created.

    Run before the worker subscribes: a consumer subscribed to a topic Debezium has not created yet would
    only notice it at its next metadata refresh (minutes), leaving that table's changes waiting.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    prefix = settings.kafka.topic_prefix
    wanted = [topic_for(t, prefix) for t in CAPTURED_TABLES]
    wanted += [heartbeat_topic_name(prefix), dead_letter_topic_name(prefix)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                await admin.create_topics([NewTopic(t, settings.kafka.partitions, replication_factor)
                                           for t in missing])
            except Exception:  # e.g. Debezium created one meanwhile: judge by what exists now
                still = [t for t in wanted if t not in set(await admin.list_topics())]
                if still:
                    raise

    finally:
        await admin.close()
    return missing
