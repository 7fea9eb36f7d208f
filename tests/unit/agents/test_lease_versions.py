"""Fencing by version: every cell a later lease epoch writes outranks anything an earlier epoch writes, and both
outrank the time-based versions written before leases existed."""

from __future__ import annotations

import time

import pytest

from agents.engine import Engine
from agents.lease import version_floor
from infra.clock import FixedClock
from tests.unit.agents import builders as b


def test_epoch_floors_order_the_versions() -> None:
    assert version_floor(1) > time.time_ns()  # above the clock-based versions of before
    assert version_floor(2) - version_floor(1) == 1 << 38
    assert version_floor((1 << 23) - 1) < 1 << 63
    for bad in (0, -1, 1 << 23):
        with pytest.raises(ValueError, match="out of range"):
            version_floor(bad)


def test_a_zombie_epoch_can_never_outrank_its_successor() -> None:
    zombie, successor = Engine(FixedClock(b.T0)), Engine(FixedClock(b.T0))
    zombie.version_floor, successor.version_floor = version_floor(7), version_floor(8)
    first = successor.next_version()
    for _ in range(10_000):  # however much the paused zombie writes after waking up
        late = zombie.next_version()
    assert first == version_floor(8) and late < first
    assert successor.next_version() == first + 1  # strictly increasing within an epoch


def test_without_a_lease_versions_follow_the_clock() -> None:
    engine = Engine(FixedClock(b.T0))
    before = time.time_ns()
    assert before <= engine.next_version() < version_floor(1)
