"""The API without a running stack: a valid OpenAPI schema, 503s with messages (never 500s, never internal
addresses) when parts are down, readiness probed at most once per period, the worker's health judged from its
status file, and the SMS receipt callback still guarded by its own signature."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from api.access.audit import MemoryAuditLog
from api.app import Stores, create_app
from api.routes import sms_receipts
from api.routes.health import PartHealth, ReadinessProbe, worker_health
from connectors.sms.receipts import InMemoryReceiptStore
from connectors.sms.settings import get_sms_settings
from connectors.sms.signature import SIGNATURE_HEADER, SignatureVerifier, sign
from infra.settings import StackSettings
from tests.unit.access.access_testing import AccessHarness, stack_settings

HEAD_OFFICE = "emp:1"  # the TPE manager: every family, every branch


def settings(tmp_path: Path) -> StackSettings:
    return stack_settings(tmp_path)


def test_openapi_schema_is_valid_and_lists_every_route(tmp_path: Path) -> None:
    schema = TestClient(create_app(settings(tmp_path))).get("/openapi.json").json()
    validate(schema)
    assert {"/health/live", "/health/ready", "/freshness", "/metrics", "/kpis/today", "/sms/receipts",
            "/sms/messages/{message_id}"} <= set(schema["paths"])
    assert "/health" not in schema["paths"]
    assert "Versioning" in schema["info"]["description"]


def test_liveness_touches_nothing_but_refuses_an_anonymous_caller(tmp_path: Path) -> None:
    assert TestClient(create_app(settings(tmp_path))).get("/health/live").status_code == 401
    h = AccessHarness(tmp_path)
    with h.client() as client:  # no Kafka, ClickHouse or worker here: liveness needs none of them
        response = client.get("/health/live", headers=h.bearer(HEAD_OFFICE))
    assert response.status_code == 200 and response.json() == {"status": "up"}


def test_everything_down_is_a_503_naming_each_part(tmp_path: Path) -> None:
    h = AccessHarness(tmp_path)
    with h.client() as client:
        response = client.get("/health/ready", headers=h.bearer(HEAD_OFFICE))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert {name: part["status"] for name, part in body["parts"].items()} == {
        "kafka": "down", "connect": "down", "clickhouse": "down", "worker": "down", "source_schemas": "up"}
    assert "not started" in body["parts"]["worker"]["detail"]
    assert "127.0.0.1" not in response.text  # no internal addresses


def test_readiness_is_probed_once_per_period() -> None:
    calls: list[float] = []
    now = [0.0]

    def probe(_: StackSettings) -> dict[str, PartHealth]:
        calls.append(now[0])
        return {"kafka": PartHealth(status="up", detail="answering")}

    readiness = ReadinessProbe(StackSettings(), ttl=5, probe=probe, monotonic=lambda: now[0])
    for t in (0.0, 1.0, 4.9, 5.0, 6.0, 10.5):
        now[0] = t
        readiness.parts()
    assert calls == [0.0, 5.0, 10.5]


def test_reads_without_clickhouse_are_503_with_a_message(tmp_path: Path) -> None:
    h = AccessHarness(tmp_path)
    with h.client() as client:
        for path in ("/kpis/today", "/freshness"):
            response = client.get(path, headers=h.bearer(HEAD_OFFICE))
            assert response.status_code == 503, path
            assert "ClickHouse is unreachable" in response.json()["detail"]
            assert "127.0.0.1" not in response.text and "Connection" not in response.text


def test_reads_before_the_app_started_are_503(tmp_path: Path) -> None:
    h = AccessHarness(tmp_path)
    response = TestClient(h.app).get("/kpis/today", headers=h.bearer(HEAD_OFFICE))  # lifespan not run
    assert response.status_code == 503


def test_worker_health_from_its_status_file(tmp_path: Path) -> None:
    s = settings(tmp_path)
    s.worker_status_file.parent.mkdir(parents=True)

    def write(pid: int, age: float) -> None:
        at = datetime.now(UTC) - timedelta(seconds=age)
        s.worker_status_file.write_bytes(orjson.dumps({"pid": pid, "last_tick_at": at, "batches": 3,
                                                       "started_at": at, "events_applied": 10, "dead_lettered": 1}))

    write(os.getpid(), 0)
    assert worker_health(s).status == "up"
    write(os.getpid(), 60)
    assert worker_health(s).status == "down" and "no status for 60s" in worker_health(s).detail
    write(2**22 + 12345, 0)  # above the default pid_max: no such process
    assert worker_health(s).detail.endswith("is gone")


def test_unknown_paths_and_methods_are_4xx(tmp_path: Path) -> None:
    client = TestClient(create_app(settings(tmp_path), stores=Stores(MemoryAuditLog())))
    assert client.get("/kpis/yesterday").status_code == 404
    assert client.post("/kpis/today").status_code == 405
    assert client.get("/health").status_code == 404


def test_sms_receipts_keep_their_own_signature_and_messages_need_a_principal(tmp_path: Path) -> None:
    h = AccessHarness(tmp_path)
    store, secret = InMemoryReceiptStore(), "unit-receipt-secret-0123456789"
    h.app.dependency_overrides[sms_receipts.get_receipt_store] = lambda: store
    h.app.dependency_overrides[sms_receipts.get_signature_verifier] = lambda: SignatureVerifier([secret], 300,
                                                                                                 h.clock)
    body = json.dumps({"message_id": "m1", "status": "delivered", "error_code": None,
                       "delivered_at": "2026-01-15T02:00:05+00:00"}).encode()
    with h.client() as client:
        unsigned = client.post("/sms/receipts", content=body)
        assert unsigned.status_code == 401 and "www-authenticate" not in unsigned.headers
        signed = client.post("/sms/receipts", content=body, headers={SIGNATURE_HEADER: sign(body, secret,
                                                                                             h.clock.now())})
        assert signed.status_code == 200 and signed.json()["stored"] is True
        assert client.get("/sms/messages/m1").status_code == 401
        assert client.get("/sms/messages/m1", headers=h.bearer("emp:4")).status_code == 403  # sales: no dispatch
        assert client.get("/sms/messages/m1", headers=h.bearer("emp:3")).json()["status"] == "delivered"


def test_sms_not_configured_is_503_not_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("LG_SMS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env
    get_sms_settings.cache_clear()
    h = AccessHarness(tmp_path)
    try:
        with h.client() as client:
            response = client.post("/sms/receipts", content=b"{}")
    finally:
        get_sms_settings.cache_clear()
    assert response.status_code == 503 and "not configured" in response.json()["detail"]


def test_every_answer_carries_the_security_headers(tmp_path: Path) -> None:
    response = TestClient(create_app(settings(tmp_path))).get("/health/live")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # only over TLS
    secure = TestClient(create_app(settings(tmp_path)), base_url="https://testserver").get("/health/live")
    assert secure.headers["strict-transport-security"].startswith("max-age=31536000")


def test_source_schema_health_names_added_and_broken_columns(tmp_path: Path) -> None:
    from api.routes.health import source_schema_health
    from infra.status import write_status

    s = settings(tmp_path)
    now = datetime.now(UTC)
    base = {"pid": os.getpid(), "started_at": now, "batches": 1, "events_applied": 1, "dead_lettered": 0,
            "written_at": now}
    write_status(s.worker_status_file, {**base, "schema_drift": {}, "schema_broken": {}})
    assert source_schema_health(s).status == "up"
    drift = {"w200.order_master": {"added_columns": ["delivery_note"], "records": 3}}
    write_status(s.worker_status_file, {**base, "schema_drift": drift, "schema_broken": {}})
    health = source_schema_health(s)
    assert health.status == "up" and "w200.order_master: added upstream delivery_note (ignored)" in health.detail
    broken = {"w500.payment_record": {"count": 4, "last_reason": "column `amount` is missing (removed upstream?)"}}
    write_status(s.worker_status_file, {**base, "schema_drift": drift, "schema_broken": broken})
    health = source_schema_health(s)
    assert health.status == "degraded" and "w500.payment_record: 4 changes rejected" in health.detail
    assert "removed upstream?" in health.detail and "delivery_note" in health.detail
