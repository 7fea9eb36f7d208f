"""A global send-rate limit shared by every worker process through Redis (sliding-window log, Lua, atomic).

Contract: at most `limit` gateway requests in ANY sliding window of `window_s` seconds, across all processes
that use the same Redis key, measured at the gateway. How, and why it holds at the gateway:
- `acquire` (one Lua script: prune, count, add) grants a slot when fewer than `limit` entries are still
  "in the window". A granted entry is stored with score = now + lease: while a request is in flight it
  counts as if it happened in the future, so it blocks new slots until it is released.
- `release` (Lua) re-scores the entry to the Redis time AFTER the response arrived. The gateway saw the
  request between acquire and release, so every entry's score is >= the time the gateway saw it. If some
  window of `window_s` at the gateway held limit+1 requests, the last one to be granted would have seen all
  the others still counting (in flight, or released less than `window_s` before) and been refused.
- Time comes from the Redis server (TIME, in microseconds), one clock for every process. The carrier counts
  on its own clock, and a wall clock can be stepped (NTP, a VM's host sync): the window we keep is
  `GUARD_FRACTION` longer than the carrier's, so a step of up to that much never lets limit+1 requests into
  one of its windows (seen once: 101 in a 3 s window at the gateway, with 429s, without the guard). It costs
  the same fraction of throughput (98 of 100 per minute).
- A worker that dies mid-request leaves its entry to expire after lease + window: the slot is lost for that
  long, never double-counted.
- Redis unreachable: `RateLimiterUnavailable` (fail closed: without the shared count we cannot promise
  the limit).
Retries are new gateway requests, so each attempt takes its own slot.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from connectors.sms.errors import RateLimiterUnavailable, RateLimitTimeout

# KEYS[1] = the window's sorted set. ARGV: limit, window_us, lease_us, member.
# Returns {1, now_us} when granted; {0, wait_us} when refused (wait_us = -1: the blocking entry is still in
# flight, so its end is unknown: poll).
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil((window + lease) / 1000))
  return {1, now}
end
local kth = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
local score = tonumber(kth[2])
if score > now then
  return {0, -1}
end
return {0, score + window - now + 1}
"""

# KEYS[1] = the window's sorted set. ARGV: window_us, lease_us, member. Re-scores the entry to now.
_RELEASE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[1]) + tonumber(ARGV[2])) / 1000))
return now
"""


class RateLimiter(Protocol):
    """Grants send slots: `acquire` before one gateway request, `release(token)` once its answer is in."""

    async def acquire(self) -> str: ...

    async def release(self, token: str) -> None: ...


@asynccontextmanager
async def held_slot(limiter: RateLimiter) -> AsyncIterator[None]:
    """Hold one slot around one gateway request; released even when the request fails or is cancelled."""
    token = await limiter.acquire()
    try:
        yield
    finally:
        # Shielded so a cancelled sender still releases (else its slot would count for a whole lease).
        await asyncio.shield(limiter.release(token))


GUARD_FRACTION = 0.02


class RedisSlidingWindowLimiter:
    """The shared limiter (see module contract). One instance per process; safe for many concurrent tasks."""

    def __init__(
        self,
        redis: Redis[Any],
        key: str,
        *,
        limit: int,
        window_s: float,
        lease_s: float,
        wait_timeout_s: float,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window_s <= 0 or lease_s <= 0:
            raise ValueError("limit, window_s and lease_s must be positive")
        self._redis = redis
        self._key = key
        self._limit = limit
        self._window_us = round(window_s * (1 + GUARD_FRACTION) * 1_000_000)  # see the module contract
        self._lease_us = round(lease_s * 1_000_000)
        self._wait_timeout_s = wait_timeout_s
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._acquire = redis.register_script(_ACQUIRE_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    async def acquire(self) -> str:
        """Wait for a slot and return its token; RateLimitTimeout after `wait_timeout_s`."""
        member = uuid.uuid4().hex
        deadline = time.monotonic() + self._wait_timeout_s
        while True:
            granted, value = await self._call(self._acquire, [self._limit, self._window_us, self._lease_us, member])
            if granted:
                return member
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RateLimitTimeout(f"no SMS send slot free within {self._wait_timeout_s:.0f}s")
            await self._sleep(min(self._pause(value), remaining))

    async def release(self, token: str) -> None:
        """Mark the request of slot `token` as finished now (its window starts counting from here)."""
        await self._call(self._release, [self._window_us, self._lease_us, token])

    async def in_window(self) -> int:
        """How many entries count right now (in flight or within the window); for status pages and tests."""
        try:
            now_s, now_us = await self._redis.time()
            now = now_s * 1_000_000 + now_us
            return int(await self._redis.zcount(self._key, f"({now - self._window_us}", "+inf"))
        except RedisError as exc:
            raise RateLimiterUnavailable(f"Redis unreachable for the SMS rate limit: {exc}") from exc

    def _pause(self, wait_us: int) -> float:
        # A little jitter so the workers that were all waiting for the same entry do not hit Redis at once.
        if wait_us < 0:
            return self._rng.uniform(0.005, 0.02)
        return wait_us / 1_000_000 + self._rng.uniform(0.0, 0.005)

    async def _call(self, script: AsyncScript, args: list[str | int]) -> tuple[bool, int]:
        try:
            result = await script(keys=[self._key], args=args)
        except RedisError as exc:
            raise RateLimiterUnavailable(f"Redis unreachable for the SMS rate limit: {exc}") from exc
        if isinstance(result, list):
            return bool(result[0]), int(result[1])
        return True, int(result)


def max_in_window(timestamps: Sequence[float], window_s: float) -> int:
    """The most events any half-open window (t - window_s, t] holds: the number to compare with the limit.

    Pure; `timestamps` in seconds, any order. Empty input gives 0.
    """
    ordered = sorted(timestamps)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window_s:
            start += 1
        best = max(best, end - start + 1)
    return best
