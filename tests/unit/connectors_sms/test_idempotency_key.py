"""Stable idempotency keys for logical messages, valid for the protocol's header pattern."""

from __future__ import annotations

from connectors.sms.client import IDEMPOTENCY_KEY_RE, idempotency_key_for


def test_same_parts_same_key_and_valid_header() -> None:
    key = idempotency_key_for("kpi_breach", "daily_deliveries", "2026-01-15T10:00+08:00")
    assert key == idempotency_key_for("kpi_breach", "daily_deliveries", "2026-01-15T10:00+08:00")
    assert IDEMPOTENCY_KEY_RE.match(key)


def test_parts_are_not_ambiguous() -> None:
    assert idempotency_key_for("ab", "c") != idempotency_key_for("a", "bc")
    assert idempotency_key_for("kpi", "10:00") != idempotency_key_for("kpi", "11:00")
