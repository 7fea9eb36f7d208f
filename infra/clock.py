"""An injectable clock: components take a `Clock` so tests can fix or advance time.

All datetimes are timezone-aware; business days are counted in Asia/Taipei.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")


class Clock(Protocol):
    """Something that tells the current time (always timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests: stands still until `advance` is called."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 15, 2, 0, tzinfo=UTC))

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def business_day(moment: datetime) -> date:
    """The Asia/Taipei calendar day a moment falls on (the day reports count it in)."""
    if moment.tzinfo is None:
        raise ValueError("business_day needs a timezone-aware datetime")
    return moment.astimezone(TAIPEI).date()
