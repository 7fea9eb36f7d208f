"""Kafka Connect in distributed mode (one worker) running the Debezium PostgreSQL connector.

Contract: `start_connect` starts the worker unless it runs and waits for its REST API;
`register_connector` PUTs the connector configuration (idempotent: same config, no restart);
`connect_healthy` is true only when the worker answers and the connector and all its tasks are RUNNING
(`ensure_connector_running` restarts failed ones, e.g. after the database or Kafka went away longer than
the retries cover). `stop_connect` sends SIGTERM: the worker commits its source offsets on the way out,
so the changes made while it is down are streamed once after the next start.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx

from connectors.debezium.postgres_connector import connector_config, secrets_properties
from infra.kafka.jars import ensure_jars, java_command
from infra.process import ManagedProcess, StackError, wait_until
from infra.settings import StackSettings


def _rest_port(settings: StackSettings) -> int:
    return int(settings.connect.rest_url.rstrip("/").rsplit(":", 1)[1])


def secrets_file(settings: StackSettings) -> Path:
    return settings.state_dir / "conf" / "connect-secrets.properties"


def worker_properties(settings: StackSettings) -> str:
    host = settings.connect.rest_url.split("//", 1)[1].rsplit(":", 1)[0]
    return "\n".join([
        f"bootstrap.servers={settings.kafka.bootstrap_servers}",
        "group.id=luckygas-connect",
        f"listeners=http://{host}:{_rest_port(settings)}",
        "config.storage.topic=_connect-configs",
        "offset.storage.topic=_connect-offsets",
        "status.storage.topic=_connect-status",
        "config.storage.replication.factor=1",
        "offset.storage.replication.factor=1",
        "status.storage.replication.factor=1",
        "offset.storage.partitions=1",
        "status.storage.partitions=1",
        "scheduled.rebalance.max.delay.ms=0",
        "key.converter=org.apache.kafka.connect.json.JsonConverter",
        "value.converter=org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable=false",
        "value.converter.schemas.enable=false",
        # Commit source offsets every second: after a crash at most ~1 s of changes is sent again.
        "offset.flush.interval.ms=1000",
        "plugin.discovery=service_load",
        "config.providers=file",
        "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider",
        "producer.linger.ms=5",
        "producer.batch.size=262144",
        "producer.compression.type=lz4",
        "producer.acks=all",
        "",
    ])


def connect_process(settings: StackSettings) -> ManagedProcess:
    conf = settings.state_dir / "conf" / "connect-worker.properties"
    argv = java_command(settings, settings.connect.heap_mb,
                        "org.apache.kafka.connect.cli.ConnectDistributed", str(conf))
    return ManagedProcess("connect", argv, settings.state_dir, stop_timeout=60)


def _get(settings: StackSettings, path: str) -> httpx.Response | None:
    try:
        return httpx.get(settings.connect.rest_url + path, timeout=5)
    except httpx.HTTPError:
        return None


def worker_ready(settings: StackSettings) -> bool:
    response = _get(settings, "/health")
    return response is not None and response.status_code == 200


def start_connect(settings: StackSettings, timeout: float = 120.0) -> None:
    ensure_jars(settings)
    process = connect_process(settings)
    if not process.running():
        conf_dir = settings.state_dir / "conf"
        conf_dir.mkdir(parents=True, exist_ok=True)
        (conf_dir / "connect-worker.properties").write_text(worker_properties(settings))
        secrets = secrets_file(settings)
        secrets.write_text(secrets_properties(settings))
        secrets.chmod(0o600)
        process.start()
    wait_until(lambda: worker_ready(settings) or not process.running(), timeout, "Kafka Connect", process.log_file)
    if not process.running():
        raise StackError(f"Kafka Connect exited; see {process.log_file}")


def register_connector(settings: StackSettings, tables: list[str], timeout: float = 120.0) -> None:
    """Create or update the connector, then wait until it and its task run."""
    config = connector_config(settings, tables, secrets_file(settings))
    url = f"{settings.connect.rest_url}/connectors/{settings.connect.connector_name}/config"
    response = httpx.put(url, json=config, timeout=30)
    if response.status_code not in (200, 201):
        raise StackError(f"Connect refused the connector configuration ({response.status_code}): {response.text}")
    wait_until(lambda: ensure_connector_running(settings), timeout, "Debezium connector",
               connect_process(settings).log_file)


def connector_status(settings: StackSettings) -> dict[str, Any] | None:
    response = _get(settings, f"/connectors/{settings.connect.connector_name}/status")
    if response is None or response.status_code != 200:
        return None
    status: dict[str, Any] = response.json()
    return status


def _all_running(status: dict[str, Any]) -> bool:
    tasks = status.get("tasks", [])
    return (status.get("connector", {}).get("state") == "RUNNING" and bool(tasks)
            and all(t.get("state") == "RUNNING" for t in tasks))


def connect_healthy(settings: StackSettings) -> bool:
    status = connector_status(settings) if worker_ready(settings) else None
    return status is not None and _all_running(status)


def ensure_connector_running(settings: StackSettings) -> bool:
    """True when everything runs; otherwise restarts failed parts (if any) and returns False."""
    status = connector_status(settings)
    if status is None:
        return False
    if _all_running(status):
        return True
    failed = status.get("connector", {}).get("state") == "FAILED" or any(
        t.get("state") == "FAILED" for t in status.get("tasks", []))
    if failed:
        name = settings.connect.connector_name
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{settings.connect.rest_url}/connectors/{name}/restart?includeTasks=true&onlyFailed=true",
                       timeout=10)
    return False


def stop_connect(settings: StackSettings) -> None:
    connect_process(settings).stop()


def kill_connect(settings: StackSettings) -> None:
    connect_process(settings).kill()
