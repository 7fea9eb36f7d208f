"""The circuit breaker as a pure state machine over a FixedClock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.events.breaker import BreakerState, CircuitBreaker
from connectors.events.errors import CircuitOpenError
from infra.clock import FixedClock

COOLDOWN = timedelta(seconds=30)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The state, read through a call (so the type checker does not pin it between transitions)."""
    return breaker.state


def fail_times(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        breaker.acquire()
        breaker.record_failure()


def test_opens_after_threshold_consecutive_failures(clock: FixedClock) -> None:
    breaker = CircuitBreaker(3, COOLDOWN, clock)
    fail_times(breaker, 2)
    assert state_of(breaker) is BreakerState.CLOSED and breaker.consecutive_failures == 2
    fail_times(breaker, 1)
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.retry_at() == clock.now() + COOLDOWN


def test_a_success_resets_the_failure_count(clock: FixedClock) -> None:
    breaker = CircuitBreaker(3, COOLDOWN, clock)
    fail_times(breaker, 2)
    breaker.acquire()
    breaker.record_success()
    fail_times(breaker, 2)
    assert state_of(breaker) is BreakerState.CLOSED and breaker.consecutive_failures == 2


def test_open_fails_fast_until_the_cooldown_has_passed(clock: FixedClock) -> None:
    breaker = CircuitBreaker(1, COOLDOWN, clock)
    fail_times(breaker, 1)
    opened = clock.now()
    clock.advance(COOLDOWN - timedelta(milliseconds=1))
    with pytest.raises(CircuitOpenError) as raised:
        breaker.acquire()
    assert raised.value.retry_at == opened + COOLDOWN
    assert state_of(breaker) is BreakerState.OPEN


def test_half_open_lets_exactly_one_probe_through(clock: FixedClock) -> None:
    breaker = CircuitBreaker(1, COOLDOWN, clock)
    fail_times(breaker, 1)
    clock.advance(COOLDOWN)
    breaker.acquire()  # the probe
    assert state_of(breaker) is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpenError) as raised:
        breaker.acquire()  # a second caller while the probe runs
    assert raised.value.retry_at is None


def test_probe_success_closes(clock: FixedClock) -> None:
    breaker = CircuitBreaker(2, COOLDOWN, clock)
    fail_times(breaker, 2)
    clock.advance(COOLDOWN)
    breaker.acquire()
    breaker.record_success()
    assert state_of(breaker) is BreakerState.CLOSED and breaker.consecutive_failures == 0
    breaker.acquire()  # closed again: calls pass
    breaker.acquire()


def test_probe_failure_reopens_with_a_fresh_cooldown(clock: FixedClock) -> None:
    breaker = CircuitBreaker(2, COOLDOWN, clock)
    fail_times(breaker, 2)
    clock.advance(COOLDOWN + timedelta(seconds=5))
    breaker.acquire()
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.retry_at() == clock.now() + COOLDOWN
    with pytest.raises(CircuitOpenError):
        breaker.acquire()


def test_released_probe_lets_the_next_caller_probe(clock: FixedClock) -> None:
    breaker = CircuitBreaker(1, COOLDOWN, clock)
    fail_times(breaker, 1)
    clock.advance(COOLDOWN)
    breaker.acquire()
    breaker.release()  # e.g. the probe was cancelled
    breaker.acquire()
    assert state_of(breaker) is BreakerState.HALF_OPEN


def test_stragglers_do_not_change_an_open_circuit(clock: FixedClock) -> None:
    breaker = CircuitBreaker(2, COOLDOWN, clock)
    breaker.acquire()
    breaker.acquire()  # two calls in flight while closed
    breaker.acquire()
    breaker.record_failure()
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    retry_at = breaker.retry_at()
    clock.advance(timedelta(seconds=10))
    breaker.record_failure()  # a late failure does not extend the cooldown
    breaker.record_success()  # a late success does not close it
    assert state_of(breaker) is BreakerState.OPEN and breaker.retry_at() == retry_at


def test_transitions_are_reported(clock: FixedClock) -> None:
    seen: list[tuple[BreakerState, BreakerState]] = []
    breaker = CircuitBreaker(1, COOLDOWN, clock, on_change=lambda old, new: seen.append((old, new)))
    fail_times(breaker, 1)
    clock.advance(COOLDOWN)
    breaker.acquire()
    breaker.record_failure()
    clock.advance(COOLDOWN)
    breaker.acquire()
    breaker.record_success()
    assert seen == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


@pytest.mark.parametrize(("threshold", "cooldown"), [(0, COOLDOWN), (1, timedelta(0))])
def test_rejects_meaningless_parameters(threshold: int, cooldown: timedelta) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(threshold, cooldown)
