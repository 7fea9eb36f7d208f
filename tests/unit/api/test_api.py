"""The API without a running stack: a valid OpenAPI schema, 503s with messages (never 500s) when parts are
down, and the worker's health judged from its status file."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from api.app import create_app
from api.routes.health import worker_health
from infra.settings import ApiSettings, ClickHouseSettings, ConnectSettings, KafkaSettings, StackSettings

CLOSED = 1  # nothing listens on port 1


def settings(tmp_path: Path) -> StackSettings:
    return StackSettings(state_dir=tmp_path, kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{CLOSED}"),
                         connect=ConnectSettings(rest_url=f"http://127.0.0.1:{CLOSED}"),
                         clickhouse=ClickHouseSettings(http_port=CLOSED), api=ApiSettings(worker_stale_seconds=5))


def test_openapi_schema_is_valid_and_lists_every_route(tmp_path: Path) -> None:
    schema = TestClient(create_app(settings(tmp_path))).get("/openapi.json").json()
    validate(schema)
    assert {"/health", "/freshness", "/metrics", "/kpis/today"} <= set(schema["paths"])


def test_everything_down_is_a_503_naming_each_part(tmp_path: Path) -> None:
    response = TestClient(create_app(settings(tmp_path))).get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert {name: part["status"] for name, part in body["parts"].items()} == {
        "kafka": "down", "connect": "down", "clickhouse": "down", "worker": "down"}
    assert "not started" in body["parts"]["worker"]["detail"]


def test_reads_without_clickhouse_are_503_with_a_message(tmp_path: Path) -> None:
    client = TestClient(create_app(settings(tmp_path)))
    for path in ("/kpis/today", "/freshness"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "ClickHouse is unreachable" in response.json()["detail"]


def test_worker_health_from_its_status_file(tmp_path: Path) -> None:
    s = settings(tmp_path)
    s.worker_status_file.parent.mkdir(parents=True)

    def write(pid: int, age: float) -> None:
        at = datetime.now(UTC) - timedelta(seconds=age)
        s.worker_status_file.write_bytes(orjson.dumps({"pid": pid, "last_tick_at": at, "batches": 3,
                                                       "events_applied": 10, "dead_lettered": 1}))

    write(os.getpid(), 0)
    assert worker_health(s).status == "up"
    write(os.getpid(), 60)
    assert worker_health(s).status == "down" and "no progress" in worker_health(s).detail
    write(2**22 + 12345, 0)  # above the default pid_max: no such process
    assert worker_health(s).detail.endswith("is gone")


def test_unknown_paths_and_methods_are_4xx(tmp_path: Path) -> None:
    client = TestClient(create_app(settings(tmp_path)))
    assert client.get("/kpis/yesterday").status_code == 404
    assert client.post("/kpis/today").status_code == 405
