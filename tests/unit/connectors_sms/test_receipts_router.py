"""POST /sms/receipts and GET /sms/messages/{id} in-process (ASGITransport), in-memory store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from api.routes.sms_receipts import get_receipt_store, get_signature_verifier, router
from connectors.sms.receipts import InMemoryReceiptStore
from connectors.sms.signature import SIGNATURE_HEADER, SignatureVerifier, sign
from infra.clock import FixedClock

SECRET = "unit-receipt-secret-0123456789"


class Harness:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.store = InMemoryReceiptStore()
        self.app = FastAPI()
        self.app.include_router(router)
        self.app.dependency_overrides[get_receipt_store] = lambda: self.store
        self.app.dependency_overrides[get_signature_verifier] = lambda: SignatureVerifier([SECRET], 300, self.clock)

    def signed(self, body: bytes, secret: str = SECRET) -> dict[str, str]:
        return {SIGNATURE_HEADER: sign(body, secret, self.clock.now()), "Content-Type": "application/json"}


@pytest.fixture
async def harness() -> AsyncIterator[tuple[Harness, httpx.AsyncClient]]:
    h = Harness()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app), base_url="http://app") as client:
        yield h, client


def receipt(
    message_id: str = "m1",
    status: str = "delivered",
    error_code: str | None = None,
    delivered_at: str | None = "2026-01-15T02:00:05+00:00",
) -> bytes:
    return json.dumps(
        {"message_id": message_id, "status": status, "error_code": error_code, "delivered_at": delivered_at}
    ).encode()


async def test_signed_receipt_is_stored_and_readable(harness: tuple[Harness, httpx.AsyncClient]) -> None:
    h, client = harness
    await h.store.record_accepted("m1", "+886912345678", 1, h.clock.now())
    body = receipt()
    answer = await client.post("/sms/receipts", content=body, headers=h.signed(body))
    assert answer.status_code == 200
    assert answer.json() == {"message_id": "m1", "stored": True, "status": "delivered"}
    got = (await client.get("/sms/messages/m1")).json()
    assert got["status"] == "delivered"
    assert got["to_masked"] == "+886912***678"
    assert got["receipt"]["delivered_at"] == "2026-01-15T02:00:05Z"


async def test_duplicate_receipt_is_acknowledged_not_stored(harness: tuple[Harness, httpx.AsyncClient]) -> None:
    h, client = harness
    first = receipt("m2", "failed", "EC_UNREACHABLE", None)
    second = receipt("m2")
    assert (await client.post("/sms/receipts", content=first, headers=h.signed(first))).json()["stored"] is True
    again = await client.post("/sms/receipts", content=second, headers=h.signed(second))
    assert again.status_code == 200
    assert again.json() == {"message_id": "m2", "stored": False, "status": "failed"}


@pytest.mark.parametrize("secret", [None, "wrong-secret-0123456789"])
async def test_bad_or_missing_signature_is_401(harness: tuple[Harness, httpx.AsyncClient], secret: str | None) -> None:
    h, client = harness
    body = receipt()
    headers = h.signed(body, secret) if secret else {"Content-Type": "application/json"}
    answer = await client.post("/sms/receipts", content=body, headers=headers)
    assert answer.status_code == 401
    assert SIGNATURE_HEADER in answer.json()["detail"]
    assert await h.store.get("m1") is None


async def test_stale_signature_is_401(harness: tuple[Harness, httpx.AsyncClient]) -> None:
    h, client = harness
    body = receipt()
    headers = h.signed(body)
    h.clock.advance(timedelta(minutes=10))
    answer = await client.post("/sms/receipts", content=body, headers=headers)
    assert answer.status_code == 401
    assert "away from our clock" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", None),
        (receipt(delivered_at=None), None),
        (receipt(status="read"), "status"),
        (receipt(message_id="../etc"), "message_id"),
        (b'{"message_id":"m1"}', "status"),
    ],
)
async def test_invalid_body_is_422_with_message(
    harness: tuple[Harness, httpx.AsyncClient], body: bytes, field: str | None
) -> None:
    h, client = harness
    answer = await client.post("/sms/receipts", content=body, headers=h.signed(body))
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail["message"].startswith("not a valid delivery receipt")
    if field is not None:
        assert any(field in err["loc"] for err in detail["errors"])


async def test_oversized_body_is_413(harness: tuple[Harness, httpx.AsyncClient]) -> None:
    h, client = harness
    body = b" " * 20_000
    assert (await client.post("/sms/receipts", content=body, headers=h.signed(body))).status_code == 413


async def test_unknown_message_is_404_and_bad_id_422(harness: tuple[Harness, httpx.AsyncClient]) -> None:
    _, client = harness
    missing = await client.get("/sms/messages/m-missing")
    assert missing.status_code == 404
    assert "m-missing" in missing.json()["detail"]
    assert (await client.get("/sms/messages/bad%20id")).status_code == 422
