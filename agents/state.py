"""The engine's view of the source tables: projections by primary key, versions, and reverse indexes,
kept in bounded-memory spaces over the store (`agents.spaces`): at any history length only the recently
used rows are in memory, the rest are read back on demand.

Contract:
- `put(table, key, projection | None, version)` makes the state hold the row (None = deleted) and keeps
  every reverse index consistent with it.
- `is_stale(table, key, version)` tells a change that is not newer than what the state already holds
  (a replay after recovery); applying it again would move the state backwards.
- `dependents(table, key, old, new)` names every fact root whose contribution reads this row, judged by
  the state BEFORE the change is put. Called before `put`, it lets the engine capture each root's old
  contribution while the root's inputs are still untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from agents.projections import SHAPES, Line, Stop
from agents.spaces import IndexSpace, Space, Spaces
from agents.store import MemoryStore

# A fact root: the unit whose contribution to the aggregates is recomputed as a whole.
Root = tuple[str, Any]
Key = Any
Projection = tuple[Any, ...]

# Reverse index name -> (table it indexes, the projection field naming the parent key).
INDEXES: dict[str, tuple[str, str]] = {
    "lines_of_order": ("w200.order_detail", "order_id"),
    "lines_of_product": ("w200.order_detail", "product_id"),
    "orders_of_customer": ("w200.order_master", "customer_id"),
    "orders_of_branch": ("w200.order_master", "branch"),
    "payments_of_invoice": ("w500.payment_record", "invoice_id"),
    "stops_of_dispatch": ("w700.route_detail", "dispatch_id"),
    "stops_of_order": ("w700.route_detail", "order_id"),
    "assignments_of_dispatch": ("w700.driver_assignment", "dispatch_id"),
}

# Store tags (persisted: never renumber). Rows of a table: 1–31; indexes: 32–63 (aggregates use 64–95).
ROW_TAGS: dict[str, int] = {
    "w200.order_master": 1, "w200.order_detail": 2, "w110.product_master": 3, "w100.customer_master": 4,
    "w110.branch": 5, "w500.invoice_header": 6, "w500.payment_record": 7, "w300.stock_movement": 8,
    "w300.warehouse_stock": 9, "w700.dispatch_master": 10, "w700.route_detail": 11, "w700.driver_assignment": 12,
}
INDEX_TAGS: dict[str, int] = {
    "lines_of_order": 32, "lines_of_product": 33, "orders_of_customer": 34, "orders_of_branch": 35,
    "payments_of_invoice": 36, "stops_of_dispatch": 37, "stops_of_order": 38, "assignments_of_dispatch": 39,
}


def _row_space(spaces: Spaces, table: str, capacity: int) -> Space:
    shape = SHAPES[table]

    def dump(value: tuple[int, Projection | None]) -> Any:
        version, projection = value
        return (version, None if projection is None else tuple(projection))

    def load(raw: Any) -> tuple[int, Projection | None]:
        version, fields = raw
        return (version, None if fields is None else shape._make(fields))  # type: ignore[attr-defined]

    return Space(spaces, ROW_TAGS[table], capacity, dump, load)


class State:
    """Projections of every row an aggregate reads (with each row's version), plus the indexes from
    parents to children, held in `spaces` (a bounded cache over the store, `agents.spaces`)."""

    def __init__(self, spaces: Spaces | None = None, *, capacity: int = 1_000_000_000) -> None:
        self.spaces = spaces if spaces is not None else Spaces(MemoryStore())
        self._rows = {table: _row_space(self.spaces, table, capacity) for table in SHAPES}
        self.index = {name: IndexSpace(self.spaces, INDEX_TAGS[name], capacity) for name in INDEXES}
        self._indexes_of: dict[str, list[tuple[str, str]]] = {}
        for name, (table, field) in INDEXES.items():
            self._indexes_of.setdefault(table, []).append((name, field))

    def get(self, table: str, key: Key) -> Any:
        held = self._rows[table].get(key)
        return None if held is None else held[1]

    def keys(self, table: str) -> Iterator[Key]:
        """Every key of `table` present now (deleted rows excluded)."""
        return (key for key, (_, projection) in self._rows[table].entries() if projection is not None)

    def children(self, index: str, parent: Key) -> set[Key]:
        return self.index[index].children(parent)

    def is_stale(self, table: str, key: Key, version: int) -> bool:
        held = self._rows[table].get(key)
        return held is not None and version <= held[0]

    def put(self, table: str, key: Key, new: Projection | None, version: int) -> None:
        old = self.get(table, key)
        for name, field in self._indexes_of.get(table, ()):
            old_parent = None if old is None else getattr(old, field)
            new_parent = None if new is None else getattr(new, field)
            if old is not None and (new is None or old_parent != new_parent):
                self.index[name].discard(old_parent, key)
            if new is not None and (old is None or old_parent != new_parent):
                self.index[name].add(new_parent, key)
        # A deleted row keeps its version, so a replayed older change of it stays stale.
        self._rows[table].put(key, (version, new))

    def dependents(self, table: str, key: Key, old: Any, new: Any) -> set[Root]:
        """The fact roots that read row `key` of `table` (before the change from `old` to `new`)."""
        finder = _DEPENDENTS.get(table)
        return set() if finder is None else set(finder(self, key, [p for p in (old, new) if p is not None]))


def _orders_via(index: str) -> Callable[[State, Key, list[Any]], Iterable[Root]]:
    def find(state: State, key: Key, _images: list[Any]) -> Iterable[Root]:
        return (("order", order_id) for order_id in state.children(index, key))
    return find


def _orders_of_product(state: State, key: Key, _images: list[Any]) -> Iterable[Root]:
    lines = (state.get("w200.order_detail", line_id) for line_id in state.children("lines_of_product", key))
    return {("order", line.order_id) for line in lines if isinstance(line, Line)}


def _order(state: State, key: Key, _images: list[Any]) -> Iterable[Root]:
    yield ("order", key)
    for stop_id in state.children("stops_of_order", key):
        stop: Stop = state.get("w700.route_detail", stop_id)
        yield ("dispatch", stop.dispatch_id)


def _payment(state: State, key: Key, images: list[Any]) -> Iterable[Root]:
    yield ("payment", key)
    for image in images:
        yield ("invoice", image.invoice_id)


def _parents(root: str, field: str) -> Callable[[State, Key, list[Any]], Iterable[Root]]:
    def find(state: State, key: Key, images: list[Any]) -> Iterable[Root]:
        return ((root, getattr(image, field)) for image in images)
    return find


def _itself(root: str) -> Callable[[State, Key, list[Any]], Iterable[Root]]:
    def find(state: State, key: Key, _images: list[Any]) -> Iterable[Root]:
        return ((root, key),)
    return find


_DEPENDENTS: dict[str, Callable[[State, Key, list[Any]], Iterable[Root]]] = {
    "w200.order_master": _order,
    "w200.order_detail": _parents("order", "order_id"),
    "w110.product_master": _orders_of_product,
    "w100.customer_master": _orders_via("orders_of_customer"),
    "w110.branch": _orders_via("orders_of_branch"),
    "w500.invoice_header": _itself("invoice"),
    "w500.payment_record": _payment,
    "w300.stock_movement": _itself("movement"),
    "w300.warehouse_stock": _itself("stock"),
    "w700.dispatch_master": _itself("dispatch"),
    "w700.route_detail": _parents("dispatch", "dispatch_id"),
    "w700.driver_assignment": _parents("dispatch", "dispatch_id"),
}
