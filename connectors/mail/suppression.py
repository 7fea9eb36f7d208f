"""The suppression list: addresses we never mail again (after a permanent bounce, or by hand).

Contract of every `SuppressionList`:
- Keys are normalized addresses (`addresses.normalize_address`): case and display names do not matter.
- `add(entry)` returns True when the address was not suppressed before; a second add keeps the FIRST
  entry (its reason and time are the evidence of why we stopped).
- `suppressed_among(addresses)` returns the subset that is suppressed, in one round trip, so the sender
  checks a whole recipient list before it connects.
- `remove(address)` lifts a suppression (e.g. the mailbox was fixed); True when there was one.
Implementations: `InMemorySuppressionList` (tests, single process) and `RedisSuppressionList` (shared by
every worker; one hash, field = address, value = JSON entry; entries never expire: a mailbox that does not
exist does not come back by waiting).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from connectors.mail.addresses import normalize_address


@dataclass(frozen=True, slots=True)
class SuppressionEntry:
    """Why and since when an address is suppressed. `status`: the DSN status code (e.g. 5.1.1), if any."""

    address: str
    reason: str
    suppressed_at: datetime
    status: str | None = None
    source: str = "bounce"

    def __post_init__(self) -> None:
        if self.suppressed_at.tzinfo is None:
            raise ValueError("suppressed_at must be timezone-aware")
        object.__setattr__(self, "address", normalize_address(self.address))

    def to_json(self) -> str:
        return json.dumps(
            {
                "address": self.address,
                "reason": self.reason,
                "suppressed_at": self.suppressed_at.isoformat(),
                "status": self.status,
                "source": self.source,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> SuppressionEntry:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            address=data["address"],
            reason=data["reason"],
            suppressed_at=datetime.fromisoformat(data["suppressed_at"]),
            status=data.get("status"),
            source=data.get("source", "bounce"),
        )


class SuppressionList(Protocol):
    """Addresses never to mail (see module contract)."""

    async def add(self, entry: SuppressionEntry) -> bool: ...

    async def get(self, address: str) -> SuppressionEntry | None: ...

    async def suppressed_among(self, addresses: Iterable[str]) -> set[str]: ...

    async def remove(self, address: str) -> bool: ...


class InMemorySuppressionList:
    """A process-local suppression list."""

    def __init__(self) -> None:
        self._entries: dict[str, SuppressionEntry] = {}
        self._lock = asyncio.Lock()

    async def add(self, entry: SuppressionEntry) -> bool:
        async with self._lock:
            if entry.address in self._entries:
                return False
            self._entries[entry.address] = entry
            return True

    async def get(self, address: str) -> SuppressionEntry | None:
        return self._entries.get(normalize_address(address))

    async def suppressed_among(self, addresses: Iterable[str]) -> set[str]:
        return {key for key in (normalize_address(a) for a in addresses) if key in self._entries}

    async def remove(self, address: str) -> bool:
        async with self._lock:
            return self._entries.pop(normalize_address(address), None) is not None


class RedisSuppressionList:
    """A suppression list in one Redis hash `<prefix>:suppressed`, shared by every worker."""

    def __init__(self, redis: Redis[Any], key_prefix: str) -> None:
        self._redis = redis
        self.key = f"{key_prefix}:suppressed"

    async def add(self, entry: SuppressionEntry) -> bool:
        # HSETNX: atomic first-writer-wins, so concurrent bounce processors keep one entry.
        added = await self._redis.hsetnx(self.key, entry.address, entry.to_json())
        return bool(added)

    async def get(self, address: str) -> SuppressionEntry | None:
        raw = await self._redis.hget(self.key, normalize_address(address))
        return None if raw is None else SuppressionEntry.from_json(raw)

    async def suppressed_among(self, addresses: Iterable[str]) -> set[str]:
        keys = list(dict.fromkeys(normalize_address(a) for a in addresses))
        if not keys:
            return set()
        values = await self._redis.hmget(self.key, keys)
        return {key for key, value in zip(keys, values, strict=True) if value is not None}

    async def remove(self, address: str) -> bool:
        removed = await self._redis.hdel(self.key, normalize_address(address))
        return bool(removed)
