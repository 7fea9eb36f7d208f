"""ReceiptStore contract against the in-memory store; DeliveryReceipt body rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.sms.receipts import DeliveryReceipt, InMemoryReceiptStore, mask_number
from tests.unit.connectors_sms.receipt_store_contract import ReceiptStoreContract


class TestInMemoryReceiptStore(ReceiptStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryReceiptStore:
        return InMemoryReceiptStore()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"message_id":"m1","status":"delivered","error_code":null,"delivered_at":null}', "needs delivered_at"),
        (
            '{"message_id":"m1","status":"delivered","error_code":"X","delivered_at":"2026-01-15T02:00:00Z"}',
            "cannot carry an error_code",
        ),
        ('{"message_id":"m1","status":"failed","error_code":null,"delivered_at":null}', "needs an error_code"),
        ('{"message_id":"m1","status":"read","error_code":null,"delivered_at":null}', "status"),
        ('{"message_id":"m 1","status":"expired","error_code":null,"delivered_at":null}', "message_id"),
        ('{"message_id":"m1","status":"delivered","error_code":null,"delivered_at":"2026-01-15T02:00:00"}', "timezone"),
        ('{"message_id":"m1","status":"expired","extra":1}', "extra"),
    ],
)
def test_invalid_receipt_bodies(body: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        DeliveryReceipt.model_validate_json(body)


def test_expired_needs_neither_code_nor_time() -> None:
    receipt = DeliveryReceipt.model_validate_json(
        '{"message_id":"m1","status":"expired","error_code":null,"delivered_at":null}'
    )
    assert receipt.status == "expired"


def test_mask_number() -> None:
    assert mask_number("+886912345678") == "+886912***678"
    assert mask_number("12345") == "*****"
