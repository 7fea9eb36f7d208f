"""The local broker node itself: loopback only, idempotent start, AMQP readiness, rabbitmqctl, durable quorum queues."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, cast

import psutil
import pytest

from connectors.events.local_rabbitmq import LocalRabbitMQ, amqp_answers
from connectors.events.publisher import EventPublisher
from connectors.events.testing import report_failed
from tests.integration.connectors_events.helpers import settings_for

pytestmark = pytest.mark.integration


def test_every_listener_of_the_node_is_on_loopback(rabbitmq: LocalRabbitMQ) -> None:
    pids = set(rabbitmq.node_pids()) | {p for p in [rabbitmq._epmd().pid()] if p is not None}
    listening = [c for c in psutil.net_connections("inet") if c.status == psutil.CONN_LISTEN and c.pid in pids]
    addresses = [cast(Any, c.laddr) for c in listening]  # (ip, port) named tuples for listeners
    assert {rabbitmq.amqp_port, rabbitmq.dist_port, rabbitmq.epmd_port} <= {a.port for a in addresses}
    assert {a.ip for a in addresses} <= {"127.0.0.1", "::1"}


def test_start_on_a_running_node_returns_at_once(rabbitmq: LocalRabbitMQ) -> None:
    started = time.monotonic()
    rabbitmq.start()
    assert time.monotonic() - started < 2.0 and rabbitmq.ready()


def test_a_listener_that_is_not_amqp_is_not_taken_for_the_broker() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer_http() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(8)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer_http)
        thread.start()
        assert not amqp_answers("127.0.0.1", port)
        thread.join()


async def test_queues_are_durable_quorum_queues_seen_by_rabbitmqctl(rabbitmq: LocalRabbitMQ) -> None:
    settings = settings_for(rabbitmq)
    async with EventPublisher(settings) as publisher:
        await publisher.publish(report_failed())  # declares the topology
    rows = [line.split("\t") for line in rabbitmq.ctl("list_queues", "name", "durable", "type").splitlines()]
    ours = {row[0]: row[1:] for row in rows if row[0].startswith(settings.queue_prefix)}
    assert len(ours) == 4 * (1 + len(settings.retry_delays_ms)) + 1  # + the dead-letter queue
    assert set(map(tuple, ours.values())) == {("true", "quorum")}
    assert f"{settings.queue_prefix}report.failed.retry.800ms" in ours
