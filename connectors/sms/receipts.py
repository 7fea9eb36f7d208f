"""Delivery receipts: the gateway's callback body, and where message statuses are kept.

Contract of every `ReceiptStore`:
- `record_accepted(message_id, to, segments, at)`: the gateway accepted a message (status `accepted`
  until a receipt arrives). Never downgrades a message that already has a receipt (a receipt may arrive
  before the sender gets to record the acceptance).
- `record_receipt(receipt, received_at)`: stores the FIRST final status of a message and returns True;
  a later receipt for the same message (a gateway retry, or a contradicting one) changes nothing and
  returns False, so the endpoint can acknowledge duplicates with 200 and the gateway stops retrying.
  A receipt for a message never recorded as accepted is stored too (it may come from another worker).
- `get(message_id)`: the `StoredMessage`, or None when nothing is known of it.
Recipients are stored masked (+886912***678): the status API never hands out whole phone numbers.
`InMemoryReceiptStore` (tests) and `RedisReceiptStore` (shared by all workers, entries expire after
`ttl`) pass the same contract tests.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Protocol, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, model_validator
from redis.asyncio import Redis

MESSAGE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MessageId = Annotated[str, StringConstraints(pattern=MESSAGE_ID_PATTERN)]


class DeliveryStatus(StrEnum):
    """Final statuses a receipt can carry."""

    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


class MessageStatus(StrEnum):
    """What we know of a message: accepted by the gateway, then one final status."""

    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


class DeliveryReceipt(BaseModel):
    """The body the gateway POSTs to our callback (see gateway_openapi.yaml, DeliveryReceipt).

    Rules beyond the types: `delivered` needs `delivered_at` and no `error_code`; `failed` needs an
    `error_code`; unknown fields are refused (a changed protocol should fail loudly, not half-parse).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: MessageId
    status: DeliveryStatus
    error_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    delivered_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _status_fields_agree(self) -> Self:
        if self.status is DeliveryStatus.DELIVERED:
            if self.delivered_at is None:
                raise ValueError("a 'delivered' receipt needs delivered_at")
            if self.error_code is not None:
                raise ValueError("a 'delivered' receipt cannot carry an error_code")
        elif self.status is DeliveryStatus.FAILED and self.error_code is None:
            raise ValueError("a 'failed' receipt needs an error_code")
        return self


class StoredMessage(BaseModel):
    """What GET /sms/messages/{message_id} answers."""

    message_id: str
    status: MessageStatus
    to_masked: str | None = None
    segments: int | None = None
    accepted_at: datetime | None = None
    receipt: DeliveryReceipt | None = None
    receipt_received_at: datetime | None = None


class _StoredReceipt(BaseModel):
    receipt: DeliveryReceipt
    received_at: datetime


class ReceiptStore(Protocol):
    """Where message statuses live (see module contract)."""

    async def record_accepted(self, message_id: str, to: str, segments: int, at: datetime) -> None: ...

    async def record_receipt(self, receipt: DeliveryReceipt, received_at: datetime) -> bool: ...

    async def get(self, message_id: str) -> StoredMessage | None: ...


def mask_number(number: str) -> str:
    """+886912345678 -> +886912***678 (enough to tell numbers apart, not enough to call)."""
    if len(number) <= 7:
        return "*" * len(number)
    return f"{number[:-6]}***{number[-3:]}"


def _combine(message_id: str, accepted: dict[str, Any] | None, stored: _StoredReceipt | None) -> StoredMessage:
    return StoredMessage(
        message_id=message_id,
        status=MessageStatus(stored.receipt.status.value) if stored else MessageStatus.ACCEPTED,
        to_masked=accepted["to_masked"] if accepted else None,
        segments=accepted["segments"] if accepted else None,
        accepted_at=accepted["accepted_at"] if accepted else None,
        receipt=stored.receipt if stored else None,
        receipt_received_at=stored.received_at if stored else None,
    )


class InMemoryReceiptStore:
    """A `ReceiptStore` in one process's memory (unit tests, demos); one lock keeps it consistent."""

    def __init__(self) -> None:
        self._accepted: dict[str, dict[str, Any]] = {}
        self._receipts: dict[str, _StoredReceipt] = {}
        self._lock = asyncio.Lock()

    async def record_accepted(self, message_id: str, to: str, segments: int, at: datetime) -> None:
        async with self._lock:
            self._accepted[message_id] = {"to_masked": mask_number(to), "segments": segments, "accepted_at": at}

    async def record_receipt(self, receipt: DeliveryReceipt, received_at: datetime) -> bool:
        async with self._lock:
            if receipt.message_id in self._receipts:
                return False
            self._receipts[receipt.message_id] = _StoredReceipt(receipt=receipt, received_at=received_at)
            return True

    async def get(self, message_id: str) -> StoredMessage | None:
        async with self._lock:
            accepted = self._accepted.get(message_id)
            stored = self._receipts.get(message_id)
        if accepted is None and stored is None:
            return None
        return _combine(message_id, accepted, stored)


class RedisReceiptStore:
    """A `ReceiptStore` in Redis: one hash per message, `<prefix>:msg:<id>`, expiring after `ttl`.

    The first receipt wins through HSETNX (atomic), so concurrent duplicate callbacks store one receipt.
    """

    def __init__(self, redis: Redis[Any], prefix: str, ttl: timedelta) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = int(ttl.total_seconds())

    def key(self, message_id: str) -> str:
        """The Redis key of one message's hash."""
        return f"{self._prefix}:msg:{message_id}"

    async def record_accepted(self, message_id: str, to: str, segments: int, at: datetime) -> None:
        key = self.key(message_id)
        fields: dict[str | bytes, str | bytes | int | float] = {
            "to_masked": mask_number(to),
            "segments": segments,
            "accepted_at": at.isoformat(),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self._ttl_s)
            await pipe.execute()

    async def record_receipt(self, receipt: DeliveryReceipt, received_at: datetime) -> bool:
        key = self.key(receipt.message_id)
        payload = _StoredReceipt(receipt=receipt, received_at=received_at).model_dump_json()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "receipt", payload)
            pipe.expire(key, self._ttl_s)
            created, _ = await pipe.execute()
        return bool(created)

    async def get(self, message_id: str) -> StoredMessage | None:
        raw: dict[bytes | str, bytes | str] = await self._redis.hgetall(self.key(message_id))
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if not fields:
            return None
        accepted: dict[str, Any] | None = None
        if "accepted_at" in fields:
            accepted = {
                "to_masked": fields["to_masked"],
                "segments": int(fields["segments"]),
                "accepted_at": datetime.fromisoformat(fields["accepted_at"]),
            }
        stored = _StoredReceipt.model_validate_json(fields["receipt"]) if "receipt" in fields else None
        return _combine(message_id, accepted, stored)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
