"""The Faust application, built on demand from settings (nothing is created at import time).

Agents (in `agents/`) attach to the app returned by `create_app`; the worker is started by the stack
(`python -m streams.worker`). Records are consumed as raw bytes and decoded once by
`schemas.decode.ChangeDecoder`, because Faust's own codecs would parse every record a second time.
"""

from __future__ import annotations

import faust

from infra.settings import StackSettings


def create_app(settings: StackSettings, *, app_id: str = "luckygas-analytics") -> faust.App:
    """A Faust app bound to the configured Kafka cluster, with RocksDB-free in-memory tables.

    Table state is rebuilt from changelog topics on start; durable results live in ClickHouse.
    """
    return faust.App(
        app_id,
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        store="memory://",
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=1,
        timezone=settings.timezone,
        web_enabled=False,
        autodiscover=False,
        producer_compression_type="lz4",
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=settings.worker.batch_max,
        broker_session_timeout=settings.worker.session_timeout_seconds,
        datadir=str(settings.state_dir / "faust"),
    )
