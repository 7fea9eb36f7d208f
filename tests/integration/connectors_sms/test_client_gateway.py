"""SmsClient against the real fake gateway (HTTP) and a real Redis limiter: success, refusals, retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS31Validator

from connectors.sms.client import open_sms_client
from connectors.sms.errors import (
    ContentRefused,
    GatewayAuthError,
    GatewayRejected,
    GatewayUnavailable,
    IdempotencyConflict,
    InvalidRecipient,
)
from connectors.sms.fake_gateway import FailureMode
from connectors.sms.settings import SmsSettings
from tests.integration.connectors_sms.conftest import API_KEY, Gateway, free_port

pytestmark = pytest.mark.integration

TO = "+886912345678"
TEXT = "【幸運瓦斯】配送確認：訂單A20260115-0012已於01/15 10:30送達王小明。"

StartGateway = Callable[..., Gateway]
MakeSettings = Callable[..., SmsSettings]


@cache
def schemas() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(files("connectors.sms").joinpath("gateway_openapi.yaml").read_text("utf-8"))
    found: dict[str, Any] = spec["components"]["schemas"]
    return found


async def test_send_is_accepted_once_and_matches_the_protocol(
    start_gateway: StartGateway, sms_settings: MakeSettings
) -> None:
    gateway = start_gateway()
    async with open_sms_client(sms_settings(gateway.url)) as client:
        result = await client.send(TO, TEXT, idempotency_key="alert-0001-abcdef")
    assert (result.segments, result.encoding, result.attempts, result.replayed) == (1, "UCS-2", 1, False)
    assert OAS31Validator(schemas()["SendAccepted"]).is_valid(
        {"message_id": result.message_id, "segments": result.segments, "encoding": result.encoding}
    )
    [message] = gateway.state.messages()
    assert (message.message_id, message.to, message.text, message.sender_id) == (
        result.message_id,
        TO,
        TEXT,
        "LuckyGas",
    )
    assert message.idempotency_key == "alert-0001-abcdef"


async def test_wrong_api_key_is_401_not_retried(start_gateway: StartGateway, sms_settings: MakeSettings) -> None:
    gateway = start_gateway()
    async with open_sms_client(sms_settings(gateway.url, api_key="a-wrong-key-0123456789")) as client:
        with pytest.raises(GatewayAuthError) as info:
            await client.send(TO, TEXT)
    assert info.value.status == 401 and info.value.code == "invalid_api_key"
    assert [r.status for r in gateway.state.requests()] == [401]


async def test_gateway_422_is_not_retried(start_gateway: StartGateway, sms_settings: MakeSettings) -> None:
    gateway = start_gateway(out_of_service_numbers=frozenset({TO}))
    async with open_sms_client(sms_settings(gateway.url)) as client:
        with pytest.raises(GatewayRejected) as info:
            await client.send(TO, TEXT)
    assert (info.value.status, info.value.code) == (422, "invalid_number")
    assert "not in service" in str(info.value)
    assert len(gateway.state.requests()) == 1 and gateway.state.messages() == []


async def test_gateway_validates_raw_requests(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    headers = {"X-Api-Key": API_KEY, "Idempotency-Key": "raw-request-0001"}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        bad_number = await http.post("/v1/messages", json={"to": "0912345678", "text": "x"}, headers=headers)
        empty = await http.post("/v1/messages", json={"to": TO, "text": " "}, headers=headers)
        too_long = await http.post("/v1/messages", json={"to": TO, "text": "瓦" * 700}, headers=headers)
        no_key = await http.post("/v1/messages", json={"to": TO, "text": "x"}, headers={"X-Api-Key": API_KEY})
        unknown = await http.post("/v1/messages", json={"to": TO, "text": "x", "cc": 1}, headers=headers)
    error_schema = OAS31Validator(schemas()["Error"])
    for answer, status, code in [
        (bad_number, 422, "invalid_number"),
        (empty, 422, "invalid_text"),
        (too_long, 422, "text_too_long"),
        (no_key, 400, "bad_request"),
        (unknown, 400, "bad_request"),
    ]:
        assert answer.status_code == status
        assert answer.json()["error"]["code"] == code
        assert error_schema.is_valid(answer.json())


async def test_client_refuses_before_sending(start_gateway: StartGateway, sms_settings: MakeSettings) -> None:
    gateway = start_gateway()
    async with open_sms_client(sms_settings(gateway.url)) as client:
        with pytest.raises(InvalidRecipient):
            await client.send("0912345678", TEXT)
        with pytest.raises(ContentRefused):
            await client.send(TO, "請至 evil.com 查看")
    assert gateway.state.requests() == []


async def test_reused_key_with_other_text_is_409(start_gateway: StartGateway, sms_settings: MakeSettings) -> None:
    gateway = start_gateway()
    async with open_sms_client(sms_settings(gateway.url)) as client:
        await client.send(TO, TEXT, idempotency_key="same-key-0001")
        again = await client.send(TO, TEXT, idempotency_key="same-key-0001")
        with pytest.raises(IdempotencyConflict):
            await client.send(TO, TEXT + "！", idempotency_key="same-key-0001")
    assert again.replayed is True
    assert len(gateway.state.messages()) == 1


@pytest.mark.parametrize("mode", [FailureMode.ERROR_BEFORE, FailureMode.ERROR_AFTER])
async def test_5xx_is_retried_without_double_send(
    start_gateway: StartGateway, sms_settings: MakeSettings, mode: FailureMode
) -> None:
    gateway = start_gateway(
        fail_first=2, failure_mode=mode, failure_status=503 if mode is FailureMode.ERROR_BEFORE else 500
    )
    async with open_sms_client(sms_settings(gateway.url)) as client:
        result = await client.send(TO, TEXT)
    requests = gateway.state.requests()
    assert [r.status for r in requests] == [requests[0].status, requests[0].status, 202]
    assert len({r.idempotency_key for r in requests}) == 1  # one key across the retries
    assert len(gateway.state.messages()) == 1  # sent once
    assert result.attempts == 3
    # After ERROR_AFTER the gateway had already accepted it: the third answer is the replayed original.
    assert result.replayed is (mode is FailureMode.ERROR_AFTER)


async def test_timeout_after_accept_is_retried_without_double_send(
    start_gateway: StartGateway, sms_settings: MakeSettings
) -> None:
    gateway = start_gateway(fail_first=1, failure_mode=FailureMode.SLOW_AFTER, slow_s=1.5)
    async with open_sms_client(sms_settings(gateway.url, request_timeout_seconds=0.4)) as client:
        result = await client.send(TO, TEXT)
    assert result.replayed is True and result.attempts == 2
    assert len(gateway.state.messages()) == 1


async def test_retries_exhausted_is_gateway_unavailable(
    start_gateway: StartGateway, sms_settings: MakeSettings
) -> None:
    gateway = start_gateway(fail_first=10)
    async with open_sms_client(sms_settings(gateway.url, max_retries=2)) as client:
        with pytest.raises(GatewayUnavailable) as info:
            await client.send(TO, TEXT)
    assert info.value.attempts == 3 and info.value.status == 503
    assert len(gateway.state.requests()) == 3 and gateway.state.messages() == []


async def test_connection_errors_are_retried(sms_settings: MakeSettings) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with open_sms_client(sms_settings(dead, max_retries=2)) as client:
        with pytest.raises(GatewayUnavailable, match="ConnectError") as info:
            await client.send(TO, TEXT)
    assert info.value.attempts == 3


async def test_429_waits_for_retry_after(start_gateway: StartGateway, sms_settings: MakeSettings) -> None:
    gateway = start_gateway(fail_first=2, failure_mode=FailureMode.RATE_LIMITED, injected_retry_after_s=1)
    async with open_sms_client(sms_settings(gateway.url)) as client:
        started = time.monotonic()
        result = await client.send(TO, TEXT)
        elapsed = time.monotonic() - started
    requests = gateway.state.requests()
    assert [r.status for r in requests] == [429, 429, 202]
    assert requests[1].at - requests[0].at >= 1.0 and requests[2].at - requests[1].at >= 1.0
    assert elapsed >= 2.0 and result.attempts == 3
    assert len(gateway.state.messages()) == 1


async def test_too_long_retry_after_fails_fast(start_gateway: StartGateway, sms_settings: MakeSettings) -> None:
    gateway = start_gateway(fail_first=1, failure_mode=FailureMode.RATE_LIMITED, injected_retry_after_s=600)
    async with open_sms_client(sms_settings(gateway.url, max_retry_after_seconds=120)) as client:
        with pytest.raises(GatewayUnavailable, match="600s"):
            await client.send(TO, TEXT)
    assert len(gateway.state.requests()) == 1


async def test_gateway_own_rate_limit_429_is_absorbed(start_gateway: StartGateway, sms_settings: MakeSettings) -> None:
    """Our limiter misconfigured above the gateway's: its 429s + Retry-After still get every message out once."""
    gateway = start_gateway(rate_limit=3, window_s=1.0)
    async with open_sms_client(sms_settings(gateway.url, max_retries=6)) as client:
        results = await asyncio.gather(*(client.send(TO, f"{TEXT}{i}") for i in range(6)))
    statuses = [r.status for r in gateway.state.requests()]
    assert statuses.count(202) == 6 and 429 in statuses
    assert len({m.idempotency_key for m in gateway.state.messages()}) == 6
    assert sum(r.attempts for r in results) == len(statuses)
