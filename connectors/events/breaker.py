"""A circuit breaker: a pure state machine over an injectable clock (no I/O, no asyncio).

States and transitions:
- CLOSED: calls pass. `failure_threshold` consecutive failures -> OPEN. A success resets the count.
- OPEN: `acquire()` raises `CircuitOpenError(retry_at)` without calling anything, until `cooldown` has passed
  since it opened; the first `acquire()` after that moves to HALF_OPEN and lets that one call through.
- HALF_OPEN: exactly one probe call is in flight; other callers get `CircuitOpenError(retry_at=None)`.
  The probe's success -> CLOSED; its failure -> OPEN again (a fresh cooldown). A probe that ends without a
  verdict (cancelled) calls `release()`, so the next caller probes instead.

Usage contract: call `acquire()` before each guarded call, then exactly one of `record_success()`,
`record_failure()` or `release()` after it. Results of calls that started before the circuit opened do not
reopen or close it: only the probe decides while OPEN/HALF_OPEN.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from connectors.events.errors import CircuitOpenError
from infra.clock import Clock, SystemClock

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """See the module docstring. `on_change(old, new)` is told about every transition (metrics, logs)."""

    failure_threshold: int
    cooldown: timedelta
    clock: Clock = field(default_factory=SystemClock)
    name: str = "rabbitmq-publisher"
    on_change: Callable[[BreakerState, BreakerState], None] | None = None
    _state: BreakerState = field(default=BreakerState.CLOSED, init=False)
    _failures: int = field(default=0, init=False)
    _opened_at: datetime | None = field(default=None, init=False)
    _probing: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if self.cooldown <= timedelta(0):
            raise ValueError("cooldown must be positive")

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_at(self) -> datetime | None:
        """When an OPEN circuit lets the next probe through (None unless OPEN)."""
        if self._state is not BreakerState.OPEN or self._opened_at is None:
            return None
        return self._opened_at + self.cooldown

    def acquire(self) -> None:
        """Permission for one call; raises `CircuitOpenError` to fail fast."""
        if self._state is BreakerState.CLOSED:
            return
        if self._state is BreakerState.OPEN:
            retry_at = self.retry_at()
            if retry_at is not None and self.clock.now() < retry_at:
                raise CircuitOpenError(self.name, retry_at)
            self._move(BreakerState.HALF_OPEN)
        if self._probing:
            raise CircuitOpenError(self.name, None)
        self._probing = True

    def record_success(self) -> None:
        """The guarded call succeeded."""
        if self._state is BreakerState.OPEN:
            return  # a straggler from before the circuit opened; only a probe may close it
        self._failures = 0
        self._probing = False
        if self._state is BreakerState.HALF_OPEN:
            self._move(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """The guarded call failed (error or timeout)."""
        if self._state is BreakerState.OPEN:
            return  # already open; a straggler must not extend the cooldown
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def release(self) -> None:
        """The guarded call ended without a verdict (e.g. cancelled): let the next caller probe."""
        self._probing = False

    def _open(self) -> None:
        self._opened_at = self.clock.now()
        self._probing = False
        self._move(BreakerState.OPEN)

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        log.warning("circuit %s: %s -> %s (consecutive failures: %d)", self.name, old, new, self._failures)
        if self.on_change is not None:
            self.on_change(old, new)
