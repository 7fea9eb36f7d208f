"""SMS delivery receipts: the gateway's callback, and the status of a sent message.

Routes (prefix /sms):
- POST /sms/receipts: body = DeliveryReceipt (connectors/sms/gateway_openapi.yaml), header X-Sms-Signature.
  401 when the signature is missing, stale or wrong (checked on the raw body before parsing); 413 over
  16 KiB; 422 with a message and the field errors when the body is not a valid receipt. 200
  {message_id, stored, status}: `stored` is false for a duplicate (acknowledged so the gateway stops).
- GET /sms/messages/{message_id}: the StoredMessage, 404 when unknown, 422 for a malformed id.
Dependencies (override in the app with `app.dependency_overrides[...]`): `get_receipt_store` (default: the
Redis store from `SmsSettings`) and `get_signature_verifier` (default: the settings' HMAC secret, system
clock); with the default store, call `close_defaults()` at app shutdown. This router carries no auth
of its own for the GET: the app adds its auth dependency at include.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from connectors.sms.errors import ReceiptSignatureError
from connectors.sms.receipts import (
    MESSAGE_ID_PATTERN,
    DeliveryReceipt,
    MessageStatus,
    ReceiptStore,
    RedisReceiptStore,
    StoredMessage,
)
from connectors.sms.settings import get_sms_settings
from connectors.sms.signature import SIGNATURE_HEADER, SignatureVerifier
from infra.clock import SystemClock

MAX_RECEIPT_BYTES = 16 * 1024

router = APIRouter(prefix="/sms", tags=["sms"])


@lru_cache(maxsize=1)
def _default_redis() -> Redis[Any]:
    redis: Redis[Any] = Redis.from_url(get_sms_settings().redis_url)
    return redis


@lru_cache(maxsize=1)
def _default_store() -> RedisReceiptStore:
    settings = get_sms_settings()
    return RedisReceiptStore(_default_redis(), settings.redis_key_prefix, timedelta(days=settings.receipt_ttl_days))


def get_receipt_store() -> ReceiptStore:
    """The store receipts go to; built from SmsSettings on first use. Override in tests and in the app."""
    return _default_store()


@lru_cache(maxsize=1)
def _default_verifier() -> SignatureVerifier:
    settings = get_sms_settings()
    return SignatureVerifier(
        [settings.receipt_hmac_secret.get_secret_value()], settings.receipt_tolerance_seconds, SystemClock()
    )


def get_signature_verifier() -> SignatureVerifier:
    """The receipt signature check; built from SmsSettings on first use. Override in tests and in the app."""
    return _default_verifier()


async def close_defaults() -> None:
    """Close the default store's Redis connections and forget the defaults built from the settings
    (call from the app's lifespan shutdown); idempotent."""
    if _default_redis.cache_info().currsize:
        await _default_redis().aclose()  # type: ignore[attr-defined]  # types-redis 4.6 predates aclose
    _default_redis.cache_clear()
    _default_store.cache_clear()
    _default_verifier.cache_clear()


ReceiptStoreDep = Annotated[ReceiptStore, Depends(get_receipt_store)]
SignatureVerifierDep = Annotated[SignatureVerifier, Depends(get_signature_verifier)]


class ReceiptAck(BaseModel):
    message_id: str
    stored: bool
    status: MessageStatus


@router.post(
    "/receipts",
    response_model=ReceiptAck,
    responses={
        401: {"description": "bad signature"},
        413: {"description": "body too large"},
        422: {"description": "not a valid DeliveryReceipt"},
    },
)
async def post_receipt(
    request: Request,
    store: ReceiptStoreDep,
    verifier: SignatureVerifierDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> ReceiptAck:
    """Verify, parse and store one delivery receipt (see module docstring for the answers)."""
    body = await request.body()
    if len(body) > MAX_RECEIPT_BYTES:
        raise HTTPException(413, f"receipt body over {MAX_RECEIPT_BYTES} bytes")
    try:
        verifier.verify(body, signature)
    except ReceiptSignatureError as exc:
        raise HTTPException(401, str(exc)) from exc
    try:
        receipt = DeliveryReceipt.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise HTTPException(
            422, {"message": f"not a valid delivery receipt ({exc.error_count()} error(s))", "errors": errors}
        ) from exc
    stored = await store.record_receipt(receipt, verifier.clock.now())
    current = await store.get(receipt.message_id)
    status = current.status if current is not None else MessageStatus(receipt.status.value)
    return ReceiptAck(message_id=receipt.message_id, stored=stored, status=status)


@router.get("/messages/{message_id}", response_model=StoredMessage, responses={404: {"description": "unknown"}})
async def get_message(
    message_id: Annotated[str, Path(pattern=MESSAGE_ID_PATTERN)],
    store: ReceiptStoreDep,
) -> StoredMessage:
    """What we know of one message: accepted, or its final delivery status."""
    found = await store.get(message_id)
    if found is None:
        raise HTTPException(404, f"no SMS with message_id {message_id!r}")
    return found
