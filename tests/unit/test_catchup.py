"""The catch-up progress bar: the largest backlog seen is the total, up ends it, failure or a long stall stops it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.catchup import GRACE_SECONDS, CatchUp, follow
from infra.services import WorkerHealth, WorkerState
from tests.unit.access.access_testing import stack_settings


def health(state: WorkerState, backlog: int = 0, **extra: Any) -> WorkerHealth:
    return WorkerHealth(state, f"{state} detail", {"backlog": backlog, "rate": 500.0, "eta_seconds": 4.0, **extra})


def test_the_bar_counts_against_the_largest_backlog_seen() -> None:
    catch_up = CatchUp()
    assert catch_up.observe(health("catching_up", 1_000), 0.0) is None
    assert catch_up.observe(health("catching_up", 4_000), 1.0) is None  # the snapshot is still arriving
    assert catch_up.observe(health("catching_up", 1_500), 2.0) is None
    assert (catch_up.total, catch_up.done) == (4_000, 2_500)
    assert catch_up.observe(health("up"), 3.0) == "up"


def test_a_restart_passes_a_long_stall_or_a_failure_stops() -> None:
    catch_up = CatchUp()
    assert catch_up.observe(health("down"), 0.0) is None  # the supervisor restarting it
    assert catch_up.observe(health("catching_up", 10), 5.0) is None
    assert catch_up.observe(health("stalled", 10), 6.0) is None
    outcome = catch_up.observe(health("stalled", 10), 6.0 + GRACE_SECONDS + 1)
    assert outcome is not None and outcome.startswith("the worker is stalled")
    assert CatchUp().observe(health("failed"), 0.0) == "the worker failed: failed detail"


def test_follow_returns_when_up_or_failed(tmp_path: Path) -> None:
    readings = iter([health("catching_up", 300), health("catching_up", 100), health("up")])
    assert follow(stack_settings(tmp_path), interval=0, read=lambda _s: next(readings))
    failing = iter([health("catching_up", 300), health("failed")])
    assert not follow(stack_settings(tmp_path), interval=0, read=lambda _s: next(failing))
