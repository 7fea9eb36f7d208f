"""The configuration the stack writes for Kafka, Connect and Debezium, checked without starting anything."""

from __future__ import annotations

from pathlib import Path

from connectors.debezium.postgres_connector import connector_config, secrets_properties
from infra.kafka.broker import server_properties
from infra.kafka.connect import worker_properties
from infra.postgres.tables import CAPTURED_TABLES
from infra.settings import ConnectSettings, KafkaSettings, PostgresSettings, StackSettings


def settings(tmp_path: Path) -> StackSettings:
    return StackSettings(
        state_dir=tmp_path,
        postgres=PostgresSettings(port=6000, password="pw-not-in-config"),  # type: ignore[arg-type]
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:7000", controller_port=7001, topic_prefix="lg", partitions=3),
        connect=ConnectSettings(rest_url="http://127.0.0.1:7002", heartbeat_interval_ms=2500),
    )


def props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_connector_captures_every_table_with_the_agreed_wire_format(tmp_path: Path) -> None:
    s = settings(tmp_path)
    config = connector_config(s, list(CAPTURED_TABLES), tmp_path / "secrets.properties")
    assert config["table.include.list"].split(",") == [*CAPTURED_TABLES, "analytics.verify_barrier"]
    assert config["plugin.name"] == "pgoutput"
    assert config["decimal.handling.mode"] == "string"
    assert config["value.converter.schemas.enable"] == "false"
    assert config["value.converter.replace.null.with.default"] == "false"
    assert config["heartbeat.interval.ms"] == "2500"
    assert config["provide.transaction.metadata"] == "true"
    assert config["topic.prefix"] == "lg" and config["database.port"] == "6000"
    assert config["topic.creation.default.partitions"] == "3"
    assert config["topic.creation.default.retention.ms"] == "-1"


def test_database_password_is_read_from_a_file_not_stored_in_connect(tmp_path: Path) -> None:
    s = settings(tmp_path)
    secrets = tmp_path / "secrets.properties"
    config = connector_config(s, ["w110.branch"], secrets)
    assert "pw-not-in-config" not in str(config)
    assert config["database.password"] == f"${{file:{secrets}:postgres.password}}"
    assert props(secrets_properties(s)) == {"postgres.password": "pw-not-in-config"}
    assert props(worker_properties(s))["config.providers"] == "file"


def test_single_node_kraft_broker_on_loopback(tmp_path: Path) -> None:
    p = props(server_properties(settings(tmp_path)))
    assert p["process.roles"] == "broker,controller"
    assert p["listeners"] == "PLAINTEXT://127.0.0.1:7000,CONTROLLER://127.0.0.1:7001"
    assert p["offsets.topic.replication.factor"] == "1"
    assert p["num.partitions"] == "3"
    assert p["log.dirs"].startswith(str(tmp_path))


def test_connect_worker_uses_the_configured_broker_and_port(tmp_path: Path) -> None:
    p = props(worker_properties(settings(tmp_path)))
    assert p["bootstrap.servers"] == "127.0.0.1:7000"
    assert p["listeners"] == "http://127.0.0.1:7002"
    assert p["config.storage.replication.factor"] == "1"
