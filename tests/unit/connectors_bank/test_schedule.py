"""The 06:00 Asia/Taipei schedule: the pure `next_run` and the loop driven by an injected clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.bank.schedule import DailyJobRunner, next_run
from infra.clock import TAIPEI, FixedClock


def _taipei(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TAIPEI)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (_taipei(2026, 1, 15, 5, 59, 59), _taipei(2026, 1, 15, 6, 0)),
        (_taipei(2026, 1, 15, 6, 0), _taipei(2026, 1, 16, 6, 0)),  # strictly after: no double run
        (_taipei(2026, 1, 15, 6, 0, 1), _taipei(2026, 1, 16, 6, 0)),
        (_taipei(2026, 12, 31, 23, 0), _taipei(2027, 1, 1, 6, 0)),
        # 21:30 UTC is already 05:30 the next day in Taipei (UTC+8).
        (datetime(2026, 1, 14, 21, 30, tzinfo=UTC), _taipei(2026, 1, 15, 6, 0)),
        (datetime(2026, 1, 14, 22, 0, tzinfo=UTC), _taipei(2026, 1, 16, 6, 0)),
    ],
)
def test_next_run_is_the_next_0600_in_taipei(now: datetime, expected: datetime) -> None:
    result = next_run(now)
    assert result == expected
    assert result.tzinfo is TAIPEI and result.utcoffset() == timedelta(hours=8)


def test_next_run_takes_another_time_and_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # The night the clocks go forward in Berlin: 02:30 does not exist; the day count still advances.
    assert next_run(datetime(2026, 3, 28, 12, 0, tzinfo=berlin), time(2, 30), berlin).date().isoformat() == "2026-03-29"
    assert next_run(_taipei(2026, 1, 15, 7, 0), time(18, 0)) == _taipei(2026, 1, 15, 18, 0)


def test_next_run_refuses_naive_input() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run(datetime(2026, 1, 15, 6, 0))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive local time"):
        next_run(_taipei(2026, 1, 15, 6, 0), time(6, 0, tzinfo=UTC))


class Harness:
    """A runner on a fixed clock whose sleep advances that clock (a day passes in milliseconds)."""

    def __init__(self, start: datetime, stop_after: int, fail_first: bool = False) -> None:
        self.clock = FixedClock(start)
        self.runs: list[datetime] = []
        self.fail_first = fail_first
        self.stop_after = stop_after
        self.runner = DailyJobRunner(self.job, self.clock, sleep=self.sleep, max_nap_s=900)

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    async def job(self) -> None:
        self.runs.append(self.clock.now())
        if len(self.runs) >= self.stop_after:
            self.runner.stop()
        if self.fail_first and len(self.runs) == 1:
            raise RuntimeError("bank server unreachable")


async def test_runner_fires_at_0600_taipei_every_day() -> None:
    harness = Harness(datetime(2026, 1, 15, 2, 0, tzinfo=UTC), stop_after=3)  # 10:00 in Taipei
    await asyncio.wait_for(harness.runner.run_forever(), timeout=5)
    assert [r.astimezone(TAIPEI) for r in harness.runs] == [
        _taipei(2026, 1, 16, 6, 0), _taipei(2026, 1, 17, 6, 0), _taipei(2026, 1, 18, 6, 0)
    ]
    assert harness.runner.completed_runs == 3 and harness.runner.last_trigger == "scheduled"


async def test_a_failing_run_does_not_end_the_schedule() -> None:
    harness = Harness(datetime(2026, 1, 15, 2, 0, tzinfo=UTC), stop_after=2, fail_first=True)
    await asyncio.wait_for(harness.runner.run_forever(), timeout=5)
    assert (harness.runner.failed_runs, harness.runner.completed_runs) == (1, 1)
    assert harness.runs[1] - harness.runs[0] == timedelta(days=1)


async def test_on_demand_run_happens_at_once_and_the_daily_run_still_follows() -> None:
    start = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    harness = Harness(start, stop_after=2)
    harness.runner.request_run()
    await asyncio.wait_for(harness.runner.run_forever(), timeout=5)
    assert harness.runs == [start, datetime(2026, 1, 15, 22, 0, tzinfo=UTC)]


async def test_on_demand_wakes_a_sleeping_runner_and_stop_ends_it() -> None:
    clock = FixedClock(datetime(2026, 1, 15, 2, 0, tzinfo=UTC))
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    runner = DailyJobRunner(job, clock)  # real asyncio.sleep: it would nap for a minute
    task = asyncio.create_task(runner.run_forever())
    await asyncio.sleep(0.05)
    assert not ran.is_set()
    runner.request_run()
    await asyncio.wait_for(ran.wait(), timeout=2)
    runner.stop()
    await asyncio.wait_for(task, timeout=2)
    assert (runner.completed_runs, runner.last_trigger) == (1, "on_demand")
