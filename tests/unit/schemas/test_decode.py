"""The change decoder: typed envelopes for good records, one typed error naming topic/offset/reason otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from schemas.decode import ChangeDecoder, MalformedChange, decode_heartbeat
from schemas.registry import TABLES
from schemas.tables.w200 import OrderMaster
from schemas.types import date_to_wire

TOPIC = "luckygas.w200.order_master"


def order_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "order_id": 7, "order_no": "O20260115-0007", "customer_id": 3, "address_id": 4, "branch_code": "TPE",
        "sales_employee_id": None, "channel": "phone", "order_status": "pending",
        "ordered_at": "2026-01-15T02:00:00.000000Z", "promised_from": "2026-01-15T03:00:00Z",
        "promised_to": "2026-01-15T05:00:00Z", "delivered_at": None, "cancelled_at": None, "cancel_reason": None,
        "subtotal": "1520.00", "tax_amount": "76.00", "total_amount": "1596.00", "payment_method": "cash",
        "created_at": "2026-01-15T02:00:00Z", "updated_at": "2026-01-15T02:00:00Z",
    }
    row.update(changes)
    return row


def envelope(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, **source: Any) -> bytes:
    src = {"connector": "postgresql", "name": "luckygas", "ts_ms": 1768442400000, "snapshot": "false",
           "db": "luckygas", "schema": "w200", "table": "order_master", "txId": 812, "lsn": 26_000_000}
    src.update(source)
    return orjson.dumps({"before": before, "after": after, "source": src, "op": op, "ts_ms": 1768442400100,
                         "transaction": {"id": "812:26000000", "total_order": 3, "data_collection_order": 1}})


@pytest.fixture
def decoder() -> ChangeDecoder:
    return ChangeDecoder("luckygas")


def test_every_captured_table_has_a_topic(decoder: ChangeDecoder) -> None:
    assert decoder.topics == sorted(f"luckygas.{name}" for name in TABLES)
    assert len(decoder.topics) == 25


def test_insert_decodes_to_typed_row(decoder: ChangeDecoder) -> None:
    change = decoder.decode(TOPIC, envelope("c", None, order_row()), offset=11)
    assert change is not None
    assert change.op == "c" and change.before is None
    row = change.after
    assert isinstance(row, OrderMaster)
    assert row.subtotal == Decimal("1520.00") and row.total_amount == Decimal("1596.00")
    assert row.ordered_at == datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    assert change.source.tx_id == 812 and change.source.lsn == 26_000_000
    assert change.position == (26_000_000, 3)


def test_update_carries_before_and_after(decoder: ChangeDecoder) -> None:
    change = decoder.decode(TOPIC, envelope("u", order_row(), order_row(order_status="confirmed")))
    assert change is not None and change.before is not None and change.after is not None
    assert (change.before.order_status, change.after.order_status) == ("pending", "confirmed")  # type: ignore[attr-defined]


def test_dates_arrive_as_epoch_days() -> None:
    decoder = ChangeDecoder("lg")
    row = {"payment_id": 1, "invoice_id": 2, "customer_id": 3, "payment_date": date_to_wire(date(2026, 1, 15)),
           "received_at": "2026-01-15T01:00:00Z", "amount": "1050", "method": "virtual_account",
           "bank_reference": None, "virtual_account": "95012345678901", "status": "received",
           "created_at": "2026-01-15T01:00:00Z", "updated_at": "2026-01-15T01:00:00Z"}
    raw = envelope("r", None, row, schema="w500", table="payment_record", snapshot="true")
    change = decoder.decode("lg.w500.payment_record", raw)
    assert change is not None and change.source.is_snapshot
    assert change.after.payment_date == date(2026, 1, 15)  # type: ignore[union-attr]


def test_tombstone_is_none(decoder: ChangeDecoder) -> None:
    assert decoder.decode(TOPIC, None) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "Invalid JSON"),
        (envelope("x", None, order_row()), "op"),
        (envelope("u", None, order_row()), "both images"),
        (envelope("d", None, None), "before-image"),
        (envelope("c", None, order_row(order_status="lost")), "after.order_status"),
        (envelope("c", None, order_row(subtotal="12,5")), "after.subtotal"),
        (envelope("c", None, order_row(ordered_at="2026-01-15T02:00:00")), "timezone"),
        (envelope("c", None, order_row(), table="order_detail"), "does not match topic"),
    ],
)
def test_malformed_records_raise_one_typed_error(decoder: ChangeDecoder, raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedChange) as caught:
        decoder.decode(TOPIC, raw, partition=2, offset=99)
    error = caught.value
    assert (error.topic, error.partition, error.offset) == (TOPIC, 2, 99)
    assert reason in error.reason
    assert f"{TOPIC}[2]@99" in str(error)


def test_a_column_added_upstream_is_decoded_not_rejected(decoder: ChangeDecoder) -> None:
    change = decoder.decode(TOPIC, envelope("c", None, order_row(surprise_column=1)), partition=2, offset=99)
    assert change is not None and change.after is not None and not hasattr(change.after, "surprise_column")
    assert decoder.drift["w200.order_master"].to_json()["added_columns"] == ["surprise_column"]
    # The same change as without the column: same classes, equal (a replay compares them with the database's).
    assert change == decoder.decode(TOPIC, envelope("c", None, order_row()), partition=2, offset=99)


def test_unknown_topic_is_malformed(decoder: ChangeDecoder) -> None:
    with pytest.raises(MalformedChange, match="unknown topic"):
        decoder.decode("luckygas.public.unknown", b"{}", offset=1)


def test_heartbeat() -> None:
    assert decode_heartbeat("__debezium-heartbeat.luckygas", b'{"ts_ms": 1768442400000}').ts_ms == 1768442400000
    with pytest.raises(MalformedChange, match="empty heartbeat"):
        decode_heartbeat("__debezium-heartbeat.luckygas", None, offset=5)
