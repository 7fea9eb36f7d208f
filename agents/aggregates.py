"""The aggregate families, their keys and measures, and the in-memory cells the engine keeps exact.

Contract: every measure is an integer (cents, counts, tenths of a km), so adding a contribution and later
subtracting the same contribution returns a cell to exactly where it was. `Aggregates.add(family, key,
values, sign)` applies one contribution; a cell whose measures are all zero is removed (and later written
as deleted). `take_touched()` returns, and forgets, the keys changed since the last call: the engine
writes those keys' ABSOLUTE values, so a write repeated after a crash is harmless.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from infra.clock import TAIPEI
from schemas.types import EPOCH_DAY


@dataclass(frozen=True)
class Family:
    """An aggregate family: ClickHouse table `agg_<name>`, key columns (name, ClickHouse type), measures."""

    name: str
    keys: tuple[tuple[str, str], ...]
    measures: tuple[str, ...]

    @property
    def table(self) -> str:
        return f"agg_{self.name}"

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.keys)

    def to_columns(self, key: tuple[Any, ...]) -> tuple[Any, ...]:
        """Engine key (day numbers, epoch seconds) -> column values (dates, aware datetimes)."""
        return tuple(_CONVERT_OUT.get(kind, _same)(value) for (_, kind), value in zip(self.keys, key, strict=True))

    def from_columns(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """Column values read back from a sink -> engine key."""
        return tuple(_CONVERT_IN.get(kind, _same)(value) for (_, kind), value in zip(self.keys, values, strict=True))


def _same(value: Any) -> Any:
    return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_CONVERT_OUT: dict[str, Callable[[Any], Any]] = {
    "Date32": lambda day: EPOCH_DAY + timedelta(days=day),
    "DateTime('Asia/Taipei')": lambda instant: datetime.fromtimestamp(instant, UTC),
}
_CONVERT_IN: dict[str, Callable[[Any], Any]] = {
    "Date32": lambda d: (d - EPOCH_DAY).days,
    "DateTime('Asia/Taipei')": lambda t: int(_aware(t).timestamp()),
}


SALES = Family("sales", (("grain", "LowCardinality(String)"), ("bucket", "DateTime('Asia/Taipei')"),
                         ("dimension", "LowCardinality(String)"), ("member", "String")),
               ("net_cents", "tax_cents", "orders", "quantity", "cylinders"))
FULFILMENT = Family("fulfilment", (("day", "Date32"), ("branch", "LowCardinality(String)")),
                    ("due", "delivered", "on_time", "cancelled"))
RECEIVABLES = Family("receivables", (("customer_id", "Int64"),),
                     ("invoiced_cents", "paid_cents", "outstanding_cents", "age_0_30_cents", "age_31_60_cents",
                      "age_61_90_cents", "age_over_90_cents", "open_invoices"))
COLLECTIONS = Family("collections", (("day", "Date32"),), ("amount_cents", "payments"))
STOCK = Family("stock", (("warehouse", "LowCardinality(String)"), ("product_id", "Int64")),
               ("qty_full", "qty_empty", "reorder_point", "safety_stock", "movements"))
ROUTE = Family("route", (("day", "Date32"), ("branch", "LowCardinality(String)"), ("dispatch_id", "Int64"),
                         ("driver_id", "Int64")),
               ("stops", "delivered", "on_time", "failed", "planned_km_tenths", "actual_km_tenths"))
DRIVER_DAY = Family("driver_day", (("day", "Date32"), ("driver_id", "Int64")),
                    ("routes", "stops", "delivered", "on_time", "km_tenths"))

FAMILIES: dict[str, Family] = {f.name: f for f in (SALES, FULFILMENT, RECEIVABLES, COLLECTIONS, STOCK, ROUTE,
                                                    DRIVER_DAY)}

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


class Aggregates:
    """Integer cells per family and key, and which keys changed since they were last written."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[tuple[Any, ...], list[int]]] = {name: {} for name in FAMILIES}
        self._touched: dict[str, set[tuple[Any, ...]]] = defaultdict(set)

    def add(self, family: str, key: tuple[Any, ...], values: list[int], sign: int) -> None:
        cells = self.cells[family]
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = [0] * len(values)
        for i, value in enumerate(values):
            cell[i] += sign * value
        if not any(cell):
            del cells[key]
        self._touched[family].add(key)

    def get(self, family: str, key: tuple[Any, ...]) -> list[int] | None:
        return self.cells[family].get(key)

    def touch(self, family: str, key: tuple[Any, ...]) -> None:
        """Mark a key for writing although its measures did not change (e.g. a window just closed)."""
        self._touched[family].add(key)

    def take_touched(self) -> dict[str, set[tuple[Any, ...]]]:
        touched, self._touched = dict(self._touched), defaultdict(set)
        return touched

    def clear_family(self, family: str) -> None:
        """Drop every cell of a family, marking each for writing (as deleted unless re-added)."""
        for key in self.cells[family]:
            self._touched[family].add(key)
        self.cells[family] = {}

    def size(self) -> int:
        return sum(len(c) for c in self.cells.values())
