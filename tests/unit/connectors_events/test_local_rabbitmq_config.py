"""The local broker's files and environment (nothing started here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.events.local_rabbitmq import LocalRabbitMQ
from connectors.events.settings import EventsSettings
from infra.process import StackError


def test_config_binds_loopback_and_keeps_the_password_private(tmp_path: Path) -> None:
    node = LocalRabbitMQ(tmp_path, 41001, 41002, 41003, "rabbit-unit@localhost", password=SecretStr("pw-42"))
    node._write_config()
    conf = (tmp_path / "rabbitmq.conf").read_text()
    assert "listeners.tcp.default = 127.0.0.1:41001" in conf
    assert "default_pass = pw-42" in conf
    assert (tmp_path / "rabbitmq.conf").stat().st_mode & 0o077 == 0
    assert (tmp_path / "enabled_plugins").read_text().strip() == "[]."
    assert node.amqp_url == "amqp://luckygas@127.0.0.1:41001/"


def test_environment_keeps_all_state_in_the_directory(tmp_path: Path) -> None:
    node = LocalRabbitMQ(tmp_path, 41001, 41002, 41003, "rabbit-unit@localhost")
    env = dict(node._broker().env)
    for key in (
        "HOME",
        "RABBITMQ_MNESIA_BASE",
        "RABBITMQ_LOG_BASE",
        "RABBITMQ_CONFIG_FILE",
        "RABBITMQ_ENABLED_PLUGINS_FILE",
        "RABBITMQ_CONF_ENV_FILE",
        "RABBITMQ_PID_FILE",
    ):
        assert env[key].startswith(str(tmp_path)), key
    assert (env["RABBITMQ_DIST_PORT"], env["ERL_EPMD_PORT"]) == ("41002", "41003")
    assert "127,0,0,1" in env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]


def test_the_node_follows_the_clients_settings(tmp_path: Path) -> None:
    settings = EventsSettings(_env_file=None, amqp_url="amqp://reports@127.0.0.1:41201/", password=SecretStr("pw"))
    node = LocalRabbitMQ.for_settings(settings, tmp_path, 41202, 41203)
    assert (node.amqp_port, node.user, node.password.get_secret_value()) == (41201, "reports", "pw")
    assert node.amqp_url == settings.amqp_url


def test_a_remote_broker_url_is_not_started_locally(tmp_path: Path) -> None:
    settings = EventsSettings(_env_file=None, amqp_url="amqps://reports@mq.luckygas.example:5671/")
    with pytest.raises(StackError, match="not a local broker"):
        LocalRabbitMQ.for_settings(settings, tmp_path, 41202, 41203)
