"""A daily run at a local time (06:00 Asia/Taipei for the bank pull), plus runs on demand.

`next_run` is pure. `DailyJobRunner` is a small loop around it that takes its time from an injectable
`Clock` and sleeps through an injectable `sleep`, so tests drive a day in milliseconds. It naps at most
`max_nap_s` at a time and re-reads the clock after each nap, so a suspended host or a clock step does not
make it miss or double a run. A failing job is logged and the loop goes on to the next day.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta, tzinfo
from typing import Literal

from infra.clock import TAIPEI, Clock

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Job = Callable[[], Awaitable[object]]
Trigger = Literal["scheduled", "on_demand"]


def next_run(now: datetime, at: time = time(6, 0), tz: tzinfo = TAIPEI) -> datetime:
    """The first moment strictly after `now` whose local time in `tz` is `at` (returned in `tz`).

    Strictly after, so a run that finishes within the same instant is not repeated. Raises `ValueError`
    for a naive `now` or an `at` carrying its own tzinfo.
    """
    if now.tzinfo is None:
        raise ValueError("next_run needs a timezone-aware now")
    if at.tzinfo is not None:
        raise ValueError("give `at` as a naive local time; the zone is `tz`")
    local_now = now.astimezone(tz)
    candidate = datetime.combine(local_now.date(), at, tzinfo=tz)
    if candidate <= local_now:
        candidate = datetime.combine(local_now.date() + timedelta(days=1), at, tzinfo=tz)
    return candidate


class DailyJobRunner:
    """Runs `job` every day at `at` (local to `tz`) and whenever `request_run` is called, until `stop`."""

    def __init__(
        self,
        job: Job,
        clock: Clock,
        *,
        at: time = time(6, 0),
        tz: tzinfo = TAIPEI,
        sleep: Sleep = asyncio.sleep,
        max_nap_s: float = 60.0,
    ) -> None:
        self.job = job
        self.clock = clock
        self.at = at
        self.tz = tz
        self.sleep = sleep
        self.max_nap_s = max_nap_s
        self.completed_runs = 0
        self.failed_runs = 0
        self.last_trigger: Trigger | None = None
        self._requested = asyncio.Event()
        self._stopped = asyncio.Event()

    def request_run(self) -> None:
        """Run as soon as possible (requests made while a run is going coalesce into one more run)."""
        self._requested.set()

    def stop(self) -> None:
        """End `run_forever` after the current run, if any."""
        self._stopped.set()

    async def run_forever(self) -> None:
        """Loop until `stop`; returns normally then. Job exceptions are logged, never raised."""
        while not self._stopped.is_set():
            due = next_run(self.clock.now(), self.at, self.tz)
            trigger = await self._wait_until(due)
            if trigger is None:
                return
            await self._run(trigger)

    async def _wait_until(self, due: datetime) -> Trigger | None:
        while True:
            if self._stopped.is_set():
                return None
            if self._requested.is_set():
                self._requested.clear()
                return "on_demand"
            remaining = (due - self.clock.now()).total_seconds()
            if remaining <= 0:
                return "scheduled"
            await self._nap(min(remaining, self.max_nap_s))

    async def _nap(self, seconds: float) -> None:
        """Sleep `seconds`, waking early on a run request or stop."""
        waiters = [
            asyncio.ensure_future(self.sleep(seconds)),
            asyncio.ensure_future(self._requested.wait()),
            asyncio.ensure_future(self._stopped.wait()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _run(self, trigger: Trigger) -> None:
        self.last_trigger = trigger
        try:
            await self.job()
        except Exception:  # a bad morning must not end the schedule: log it and wait for the next run
            self.failed_runs += 1
            log.exception("%s run of %r failed", trigger, self.job)
        else:
            self.completed_runs += 1
