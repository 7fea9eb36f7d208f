"""Delivery receipts end to end: gateway -> signed callback -> our router (real uvicorn) -> Redis store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from api.routes.sms_receipts import close_defaults, get_receipt_store, get_signature_verifier, router
from connectors.sms.client import open_sms_client
from connectors.sms.fake_gateway import BackgroundServer
from connectors.sms.receipts import RedisReceiptStore
from connectors.sms.settings import SmsSettings, get_sms_settings
from connectors.sms.signature import SIGNATURE_HEADER, SignatureVerifier, sign
from infra.clock import SystemClock
from tests.integration.connectors_sms.conftest import RECEIPT_SECRET, Gateway, RedisServer
from tests.unit.connectors_sms.receipt_store_contract import ReceiptStoreContract

pytestmark = pytest.mark.integration

OK, FAILS, EXPIRES = "+886912345678", "+886922222222", "+886933333333"
TEXT = "【幸運瓦斯】嚴重警示：每日配送量為812桶，超出門檻1,000桶（01/15 10:30）。詳情：lgas.tw/Ab12Cd"


@pytest.fixture
async def redis_store(redis_server: RedisServer) -> AsyncIterator[RedisReceiptStore]:
    redis: Redis[Any] = Redis.from_url(redis_server.url)
    yield RedisReceiptStore(redis, f"t{uuid.uuid4().hex[:12]}", timedelta(days=1))
    await redis.aclose()  # type: ignore[attr-defined]


class TestRedisReceiptStore(ReceiptStoreContract):
    @pytest.fixture
    def store(self, redis_store: RedisReceiptStore) -> RedisReceiptStore:
        return redis_store


async def test_entries_expire(redis_server: RedisServer, redis_store: RedisReceiptStore) -> None:
    redis: Redis[Any] = Redis.from_url(redis_server.url)
    try:
        await redis_store.record_accepted("m-ttl", OK, 1, SystemClock().now())
        ttl = await redis.ttl(redis_store.key("m-ttl"))
        assert 0 < ttl <= 86_400
    finally:
        await redis.aclose()  # type: ignore[attr-defined]


def receipts_app(redis_url: str, prefix: str, secret: str) -> FastAPI:
    """The app as the lead would assemble it: our router, the Redis store and verifier as overrides."""
    redis: Redis[Any] = Redis.from_url(redis_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await redis.aclose()  # type: ignore[attr-defined]

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    store = RedisReceiptStore(redis, prefix, timedelta(days=1))
    app.dependency_overrides[get_receipt_store] = lambda: store
    app.dependency_overrides[get_signature_verifier] = lambda: SignatureVerifier([secret], 300, SystemClock())
    return app


async def wait_for_status(
    api: httpx.AsyncClient, message_id: str, status: str, timeout: float = 10.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = await api.get(f"/sms/messages/{message_id}")
        if answer.status_code == 200 and answer.json()["status"] == status:
            found: dict[str, Any] = answer.json()
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{message_id} never reached {status}: last {answer.status_code} {answer.text}")
        await asyncio.sleep(0.05)


async def test_receipts_flow_into_the_store(
    start_gateway: Callable[..., Gateway],
    start_app: Callable[[Any], BackgroundServer],
    sms_settings: Callable[..., SmsSettings],
) -> None:
    gateway = start_gateway(failing_numbers=frozenset({FAILS}), expiring_numbers=frozenset({EXPIRES}))
    probe = sms_settings(gateway.url)
    app_server = start_app(receipts_app(probe.redis_url, probe.redis_key_prefix, RECEIPT_SECRET))
    settings = sms_settings(gateway.url, callback_url=f"{app_server.url}/sms/receipts")
    sender_redis: Redis[Any] = Redis.from_url(settings.redis_url)
    sender_store = RedisReceiptStore(sender_redis, settings.redis_key_prefix, timedelta(days=1))
    try:
        async with open_sms_client(settings, store=sender_store) as client:
            sent = {to: await client.send(to, TEXT) for to in (OK, FAILS, EXPIRES)}
        async with httpx.AsyncClient(base_url=app_server.url) as api:
            delivered = await wait_for_status(api, sent[OK].message_id, "delivered")
            failed = await wait_for_status(api, sent[FAILS].message_id, "failed")
            expired = await wait_for_status(api, sent[EXPIRES].message_id, "expired")
    finally:
        await sender_redis.aclose()  # type: ignore[attr-defined]
    assert delivered["to_masked"] == "+886912***678" and delivered["segments"] == 1
    assert delivered["receipt"]["delivered_at"] is not None and delivered["accepted_at"] is not None
    assert failed["receipt"]["error_code"] == "EC_UNREACHABLE"
    assert expired["receipt"]["error_code"] is None
    assert {(p.status, p.http_status) for p in gateway.state.receipts()} == {
        ("delivered", 200),
        ("failed", 200),
        ("expired", 200),
    }


async def test_receipts_with_a_wrong_secret_are_refused_and_retried(
    start_gateway: Callable[..., Gateway],
    start_app: Callable[[Any], BackgroundServer],
    sms_settings: Callable[..., SmsSettings],
) -> None:
    gateway = start_gateway()
    probe = sms_settings(gateway.url)
    app_server = start_app(receipts_app(probe.redis_url, probe.redis_key_prefix, "not-the-gateway-secret-012345"))
    settings = sms_settings(gateway.url, callback_url=f"{app_server.url}/sms/receipts")
    async with open_sms_client(settings) as client:
        sent = await client.send(OK, TEXT)
    for _ in range(100):
        if len(gateway.state.receipts()) == 3:
            break
        await asyncio.sleep(0.05)
    assert [p.http_status for p in gateway.state.receipts()] == [401, 401, 401]
    async with httpx.AsyncClient(base_url=app_server.url) as api:
        assert (await api.get(f"/sms/messages/{sent.message_id}")).status_code == 404


async def test_default_dependencies_use_the_settings(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without overrides the router builds its Redis store and verifier from LG_SMS_* settings."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    for name, value in {
        "API_KEY": "default-deps-api-key-0123",
        "RECEIPT_HMAC_SECRET": RECEIPT_SECRET,
        "REDIS_URL": redis_server.url,
        "REDIS_KEY_PREFIX": prefix,
    }.items():
        monkeypatch.setenv(f"LG_SMS_{name}", value)
    get_sms_settings.cache_clear()
    app = FastAPI()
    app.include_router(router)
    body = b'{"message_id":"m-default","status":"expired","error_code":null,"delivered_at":null}'
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as api:
            headers = {SIGNATURE_HEADER: sign(body, RECEIPT_SECRET, SystemClock().now())}
            assert (await api.post("/sms/receipts", content=body, headers=headers)).status_code == 200
            assert (await api.get("/sms/messages/m-default")).json()["status"] == "expired"
    finally:
        await close_defaults()
        get_sms_settings.cache_clear()
    redis: Redis[Any] = Redis.from_url(redis_server.url)
    try:
        assert await redis.exists(f"{prefix}:msg:m-default") == 1
    finally:
        await redis.aclose()  # type: ignore[attr-defined]
