"""Configuration of the Debezium PostgreSQL source connector.

What downstream code receives (the contract `schemas/` decodes):
- one topic per table, `<prefix>.<schema>.<table>`; values are Debezium envelopes in plain JSON
  (JsonConverter, `schemas.enable=false`: our pydantic models are the schema, not the wire);
- numeric as strings (`decimal.handling.mode=string`: exact, never base64), date as days since epoch,
  timestamptz as ISO-8601 UTC strings (`time.precision.mode=adaptive`, the default);
- NULL stays null even where a column has a default (`replace.null.with.default=false`);
- no tombstones after deletes (topics are not compacted; history is kept for rebuilding);
- transaction metadata on every event (`transaction.id/total_order`) and BEGIN/END on `<prefix>.transaction`;
- heartbeats on `__debezium-heartbeat.<prefix>` every `heartbeat_interval_ms`, so a quiet table's freshness
  and the replication slot both keep advancing;
- `analytics.verify_barrier` captured as well (its topic is not consumed): a verify's barrier request is a
  change, so the slot's confirmed position passes the barrier's point even when nothing else changes.
The database password is not stored in Connect's config topic: it is read through Connect's
FileConfigProvider from a secrets file written by the stack (`secrets_file`).
"""

from __future__ import annotations

from pathlib import Path

from infra.settings import StackSettings

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
# Captured beside the business tables: a verify barrier request must move the slot (agents/barrier.py).
BARRIER_TABLE = "analytics.verify_barrier"


def secrets_properties(settings: StackSettings) -> str:
    """The contents of the secrets file the worker's FileConfigProvider reads."""
    return f"postgres.password={settings.postgres.password.get_secret_value()}\n"


def connector_config(settings: StackSettings, tables: list[str], secrets_file: Path) -> dict[str, str]:
    """The connector's configuration for capturing the schema-qualified `tables`."""
    pg, kafka = settings.postgres, settings.kafka
    return {
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": "1",
        "database.hostname": pg.host,
        "database.port": str(pg.port),
        "database.user": pg.user,
        "database.password": f"${{file:{secrets_file}:postgres.password}}",
        "database.dbname": pg.database,
        "topic.prefix": kafka.topic_prefix,
        "plugin.name": "pgoutput",
        "slot.name": pg.slot_name,
        "publication.name": pg.publication_name,
        "publication.autocreate.mode": "filtered",
        "table.include.list": ",".join([*tables, *([BARRIER_TABLE] if BARRIER_TABLE not in tables else [])]),
        "snapshot.mode": "initial",
        "decimal.handling.mode": "string",
        "time.precision.mode": "adaptive",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "value.converter.replace.null.with.default": "false",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "tombstones.on.delete": "false",
        "provide.transaction.metadata": "true",
        "heartbeat.interval.ms": str(settings.connect.heartbeat_interval_ms),
        # Latency: wait at most 50 ms for more changes before handing a batch to Kafka.
        "poll.interval.ms": "50",
        "max.batch.size": "4096",
        "max.queue.size": "32768",
        # A lost database connection is retried forever; Connect restarts the task.
        "errors.max.retries": "-1",
        "errors.retry.delay.initial.ms": "500",
        "errors.retry.delay.max.ms": "10000",
        # Topics Connect creates: kept forever (aggregates are rebuilt from them), lz4-compressed.
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": str(kafka.partitions),
        "topic.creation.default.retention.ms": "-1",
        "topic.creation.default.compression.type": "lz4",
    }
