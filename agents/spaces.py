"""Keyed maps over a `Store` that keep only a bounded number of entries in memory.

Contract:
- A `Space` is a map (key -> Python value) and an `IndexSpace` a multimap (parent -> set of children), each
  under its own one-byte tag in one shared store. Reads see every write made so far, committed or not.
- Writes are PINNED in memory until the batch that made them is committed: `Spaces.stage()` snapshots the
  bytes of everything written since the previous stage (the engine stages after each batch), and
  `Spaces.commit(staged, meta)` writes that snapshot (plus `meta` entries, e.g. Kafka positions) atomically,
  then unpins what no later write has changed again. The store therefore always holds the state as it was
  after some whole batch, never part of one, even while the next batch is being applied.
- Unpinned entries stay in a least-recently-used cache of at most `capacity` entries per space and are
  read back from the store when needed again: memory is bounded by the capacities and by what is pinned
  (one or two batches), not by how much history the store holds.
Keys and values are encoded with marshal version 2 (deterministic: no back-references), keys behind the tag.
"""

from __future__ import annotations

import marshal
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.store import Entry, Store

_MISSING = object()


def encode(value: Any) -> bytes:
    return marshal.dumps(value, 2)


def decode(raw: bytes) -> Any:
    return marshal.loads(raw)


@dataclass
class Staged:
    """One batch's state, serialised and waiting for its data to be written before it is committed."""

    seq: int
    entries: list[Entry] = field(default_factory=list)
    keys: dict[int, list[Any]] = field(default_factory=dict)  # space number -> keys staged


class Space:
    """A map whose entries beyond `capacity` live only in the store. A value of None means absent."""

    def __init__(self, spaces: Spaces, tag: int, capacity: int,
                 dump: Callable[[Any], Any] = lambda v: v, load: Callable[[Any], Any] = lambda v: v) -> None:
        self._spaces = spaces
        self.prefix = bytes([tag])
        self.capacity = capacity
        self._dump, self._load = dump, load
        self._clean: OrderedDict[Any, Any] = OrderedDict()
        self._pinned: dict[Any, tuple[Any, int]] = {}  # key -> (value, seq of the stage it belongs to)
        self._dirty: set[Any] = set()
        self.number = spaces.register(self)

    def get(self, key: Any) -> Any:
        pinned = self._pinned.get(key, _MISSING)
        if pinned is not _MISSING:
            return pinned[0]  # type: ignore[index]
        value = self._clean.get(key, _MISSING)
        if value is not _MISSING:
            self._clean.move_to_end(key)
            return value
        raw = self._spaces.store.get(self.prefix + encode(key))
        value = None if raw is None else self._load(decode(raw))
        self._keep(key, value)
        return value

    def put(self, key: Any, value: Any) -> None:
        """Set (or with None, delete) `key`; pinned until the stage holding it is committed."""
        self._clean.pop(key, None)
        self._pinned[key] = (value, self._spaces.seq)
        self._dirty.add(key)

    def entries(self) -> Iterator[tuple[Any, Any]]:
        """Every present (key, value), store and pinned writes merged, in no particular order; values read
        from the store are not cached (a scan would flush the cache)."""
        pinned = dict(self._pinned)
        for key, (value, _) in pinned.items():
            if value is not None:
                yield key, value
        for raw_key, raw in self._spaces.store.scan(self.prefix):
            key = decode(raw_key[1:])
            if key not in pinned:
                yield key, self._load(decode(raw))

    def clear(self) -> None:
        """Delete every key (each becomes a pinned deletion)."""
        for key in [key for key, _ in self.entries()]:
            self.put(key, None)

    def _keep(self, key: Any, value: Any) -> None:
        self._clean[key] = value
        if len(self._clean) > self.capacity:
            self._clean.popitem(last=False)

    def stage(self, staged: Staged) -> None:
        keys = list(self._dirty)
        self._dirty.clear()
        for key in keys:
            value = self._pinned[key][0]
            staged.entries.append((self.prefix + encode(key), None if value is None else encode(self._dump(value))))
        staged.keys[self.number] = keys

    def release(self, keys: list[Any], seq: int) -> None:
        for key in keys:
            pinned = self._pinned.get(key)
            if pinned is not None and pinned[1] <= seq:
                del self._pinned[key]
                self._keep(key, pinned[0])

    def memory_entries(self) -> int:
        return len(self._clean) + len(self._pinned)


class IndexSpace:
    """Parent -> set of children, stored one entry per (parent, child). Sets of up to `largest_cached`
    children are cached whole, at most `capacity` children in all (a customer's orders grow with history,
    so the cache is bounded by children, not parents); larger sets (every line of a product) are read from
    the store each time."""

    def __init__(self, spaces: Spaces, tag: int, capacity: int, *, largest_cached: int = 2_048) -> None:
        self._spaces = spaces
        self.prefix = bytes([tag])
        self.capacity = capacity
        self.largest_cached = largest_cached
        self._clean: OrderedDict[Any, set[Any]] = OrderedDict()
        self._cached_children = 0
        self._pending: dict[Any, dict[Any, tuple[bool, int]]] = {}  # parent -> child -> (present, seq)
        self._dirty: set[tuple[Any, Any]] = set()
        self.number = spaces.register(self)

    def children(self, parent: Any) -> set[Any]:
        """A fresh set: callers may keep it while the index changes."""
        base = self._clean.get(parent)
        if base is not None:
            self._clean.move_to_end(parent)
            found = set(base)
        else:
            found = self._read(parent)
        for child, (present, _) in self._pending.get(parent, {}).items():
            if present:
                found.add(child)
            else:
                found.discard(child)
        return found

    def _read(self, parent: Any) -> set[Any]:
        prefix = self.prefix + encode(parent)
        found = {decode(raw_key[len(prefix):]) for raw_key, _ in self._spaces.store.scan(prefix)}
        if parent not in self._pending and len(found) <= min(self.largest_cached, self.capacity):
            self._clean[parent] = set(found)
            self._cached_children += len(found)
            self._evict()
        return found

    def _evict(self) -> None:
        while self._cached_children > self.capacity:
            _, evicted = self._clean.popitem(last=False)
            self._cached_children -= len(evicted)

    def add(self, parent: Any, child: Any) -> None:
        self._change(parent, child, True)

    def discard(self, parent: Any, child: Any) -> None:
        self._change(parent, child, False)

    def _change(self, parent: Any, child: Any, present: bool) -> None:
        cached = self._clean.get(parent)
        if cached is not None:
            before = len(cached)
            (cached.add if present else cached.discard)(child)
            self._cached_children += len(cached) - before
            if len(cached) > self.largest_cached:  # it grew past what is cached whole: read it from the store
                del self._clean[parent]
                self._cached_children -= len(cached)
            self._evict()  # a cached set that grows counts against the bound too
        self._pending.setdefault(parent, {})[child] = (present, self._spaces.seq)
        self._dirty.add((parent, child))

    def stage(self, staged: Staged) -> None:
        keys = list(self._dirty)
        self._dirty.clear()
        for parent, child in keys:
            present = self._pending[parent][child][0]
            staged.entries.append((self.prefix + encode(parent) + encode(child), b"" if present else None))
        staged.keys[self.number] = keys

    def release(self, keys: list[Any], seq: int) -> None:
        for parent, child in keys:
            pending = self._pending.get(parent)
            if pending is None:
                continue
            op = pending.get(child)
            if op is not None and op[1] <= seq:
                del pending[child]
                if not pending:
                    del self._pending[parent]

    def memory_entries(self) -> int:
        return self._cached_children + sum(len(p) for p in self._pending.values())


class Spaces:
    """The spaces sharing one store, and the staging that keeps the store a whole-batch snapshot."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seq = 1
        self._members: list[Space | IndexSpace] = []

    def register(self, space: Space | IndexSpace) -> int:
        self._members.append(space)
        return len(self._members) - 1

    def stage(self) -> Staged:
        staged = Staged(self.seq)
        for space in self._members:
            space.stage(staged)
        self.seq += 1
        return staged

    def commit(self, staged: Staged, meta: Sequence[Entry] = ()) -> None:
        self.store.write([*staged.entries, *meta])
        for number, keys in staged.keys.items():
            self._members[number].release(keys, staged.seq)

    def memory_entries(self) -> int:
        return sum(space.memory_entries() for space in self._members)
