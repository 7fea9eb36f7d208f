"""The engine's view of the source tables: projections by primary key, versions, and reverse indexes.

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

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from agents.projections import Line, Stop

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


class State:
    """Projections of every row an aggregate reads, plus the indexes from parents to children."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[Key, Any]] = defaultdict(dict)
        self.versions: dict[str, dict[Key, int]] = defaultdict(dict)
        self.index: dict[str, dict[Key, set[Key]]] = {name: defaultdict(set) for name in INDEXES}
        self._indexes_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for name, (table, field) in INDEXES.items():
            self._indexes_of[table].append((name, field))

    def get(self, table: str, key: Key) -> Any:
        return self.rows[table].get(key)

    def children(self, index: str, parent: Key) -> set[Key]:
        found = self.index[index].get(parent)
        return found if found is not None else set()

    def is_stale(self, table: str, key: Key, version: int) -> bool:
        held = self.versions[table].get(key)
        return held is not None and version <= held

    def put(self, table: str, key: Key, new: Projection | None, version: int) -> None:
        old = self.rows[table].get(key)
        for name, field in self._indexes_of.get(table, ()):
            if old is not None:
                parent = getattr(old, field)
                children = self.index[name].get(parent)
                if children is not None:
                    children.discard(key)
                    if not children:
                        del self.index[name][parent]
            if new is not None:
                self.index[name][getattr(new, field)].add(key)
        if new is None:
            self.rows[table].pop(key, None)
        else:
            self.rows[table][key] = new
        self.versions[table][key] = version

    def dependents(self, table: str, key: Key, old: Any, new: Any) -> set[Root]:
        """The fact roots that read row `key` of `table` (before the change from `old` to `new`)."""
        finder = _DEPENDENTS.get(table)
        return set() if finder is None else set(finder(self, key, [p for p in (old, new) if p is not None]))


def _orders_via(index: str) -> Callable[[State, Key, list[Any]], Iterable[Root]]:
    def find(state: State, key: Key, _images: list[Any]) -> Iterable[Root]:
        return (("order", order_id) for order_id in state.children(index, key))
    return find


def _orders_of_product(state: State, key: Key, _images: list[Any]) -> Iterable[Root]:
    lines: dict[Key, Line] = state.rows["w200.order_detail"]
    return {("order", lines[line_id].order_id) for line_id in state.children("lines_of_product", key)}


def _order(state: State, key: Key, _images: list[Any]) -> Iterable[Root]:
    stops: dict[Key, Stop] = state.rows["w700.route_detail"]
    yield ("order", key)
    for stop_id in state.children("stops_of_order", key):
        yield ("dispatch", stops[stop_id].dispatch_id)


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
