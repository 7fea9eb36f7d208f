"""The ReceiptStore contract, run against every implementation (memory here, Redis in integration).

A subclass provides the `store` fixture; every test gets a store with no messages in it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from connectors.sms.receipts import DeliveryReceipt, DeliveryStatus, MessageStatus, ReceiptStore

T0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


def delivered(message_id: str) -> DeliveryReceipt:
    return DeliveryReceipt(message_id=message_id, status=DeliveryStatus.DELIVERED, delivered_at=T0)


def failed(message_id: str, code: str = "EC_UNREACHABLE") -> DeliveryReceipt:
    return DeliveryReceipt(message_id=message_id, status=DeliveryStatus.FAILED, error_code=code)


class ReceiptStoreContract:
    async def test_unknown_message_is_none(self, store: ReceiptStore) -> None:
        assert await store.get("m-unknown") is None

    async def test_accepted_then_delivered(self, store: ReceiptStore) -> None:
        await store.record_accepted("m1", "+886912345678", 1, T0)
        got = await store.get("m1")
        assert got is not None
        assert (got.status, got.to_masked, got.segments, got.accepted_at) == (
            MessageStatus.ACCEPTED,
            "+886912***678",
            1,
            T0,
        )
        assert got.receipt is None
        assert await store.record_receipt(delivered("m1"), T0 + timedelta(seconds=3)) is True
        got = await store.get("m1")
        assert got is not None
        assert got.status is MessageStatus.DELIVERED
        assert got.receipt == delivered("m1")
        assert got.receipt_received_at == T0 + timedelta(seconds=3)
        assert got.to_masked == "+886912***678"

    async def test_first_final_status_wins(self, store: ReceiptStore) -> None:
        assert await store.record_receipt(failed("m2"), T0) is True
        assert await store.record_receipt(failed("m2"), T0) is False  # gateway retry
        assert await store.record_receipt(delivered("m2"), T0) is False  # contradicting one
        got = await store.get("m2")
        assert got is not None and got.status is MessageStatus.FAILED
        assert got.receipt is not None and got.receipt.error_code == "EC_UNREACHABLE"

    async def test_receipt_before_acceptance_is_not_downgraded(self, store: ReceiptStore) -> None:
        assert await store.record_receipt(delivered("m3"), T0) is True
        got = await store.get("m3")
        assert got is not None and got.status is MessageStatus.DELIVERED and got.to_masked is None
        await store.record_accepted("m3", "+886987654321", 2, T0)
        got = await store.get("m3")
        assert got is not None
        assert got.status is MessageStatus.DELIVERED
        assert (got.to_masked, got.segments) == ("+886987***321", 2)

    async def test_concurrent_duplicate_receipts_store_one(self, store: ReceiptStore) -> None:
        results = await asyncio.gather(*(store.record_receipt(delivered("m4"), T0) for _ in range(20)))
        assert results.count(True) == 1
