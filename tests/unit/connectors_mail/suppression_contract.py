"""The SuppressionList contract, run against every implementation (memory here, Redis in integration).

A subclass provides the `suppression` fixture; every test gets an empty list.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from connectors.mail.suppression import SuppressionEntry, SuppressionList

T0 = datetime(2026, 1, 15, 2, 30, tzinfo=UTC)


def entry(address: str, reason: str = "550 5.1.1 user unknown", at: datetime = T0) -> SuppressionEntry:
    return SuppressionEntry(address=address, reason=reason, suppressed_at=at, status="5.1.1")


class SuppressionListContract:
    async def test_empty(self, suppression: SuppressionList) -> None:
        assert await suppression.get("nobody@example.net") is None
        assert await suppression.suppressed_among(["nobody@example.net"]) == set()
        assert await suppression.suppressed_among([]) == set()

    async def test_add_is_case_insensitive_and_first_entry_wins(self, suppression: SuppressionList) -> None:
        assert await suppression.add(entry("Nobody@Example.net")) is True
        assert await suppression.add(entry("nobody@example.net", "later bounce", T0 + timedelta(days=1))) is False
        got = await suppression.get("NOBODY@example.NET")
        assert got == entry("nobody@example.net")
        assert got is not None and got.suppressed_at == T0 and got.status == "5.1.1"

    async def test_suppressed_among(self, suppression: SuppressionList) -> None:
        await suppression.add(entry("gone@example.net"))
        await suppression.add(entry("gone@example.org"))
        found = await suppression.suppressed_among(["ok@example.com", "Gone@Example.NET", "王 <gone@example.org>"])
        assert found == {"gone@example.net", "gone@example.org"}

    async def test_remove(self, suppression: SuppressionList) -> None:
        await suppression.add(entry("fixed@example.com"))
        assert await suppression.remove("Fixed@example.com") is True
        assert await suppression.remove("fixed@example.com") is False
        assert await suppression.suppressed_among(["fixed@example.com"]) == set()

    async def test_concurrent_adds_keep_one(self, suppression: SuppressionList) -> None:
        results = await asyncio.gather(*(suppression.add(entry("race@example.com", f"r{i}")) for i in range(20)))
        assert results.count(True) == 1
        got = await suppression.get("race@example.com")
        assert got is not None and got.reason == f"r{results.index(True)}"
