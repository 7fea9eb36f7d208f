"""Where the engine's state lives between batches: a byte-keyed store, in memory or on disk (RocksDB).

Contract:
- `get(key)` returns the bytes last written under `key`, or None; `scan(prefix)` yields every (key, value)
  whose key starts with `prefix`, in key order.
- `write(entries)` applies puts (value bytes) and deletes (value None) ATOMICALLY: after a crash the store
  holds all of one `write` or none of it, and every earlier `write`. The engine writes one batch's state
  together with the Kafka positions it reached, so the state on disk always matches a position.
- `wipe()` removes everything (a rebuild, or state that no longer matches ClickHouse).
`RocksStore` keeps a bounded block cache and write buffers: its memory does not grow with what it holds.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

Entry = tuple[bytes, bytes | None]


class Store(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...

    def write(self, entries: Iterable[Entry]) -> None: ...

    def wipe(self) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """A dict: for tests and for a worker run without a state directory (state then lives only in memory)."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(k for k in self.data if k.startswith(prefix)):
            yield key, self.data[key]

    def write(self, entries: Iterable[Entry]) -> None:
        for key, value in entries:
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value

    def wipe(self) -> None:
        self.data.clear()

    def close(self) -> None:
        return None


class RocksStore:
    """RocksDB through `rocksdict`, in raw-bytes mode, with memory bounded by `cache_mib`."""

    def __init__(self, path: Path, *, cache_mib: int = 64) -> None:
        self.path = path
        self.cache_mib = cache_mib
        self._db = self._open()

    def _open(self) -> Any:  # rocksdict ships no type stubs
        from rocksdict import BlockBasedOptions, Cache, Options, Rdict

        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        table = BlockBasedOptions()
        table.set_block_cache(Cache(self.cache_mib * 1024 * 1024))
        options.set_block_based_table_factory(table)
        options.set_write_buffer_size(16 * 1024 * 1024)
        options.set_max_write_buffer_number(2)
        options.set_max_open_files(256)
        return Rdict(str(self.path), options)

    def get(self, key: bytes) -> bytes | None:
        value = self._db.get(key)
        return None if value is None else bytes(value)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._db.items(from_key=prefix):
            if not key.startswith(prefix):
                return
            yield bytes(key), bytes(value)

    def write(self, entries: Iterable[Entry]) -> None:
        from rocksdict import WriteBatch

        batch = WriteBatch(raw_mode=True)
        for key, value in entries:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self._db.write(batch)

    def wipe(self) -> None:
        self._db.close()
        shutil.rmtree(self.path, ignore_errors=True)
        self._db = self._open()

    def close(self) -> None:
        self._db.close()
