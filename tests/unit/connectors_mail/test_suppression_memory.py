"""SuppressionList contract against the in-memory list; entry serialization."""

from __future__ import annotations

from datetime import datetime

import pytest

from connectors.mail.suppression import InMemorySuppressionList, SuppressionEntry
from tests.unit.connectors_mail.suppression_contract import SuppressionListContract, entry


class TestInMemorySuppressionList(SuppressionListContract):
    @pytest.fixture
    def suppression(self) -> InMemorySuppressionList:
        return InMemorySuppressionList()


def test_entry_json_round_trip_keeps_chinese_reason() -> None:
    original = entry("wang@example.com", "信箱不存在")
    raw = original.to_json()
    assert "信箱不存在" in raw
    assert SuppressionEntry.from_json(raw) == original


def test_entry_needs_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SuppressionEntry("a@example.com", "x", datetime(2026, 1, 15))  # noqa: DTZ001 - the point of the test
