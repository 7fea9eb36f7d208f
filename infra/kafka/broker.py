"""One Kafka broker in KRaft mode (broker and controller in one process), bound to 127.0.0.1.

Contract: `start_kafka` formats the storage once (idempotent), starts the broker unless it runs, and
returns when the client port accepts connections and the cluster answers a metadata request.
`stop_kafka` shuts it down cleanly (SIGTERM: the log is flushed, nothing is lost).
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka.jars import ensure_jars, java_command
from infra.process import ManagedProcess, StackError, port_open, wait_until
from infra.settings import StackSettings


def _host_port(settings: StackSettings) -> tuple[str, int]:
    host, port = settings.kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)
    return host, int(port)


def data_dir(settings: StackSettings) -> Path:
    return settings.state_dir / "kafka" / "data"


def server_properties(settings: StackSettings) -> str:
    host, port = _host_port(settings)
    controller = f"{host}:{settings.kafka.controller_port}"
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers={controller}",
        f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{controller}",
        f"advertised.listeners=PLAINTEXT://{host}:{port},CONTROLLER://{controller}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={data_dir(settings)}",
        f"num.partitions={settings.kafka.partitions}",
        "auto.create.topics.enable=true",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        # The default 128 MB dedupe buffer would take a quarter of our heap for compaction alone.
        "log.cleaner.dedupe.buffer.size=8388608",
        # Change history is the source of truth for rebuilding aggregates: keep it.
        "log.retention.hours=-1",
        "",
    ])


def kafka_process(settings: StackSettings) -> ManagedProcess:
    conf = settings.state_dir / "conf" / "server.properties"
    argv = java_command(settings, settings.kafka.heap_mb, "kafka.Kafka", str(conf))
    return ManagedProcess("kafka", argv, settings.state_dir, stop_timeout=60)


def _format_storage(settings: StackSettings, conf: Path) -> None:
    if (data_dir(settings) / "meta.properties").exists():
        return
    uuid = subprocess.run(java_command(settings, 128, "kafka.tools.StorageTool", "random-uuid"),
                          capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    result = subprocess.run(
        java_command(settings, 128, "kafka.tools.StorageTool", "format", "-t", uuid, "-c", str(conf),
                     "--standalone", "--ignore-formatted"),
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise StackError(f"formatting Kafka storage failed: {result.stderr[-2000:] or result.stdout[-2000:]}")


def start_kafka(settings: StackSettings, timeout: float = 90.0) -> None:
    ensure_jars(settings)
    process = kafka_process(settings)
    if not process.running():
        conf = settings.state_dir / "conf" / "server.properties"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(server_properties(settings))
        data_dir(settings).mkdir(parents=True, exist_ok=True)
        _format_storage(settings, conf)
        process.start()
    wait_until(lambda: kafka_healthy(settings) or _died(process), timeout, "Kafka broker", process.log_file)
    if not process.running() and not kafka_healthy(settings):
        raise StackError(f"Kafka broker exited; see {process.log_file}")


def _died(process: ManagedProcess) -> bool:
    return not process.running()


def kafka_healthy(settings: StackSettings) -> bool:
    """The client port is open and the cluster answers a metadata request."""
    host, port = _host_port(settings)
    if not port_open(host, port):
        return False
    try:
        return asyncio.run(asyncio.wait_for(_list_topics(settings), 10))
    except Exception:  # any failure to answer means "not healthy", the caller reports it
        return False


async def _list_topics(settings: StackSettings) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers, request_timeout_ms=5000)
    await admin.start()
    try:
        await admin.list_topics()
        return True
    finally:
        await admin.close()


def stop_kafka(settings: StackSettings) -> None:
    kafka_process(settings).stop()


def kill_kafka(settings: StackSettings) -> None:
    kafka_process(settings).kill()
