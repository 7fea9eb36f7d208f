"""Report results kept for `ttl_seconds` (the spec's 15 minutes), per report, parameters, format and caller scope.

Contract: `cache_key(report_id, values, fmt, scope, version)` is a hex digest of everything that decides a
result: the report, its parameter values, the format, the caller's effective scope (role, branches — so two
branches never share an entry — masked kinds and money rights) and the data version of the tables it reads
(`api.reports.freshness`), so an entry is never served after a change to its data was applied. It is also the
response's ETag. `ResultCache.get/put` are thread-safe; entries larger than `max_entry_bytes` are not kept.
Each API process keeps its own entries (a hit needs no network); the key's data version keeps them equally fresh.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cachetools import TTLCache

from api.access.rows import RowScope


@dataclass(frozen=True, slots=True)
class CachedResult:
    body: bytes
    media_type: str
    rows: int
    as_of: datetime | None
    last_modified: datetime | None


def scope_key(scope: RowScope) -> dict[str, Any]:
    """What of the caller decides what a report shows it."""
    role = scope.role
    branches = scope.principal.branches
    return {"role": role.name, "branches": None if branches is None else sorted(branches),
            "masked": sorted(role.masked), "money": role.money}


def cache_key(report_id: str, values: Mapping[str, Any], fmt: str, scope: RowScope, version: str) -> str:
    material = {"report": report_id, "values": dict(values), "format": fmt, "scope": scope_key(scope),
                "data": version}
    return hashlib.sha256(orjson.dumps(material, default=str, option=orjson.OPT_SORT_KEYS)).hexdigest()[:40]


class ResultCache:
    """A bounded in-process cache of rendered results (see the module docstring)."""

    def __init__(self, ttl_seconds: float = 900, max_entries: int = 512, max_entry_bytes: int = 4 << 20) -> None:
        self._entries: TTLCache[str, CachedResult] = TTLCache(maxsize=max_entries, ttl=ttl_seconds)
        self._lock = threading.Lock()
        self.max_entry_bytes = max_entry_bytes
        self.hits = self.misses = 0

    def get(self, key: str) -> CachedResult | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
            return found

    def put(self, key: str, result: CachedResult) -> None:
        if len(result.body) > self.max_entry_bytes:
            return
        with self._lock:
            self._entries[key] = result
