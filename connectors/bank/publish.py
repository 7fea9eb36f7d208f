"""Hand accepted statement files and rejections to Kafka, where the product picks them up.

Contract: `KafkaStatementPublisher.publish_file` sends one record per accepted file to
`<prefix>.bank.statement-files` (key: the file's sha256, value: `imported_file_to_json`) and returns only
when the broker has it on every in-sync replica (acks=all, idempotent producer); it raises on failure, so
the importer remembers nothing and the next pull retries the file. `publish_rejection` does the same for an
exception record on `<prefix>.bank.import-exceptions` (key: sha256). A file is one record, so a consumer
sees all of it or none of it; records up to `MAX_MESSAGE_BYTES` (zstd-compressed on the wire) are allowed
and the topics are created with that limit.
"""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaProducer

from connectors.bank.exceptions_log import ExceptionRecord
from connectors.bank.statement import ImportedFile, imported_file_to_json
from infra.settings import StackSettings
from streams.topics import (
    bank_import_exceptions_topic_name,
    bank_statement_files_topic_name,
    bank_topic_names,
    create_missing_topics,
)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024


async def ensure_bank_topics(settings: StackSettings) -> list[str]:
    """Create the bank topics that do not exist yet; returns those created."""
    return await create_missing_topics(settings, bank_topic_names(settings.kafka.topic_prefix),
                                       config={"max.message.bytes": str(MAX_MESSAGE_BYTES)})


class KafkaStatementPublisher:
    """One producer for the importer's lifetime; `start` before the first publish, `stop` at the end."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        prefix = settings.kafka.topic_prefix
        self.files_topic = bank_statement_files_topic_name(prefix)
        self.exceptions_topic = bank_import_exceptions_topic_name(prefix)
        self._started: AIOKafkaProducer | None = None

    async def start(self) -> None:
        await ensure_bank_topics(self.settings)
        # aiokafka binds a producer to the running loop, so it is made here, not in __init__.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka.bootstrap_servers, acks="all", enable_idempotence=True,
            compression_type="zstd", max_request_size=MAX_MESSAGE_BYTES, request_timeout_ms=30_000,
        )
        await producer.start()
        self._started = producer

    async def stop(self) -> None:
        if self._started is not None:
            await self._started.stop()
            self._started = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("KafkaStatementPublisher.start() was not called")
        return self._started

    async def publish_file(self, imported: ImportedFile) -> None:
        """Deliver an accepted file (the importer's `deliver`)."""
        await self._producer.send_and_wait(self.files_topic, imported_file_to_json(imported),
                                           key=imported.sha256.encode())

    async def publish_rejection(self, record: ExceptionRecord) -> None:
        """Deliver the record of a rejected file."""
        await self._producer.send_and_wait(self.exceptions_topic, orjson.dumps(record.to_dict()),
                                           key=record.sha256.encode())
