"""Event models and their wire format: round trips, validation, poison classification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from connectors.events.errors import EventDecodeError, PoisonReason
from connectors.events.models import AlertTriggered, EventType, decode_event, encode_event
from connectors.events.testing import alert_triggered, report_completed, report_failed, report_requested, sample_event
from infra.clock import FixedClock


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_round_trips(event_type: EventType) -> None:
    event = sample_event(event_type)
    body = encode_event(event)
    assert decode_event(body) == event
    assert decode_event(body, expected=event_type) == event
    assert orjson.loads(body)["event_type"] == event_type.value


def test_kpi_values_keep_every_digit() -> None:
    alert = alert_triggered(value=Decimal("0.1000000000000000000001"), threshold=Decimal("0.2"))
    wire = orjson.loads(encode_event(alert))
    assert wire["value"] == "0.1000000000000000000001"
    decoded = decode_event(encode_event(alert))
    assert isinstance(decoded, AlertTriggered) and decoded.value == Decimal("0.1000000000000000000001")


def test_timestamps_keep_their_zone_and_naive_ones_are_refused() -> None:
    clock = FixedClock(datetime(2026, 1, 15, 10, 30, tzinfo=UTC))
    event = report_requested(clock)
    assert decode_event(encode_event(event)).occurred_at == datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
    with pytest.raises(ValidationError, match="timezone"):
        report_requested(occurred_at=datetime(2026, 1, 15, 10, 30))  # noqa: DTZ001 - naive on purpose


def test_chinese_text_survives_as_utf8() -> None:
    alert = alert_triggered()
    assert "鋼瓶".encode() in encode_event(alert)
    assert decode_event(encode_event(alert)).message == alert.message  # type: ignore[union-attr]


def test_an_alert_must_breach_its_threshold() -> None:
    with pytest.raises(ValidationError, match="does not breach"):
        alert_triggered(value=Decimal("60"), threshold=Decimal("50"), comparison="<")
    assert alert_triggered(value=Decimal("50"), threshold=Decimal("50"), comparison="<=").value == 50


def test_a_report_cannot_complete_before_it_started() -> None:
    clock = FixedClock()
    with pytest.raises(ValidationError, match="started_at"):
        report_completed(clock, started_at=clock.now() + timedelta(seconds=1))


def test_report_failed_needs_an_error_code_in_upper_snake_case() -> None:
    assert report_failed().error_code == "QUERY_TIMEOUT"
    with pytest.raises(ValidationError, match="error_code"):
        report_failed(error_code="timeout!")


def test_unknown_fields_are_refused() -> None:
    data = orjson.loads(encode_event(report_requested()))
    data["surprise"] = 1
    with pytest.raises(EventDecodeError) as raised:
        decode_event(orjson.dumps(data))
    assert raised.value.reason is PoisonReason.SCHEMA_INVALID
    assert "surprise" in raised.value.detail


@pytest.mark.parametrize(
    ("body", "reason", "fragment"),
    [
        (b"\xff\xfe not utf-8", PoisonReason.UNDECODABLE, "not JSON"),
        (b"{truncated", PoisonReason.UNDECODABLE, "not JSON"),
        (b"[1, 2]", PoisonReason.UNDECODABLE, "list"),
        (b'{"event_type": "report.exploded"}', PoisonReason.SCHEMA_INVALID, "report.exploded"),
        (b'{"event_type": "report.failed", "report_id": "x"}', PoisonReason.SCHEMA_INVALID, "report_id"),
        (b"{}", PoisonReason.SCHEMA_INVALID, "discriminator"),
    ],
)
def test_poison_is_classified(body: bytes, reason: PoisonReason, fragment: str) -> None:
    with pytest.raises(EventDecodeError) as raised:
        decode_event(body)
    assert raised.value.reason is reason
    assert fragment in raised.value.detail


def test_an_event_on_the_wrong_queue_is_poison() -> None:
    with pytest.raises(EventDecodeError) as raised:
        decode_event(encode_event(report_failed()), expected=EventType.REPORT_COMPLETED)
    assert raised.value.reason is PoisonReason.WRONG_TYPE


def test_long_validation_reports_are_cut_short() -> None:
    with pytest.raises(EventDecodeError) as raised:
        decode_event(b'{"event_type": "report.completed"}')
    assert "more" in raised.value.detail and raised.value.detail.count(";") == 5
