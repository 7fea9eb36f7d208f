"""Retry timing for gateway requests (pure functions).

Contract:
- `backoff_delay(attempt)`: exponential backoff with "equal jitter": the ceiling min(cap, base * 2**attempt)
  is split in half, one half always waited and the other drawn at random, so workers that failed together
  spread out yet never retry instantly. `attempt` counts from 0 (the delay after the first failure).
- `retry_delay(attempt, retry_after)`: when the gateway sent Retry-After, wait at least that long (plus a
  little jitter, so a whole storm does not come back in the same millisecond); otherwise `backoff_delay`.
- `parse_retry_after(value, now)`: seconds from a Retry-After header, delta-seconds or HTTP-date form;
  None when absent or unreadable (the caller then falls back to backoff). Never negative.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from connectors.sms.settings import SmsSettings


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry 429 / 5xx / connection errors."""

    max_retries: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0
    max_retry_after_s: float = 120.0

    @classmethod
    def from_settings(cls, settings: SmsSettings) -> RetryPolicy:
        return cls(
            settings.max_retries,
            settings.backoff_base_seconds,
            settings.backoff_max_seconds,
            settings.max_retry_after_seconds,
        )

    def backoff_delay(self, attempt: int, rng: random.Random) -> float:
        """Equal-jitter exponential delay after failed attempt number `attempt` (0-based)."""
        if attempt < 0:
            raise ValueError("attempt counts from 0")
        # min() before the power would overflow for absurd attempts; cap the exponent instead.
        ceiling = min(self.cap_s, self.base_s * float(2 ** min(attempt, 62)))
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)

    def retry_delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Delay before the next attempt: Retry-After (+ up to `base_s` jitter) when given, else backoff."""
        if retry_after is not None:
            return retry_after + rng.uniform(0.0, self.base_s)
        return self.backoff_delay(attempt, rng)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header value (see module contract); `now` must be aware."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds) and seconds >= 0:
        return seconds
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
