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


def change_feed_topic_name(prefix: str) -> str:
    """The change feed the worker publishes after each written batch (`schemas.changefeed`)."""
    return f"{prefix}.analytics.changes"


def bank_statement_files_topic_name(prefix: str) -> str:
    """Accepted bank statement files, one record per file (key: the file's sha256; value: the whole file as
    `connectors.bank.statement.imported_file_to_json` writes it)."""
    return f"{prefix}.bank.statement-files"


def bank_import_exceptions_topic_name(prefix: str) -> str:
    """Rejected bank statement files, one record per rejection (the exception record as JSON)."""
    return f"{prefix}.bank.import-exceptions"


def bank_topic_names(prefix: str) -> list[str]:
    return [bank_statement_files_topic_name(prefix), bank_import_exceptions_topic_name(prefix)]


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
    prefix = settings.kafka.topic_prefix
    wanted = [topic_for(t, prefix) for t in CAPTURED_TABLES]
    wanted += [heartbeat_topic_name(prefix), dead_letter_topic_name(prefix), change_feed_topic_name(prefix)]
    return await create_missing_topics(settings, wanted, replication_factor)


async def create_missing_topics(settings: StackSettings, wanted: list[str], replication_factor: int = 1,
                                config: dict[str, str] | None = None) -> list[str]:
    """Create those of `wanted` that do not exist yet (with `config`, e.g. a larger max.message.bytes);
    returns those created. Safe when another process creates one at the same time."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                await admin.create_topics([NewTopic(t, settings.kafka.partitions, replication_factor,
                                                    topic_configs=config or {}) for t in missing])
            except Exception:  # e.g. Debezium created one meanwhile: judge by what exists now
                still = [t for t in wanted if t not in set(await admin.list_topics())]
                if still:
                    raise

    finally:
        await admin.close()
    return missing
