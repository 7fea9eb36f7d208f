"""Backoff with jitter, Retry-After parsing, and the sliding-window count the storm test relies on."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connectors.sms.ratelimit import max_in_window
from connectors.sms.retry import RetryPolicy, parse_retry_after

NOW = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_retries=5, base_s=0.5, cap_s=8.0, max_retry_after_s=120.0)


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0), (500, 8.0)]
)
def test_backoff_stays_within_half_and_full_ceiling(attempt: int, ceiling: float) -> None:
    rng = random.Random(7)
    delays = [POLICY.backoff_delay(attempt, rng) for _ in range(200)]
    assert min(delays) >= ceiling / 2
    assert max(delays) <= ceiling
    assert len(set(delays)) > 150  # jittered, not one fixed value


def test_backoff_refuses_negative_attempt() -> None:
    with pytest.raises(ValueError):
        POLICY.backoff_delay(-1, random.Random(1))


def test_retry_after_is_honoured_with_small_jitter() -> None:
    rng = random.Random(3)
    delays = [POLICY.retry_delay(0, 7.0, rng) for _ in range(100)]
    assert all(7.0 <= d <= 7.5 for d in delays)
    assert POLICY.retry_delay(2, None, random.Random(3)) <= 2.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("5", 5.0), (" 12 ", 12.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("soon", None), ("-3", None), ("", None)],
)
def test_parse_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_parse_retry_after_http_date() -> None:
    header = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, NOW) == 30.0
    past = format_datetime(NOW - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0


def test_max_in_window_uses_half_open_windows() -> None:
    # Events exactly one window apart are never in the same window.
    assert max_in_window([0.0, 1.0, 2.0], 1.0) == 1
    assert max_in_window([0.0, 0.999, 1.0], 1.0) == 2
    assert max_in_window([], 1.0) == 0


def test_max_in_window_matches_brute_force() -> None:
    rng = random.Random(11)
    stamps = [rng.uniform(0, 20) for _ in range(300)]
    brute = max(sum(1 for s in stamps if t - 3.0 < s <= t) for t in stamps)
    assert max_in_window(stamps, 3.0) == brute
    assert max_in_window(list(reversed(sorted(stamps))), 3.0) == brute
