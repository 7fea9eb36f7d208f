"""How far behind the worker is, how fast it is catching up, and whether it is making progress at all.

Contract: the worker calls `Progress.observe(now, positions, highwaters)` about once a second with, per
assigned partition, the next offset it has durably processed (the checkpoint) and the broker's high-water
mark. `snapshot()` then gives a JSON-ready dict for the status file:
- `backlog`: records not yet processed, in all and per source table (heartbeat partitions left out: they are
  no data a user waits for);
- `rate`: records processed per second over the last `RATE_WINDOW_SECONDS`, `eta_seconds` = backlog / rate
  (None while nothing moves);
- `catching_up`: true while the backlog is at least `catching_up_records`, or until every partition has once
  been consumed to its end since the start (the initial snapshot, a rebuild, a restart after a long stop).
Pure and clock-free (the caller passes `now`), so it is tested without Kafka.

`Recovering(write, every)` covers the start before that (a full recovery loads and recomputes for minutes
at a year of history, with no batch to report on): a thread calls `write({"recovering": True, ...})` every
`every` seconds until the block ends, so the status stays fresh and says what the worker is doing.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

RATE_WINDOW_SECONDS = 30.0

TopicPartition = tuple[str, int]


@dataclass
class Progress:
    """Backlog, catch-up rate and ETA from checkpoints and high-water marks (see the module contract)."""

    topic_tables: Mapping[str, str]  # table topic -> source table; other topics (the heartbeat) are not data
    catching_up_records: int = 5_000
    _samples: deque[tuple[float, int]] = field(default_factory=deque)
    _backlog: dict[str, int] = field(default_factory=dict)
    _reached_end: bool = False
    _known: bool = False

    def observe(self, now: float, positions: Mapping[TopicPartition, int],
                highwaters: Mapping[TopicPartition, int | None]) -> None:
        """Record one reading. A partition whose high-water mark is unknown yet counts as not caught up."""
        backlog: dict[str, int] = {}
        unknown = False
        for tp, high in highwaters.items():
            table = self.topic_tables.get(tp[0])
            if table is None:
                continue
            if high is None:
                unknown = True
                continue
            behind = max(0, high - positions.get(tp, 0))
            backlog[table] = backlog.get(table, 0) + behind
        self._backlog = backlog
        self._known = bool(highwaters) and not unknown
        if self._known and sum(backlog.values()) == 0:
            self._reached_end = True
        self._samples.append((now, sum(positions.values())))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_SECONDS:
            self._samples.popleft()

    @property
    def backlog(self) -> int:
        return sum(self._backlog.values())

    @property
    def rate(self) -> float:
        """Records processed per second over the window (0 with fewer than two readings)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def catching_up(self) -> bool:
        return not self._reached_end or self.backlog >= self.catching_up_records

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        if self.backlog == 0:
            return 0.0
        return round(self.backlog / rate, 1) if rate > 0 else None

    def snapshot(self) -> dict[str, Any]:
        return {"backlog": self.backlog, "backlog_by_table": {t: n for t, n in sorted(self._backlog.items()) if n},
                "rate": round(self.rate, 1), "eta_seconds": self.eta_seconds, "catching_up": self.catching_up,
                "positions_known": self._known}


class Recovering:
    """While recovery runs, a status saying so every `every` seconds (see the module contract)."""

    def __init__(self, write: Callable[[dict[str, Any]], None], every: float = 2.0) -> None:
        self.write, self.every = write, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recovering-status", daemon=True)

    def _run(self) -> None:
        while True:
            self.write({"recovering": True, "catching_up": True, "backlog": 0})
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> Recovering:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
