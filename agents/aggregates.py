"""The in-memory aggregate cells the engine keeps exact, and the sales windows (Asia/Taipei).

The families themselves (keys, measures, tables) are pure description in schemas/outputs.py.

Contract: every measure is an integer (cents, counts, tenths of a km), so adding a contribution and later
subtracting the same contribution returns a cell to exactly where it was. `Aggregates.add(family, key,
values, sign)` applies one contribution; a cell whose measures are all zero is removed (and later written
as deleted). `take_touched()` returns, and forgets, the keys changed since the last call: the engine
writes those keys' ABSOLUTE values, so a write repeated after a crash is harmless.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from agents.spaces import Space, Spaces
from agents.store import MemoryStore
from infra.clock import TAIPEI
from schemas.outputs import FAMILIES

# Sales grains, finest first (the "total" dimension has the single member "").
GRAINS: tuple[str, ...] = ("minute", "hour", "day", "month")


@lru_cache(maxsize=65_536)
def _local_hour_start(hour_index: int) -> datetime:
    return datetime.fromtimestamp(hour_index * 3600, TAIPEI)


def bucket_start(grain: str, instant: int) -> int:
    """The start (epoch seconds) of the Asia/Taipei window of `grain` holding `instant`."""
    if grain == "minute":
        return instant - instant % 60
    local = _local_hour_start(instant // 3600)
    if grain == "hour":
        return int(local.timestamp())
    if grain == "day":
        return int(local.replace(hour=0).timestamp())
    if grain == "month":
        return int(local.replace(day=1, hour=0).timestamp())
    raise ValueError(f"unknown grain {grain!r}")


def bucket_end(grain: str, start: int) -> int:
    """The end (exclusive, epoch seconds) of the window of `grain` that starts at `start`."""
    if grain == "minute":
        return start + 60
    if grain == "hour":
        return start + 3600
    local = datetime.fromtimestamp(start, TAIPEI)
    if grain == "day":
        return int((local + timedelta(days=1)).replace(hour=0).timestamp())
    if grain == "month":
        following = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
        return int(following.timestamp())
    raise ValueError(f"unknown grain {grain!r}")


# Store tags of each family's cells (persisted: never renumber).
CELL_TAGS: dict[str, int] = {"sales": 64, "fulfilment": 65, "receivables": 66, "collections": 67, "stock": 68,
                             "route": 69, "driver_day": 70, "invoice_open": 71}


class Aggregates:
    """Integer cells per family and key, held in bounded-memory spaces over the store (`agents.spaces`),
    and which keys changed since they were last written."""

    def __init__(self, spaces: Spaces | None = None, *, capacity: int = 1_000_000_000) -> None:
        self.spaces = spaces if spaces is not None else Spaces(MemoryStore())
        self.cells = {name: Space(self.spaces, CELL_TAGS[name], capacity) for name in FAMILIES}
        self._touched: dict[str, set[tuple[Any, ...]]] = defaultdict(set)

    def add(self, family: str, key: tuple[Any, ...], values: list[int], sign: int) -> None:
        cells = self.cells[family]
        held = cells.get(key)
        cell = [0] * len(values) if held is None else list(held)
        for i, value in enumerate(values):
            cell[i] += sign * value
        cells.put(key, cell if any(cell) else None)
        self._touched[family].add(key)

    def get(self, family: str, key: tuple[Any, ...]) -> list[int] | None:
        value: list[int] | None = self.cells[family].get(key)
        return value

    def touch(self, family: str, key: tuple[Any, ...]) -> None:
        """Mark a key for writing although its measures did not change (e.g. a window just closed)."""
        self._touched[family].add(key)

    def take_touched(self) -> dict[str, set[tuple[Any, ...]]]:
        touched, self._touched = dict(self._touched), defaultdict(set)
        return touched

    def clear_family(self, family: str) -> None:
        """Drop every cell of a family, marking each for writing (as deleted unless re-added)."""
        cells = self.cells[family]
        for key in [key for key, _ in cells.entries()]:
            self._touched[family].add(key)
            cells.put(key, None)

    def snapshot(self) -> dict[str, dict[tuple[Any, ...], list[int]]]:
        """Every cell of every family (a full scan: for tests and checks)."""
        return {name: dict(cells.entries()) for name, cells in self.cells.items()}

    def size(self) -> int:
        """Cells held (a full scan of the store: for reports, not for the hot path)."""
        return sum(sum(1 for _ in cells.entries()) for cells in self.cells.values())
